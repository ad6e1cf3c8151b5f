/**
 * Data-parallel ECN step time on this machine: one process with T threads against T processes
 * with one thread each (c10d/Gloo on loopback), the same global batch, and the time per step
 * spent in collectives (gradient all-reduce, the target batch's all-gather, the buffer broadcast
 * and the loss means). Synthetic images; the network, sizes and steps are flags.
 *
 * Usage: `deno task bench:dist [--arch resnet18] [--height 64] [--width 32] [--batch 32]
 *   [--steps 8] [--procs 2] [--features 512]` (batch: source and target images per step, in all)
 *
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import type { Batch } from "../src/data/loader.ts";
import { generateSyntheticDomains } from "../src/data/synthetic/mod.ts";
import { mulberry32 } from "../src/util/random.ts";
import { distAvailable, ProcessGroup } from "../src/dist/group.ts";
import { distEnvFrom } from "../src/dist/launch.ts";
import { mergeConfig, QUICK_OVERRIDES } from "../src/reid/config.ts";
import { Trainer } from "../src/reid/trainer.ts";
import { getNumThreads, torchVersion } from "../src/tensor/mod.ts";
import { median } from "./bench_common.ts";
import { configureFromEnv } from "../src/cli/env.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    arch: { type: "string", default: "resnet18" },
    height: { type: "string", default: "64" },
    width: { type: "string", default: "32" },
    batch: { type: "string", default: "32" },
    features: { type: "string", default: "512" },
    steps: { type: "string", default: "8" },
    procs: { type: "string", default: "2" },
    data: { type: "string" },
  },
});
const H = Number(values.height), W = Number(values.width);
const BATCH = Number(values.batch), STEPS = Number(values.steps), PROCS = Number(values.procs);
const WARMUP = 2;

/** One rank's measurement. */
interface Measure {
  threads: number;
  world: number;
  stepMs: number;
  commMs: number;
}

function batch(n: number, ids: number, seed: number, epoch: number): Batch {
  const rnd = mulberry32(seed);
  return {
    images: Float32Array.from({ length: n * 3 * H * W }, () => 2 * rnd() - 1),
    pids: Int32Array.from({ length: n }, () => Math.floor(rnd() * ids)),
    cams: new Int32Array(n),
    indices: Int32Array.from({ length: n }, () => Math.floor(rnd() * ids)),
    paths: [],
    size: n,
    height: H,
    width: W,
    epoch,
    batch: 0,
  };
}

async function measure(data: Record<string, string>, group?: ProcessGroup): Promise<Measure> {
  const world = group?.worldSize ?? 1;
  const local = BATCH / world;
  const cfg = mergeConfig({ ...QUICK_OVERRIDES }, {
    source: data.S,
    target: data.T,
    out: join(tmpdir(), "ecn-bench-dist-unused"),
    camera: false,
    arch: values.arch,
    numFeatures: Number(values.features),
    height: H,
    width: W,
    batchSize: local,
    targetBatchSize: local,
    neighborhoodFromEpoch: 0,
    workers: 0,
  });
  const t = await Trainer.create(cfg, { group });
  t.model.train();
  const ids = Math.min(t.source.numTrainIds, t.target!.train.length);
  const steps: number[] = [], comm: number[] = [];
  for (let s = 0; s < WARMUP + STEPS; s++) {
    const src = batch(local, ids, 1000 * s + (group?.rank ?? 0), 1);
    const tgt = batch(local, ids, 1000 * s + 500 + (group?.rank ?? 0), 1);
    group?.takeCommSeconds();
    const t0 = performance.now();
    t.step(src, tgt, 1);
    const ms = performance.now() - t0;
    if (s >= WARMUP) {
      steps.push(ms);
      comm.push(1000 * (group?.takeCommSeconds() ?? 0));
    }
  }
  t.dispose();
  return { threads: getNumThreads(), world, stepMs: median(steps), commMs: median(comm) };
}

async function child(): Promise<void> {
  const env = distEnvFrom(Deno.env.toObject())!;
  const data = JSON.parse(Deno.env.get("ECN_BENCH_DIST_DATA")!);
  const group = env.worldSize > 1 ? ProcessGroup.init({ ...env, timeoutSeconds: 600 }) : undefined;
  const m = await measure(data, group);
  group?.destroy();
  if (env.rank === 0) console.log("RESULT " + JSON.stringify(m));
}

async function run(procs: number, threads: number, data: Record<string, string>): Promise<Measure> {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  const outs = await Promise.all(
    Array.from({ length: procs }, (_, rank) =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", fileURLToPath(import.meta.url), ...Deno.args],
        env: {
          ECN_BENCH_DIST_DATA: JSON.stringify(data),
          ECN_NUM_THREADS: String(threads),
          RANK: String(rank),
          WORLD_SIZE: String(procs),
          MASTER_ADDR: "127.0.0.1",
          MASTER_PORT: String(port),
        },
        stdout: "piped",
        stderr: "piped",
      }).output()),
  );
  const text = outs.map((o) => new TextDecoder().decode(o.stdout)).join("");
  const line = text.split("\n").find((l) => l.startsWith("RESULT "));
  if (!line || outs.some((o) => !o.success)) {
    throw new Error(
      `bench_dist: ${procs} x ${threads} failed:\n${
        outs.map((o) => new TextDecoder().decode(o.stderr)).join("\n")
      }`,
    );
  }
  return JSON.parse(line.slice(7));
}

async function main(): Promise<void> {
  const { available, reason } = distAvailable();
  if (!available) {
    console.log(`bench_dist: skipped: ${reason}`);
    return;
  }
  if (BATCH % PROCS !== 0) throw new Error(`--batch ${BATCH} must be a multiple of --procs`);
  const dir = mkdtempSync(join(tmpdir(), "ecn-bench-dist-"));
  try {
    const dom = (name: string, style: "daylight" | "dim") => ({
      name,
      style,
      numCams: 2,
      trainIds: 32,
      testIds: 2,
      imagesPerTrainId: 4,
      distractors: 0,
      junk: 0,
    });
    const data = (await generateSyntheticDomains({
      outDir: join(dir, "data"),
      domains: [dom("S", "daylight"), dom("T", "dim")],
    })).domains;
    console.log(
      `ECN step, ${values.arch} ${H}x${W}, ${BATCH} source + ${BATCH} target images per step in ` +
        `all, BatchNorm in training mode, median of ${STEPS} steps (${torchVersion()}, ` +
        `${navigator.hardwareConcurrency} cores)`,
    );
    const one1 = await run(1, 1, data);
    const oneN = await run(1, PROCS, data);
    const many = await run(PROCS, 1, data);
    const ips = (m: Measure) => (2 * BATCH) / (m.stepMs / 1000);
    const row = (label: string, m: Measure) =>
      console.log(
        `${label.padEnd(34)} ${m.stepMs.toFixed(0).padStart(7)} ms/step ${
          ips(m).toFixed(1).padStart(7)
        } img/s   comm ${m.commMs.toFixed(1).padStart(6)} ms/step`,
      );
    row("1 process x 1 thread", one1);
    row(`1 process x ${PROCS} threads`, oneN);
    row(`${PROCS} processes x 1 thread (Gloo)`, many);
    console.log(
      `scaling efficiency, ${PROCS} processes against 1 process x 1 thread: ${
        (100 * ips(many) / (PROCS * ips(one1))).toFixed(0)
      }%; against 1 process x ${PROCS} threads: ${(100 * ips(many) / ips(oneN)).toFixed(0)}% ` +
        `(speed ratio); communication ${(100 * many.commMs / many.stepMs).toFixed(0)}% of a step`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  configureFromEnv();
  if (Deno.env.get("ECN_BENCH_DIST_DATA")) await child();
  else await main();
}
