// `deno task train --nproc 2` end to end on tiny synthetic domains over Gloo on loopback: a run
// completes with rank 0 alone writing the run folder, and its evaluation (features extracted in two
// shards) equals one process's on the final checkpoint; 1 epoch + --resume on 2 processes equals
// 2 epochs straight bit for bit; killing one rank ends the run on the other
// with a message naming it, leaves a loadable checkpoint, and `--resume` with another number of
// processes (1) finishes the run.
import "./native.ts";
import assert from "node:assert";
import { join } from "node:path";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import { generateSyntheticDomains } from "../src/data/synthetic/mod.ts";
import { tinyDomain } from "./tiny_domains.ts";
import { loadReidDataset } from "../src/data/datasets.ts";
import { distAvailable } from "../src/dist/group.ts";
import { distEnvFrom } from "../src/dist/launch.ts";
import { readSafetensors } from "../src/nn/safetensors.ts";
import { mergeConfig } from "../src/reid/config.ts";
import { Trainer } from "../src/reid/trainer.ts";

const { available, reason } = distAvailable();
if (!available) console.log(`dist_launch_test: skipped: ${reason}`);

const TRAIN = fileURLToPath(new URL("../src/cli/train.ts", import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), "ecn-dist-launch-"));
globalThis.addEventListener("unload", () => rmSync(tmp, { recursive: true, force: true }));

async function tinyData(): Promise<Record<string, string>> {
  const res = await generateSyntheticDomains({
    outDir: join(tmp, "data"),
    domains: [tinyDomain("S", "daylight", 6), tinyDomain("T", "dim", 5)],
  });
  return res.domains;
}

function args(d: Record<string, string>, out: string, epochs: number): string[] {
  return [
    "--quick",
    "--source",
    d.S,
    "--target",
    d.T,
    "--no-camera",
    "--features",
    "32",
    "--height",
    "32",
    "--width",
    "16",
    "--batch-size",
    "4",
    "--target-batch-size",
    "4",
    "--epochs",
    String(epochs),
    "--neighborhood-from",
    "1",
    "--knn",
    "3",
    "--workers",
    "0",
    "--out",
    out,
  ];
}

function train(a: string[], env: Record<string, string> = {}): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", TRAIN, ...a],
    env: { ECN_NUM_THREADS: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

async function text(s: ReadableStream<Uint8Array>): Promise<string> {
  return await new Response(s).text();
}

async function checkpointEpoch(run: string): Promise<number> {
  const f = await readSafetensors(join(run, "checkpoint.safetensors"));
  return Number(f.metadata.epoch);
}

Deno.test("the torchrun variables are read and checked", () => {
  assert.strictEqual(distEnvFrom({}), null);
  assert.deepStrictEqual(
    distEnvFrom({ WORLD_SIZE: "4", RANK: "3", MASTER_ADDR: "10.0.0.1", MASTER_PORT: "29500" }),
    { rank: 3, worldSize: 4, localRank: 3, masterAddr: "10.0.0.1", masterPort: 29500 },
  );
  assert.throws(
    () => distEnvFrom({ WORLD_SIZE: "2", RANK: "2", MASTER_ADDR: "a", MASTER_PORT: "1" }),
    /RANK 2 out of range for WORLD_SIZE 2/,
  );
  assert.throws(
    () => distEnvFrom({ WORLD_SIZE: "2", RANK: "0", MASTER_PORT: "1" }),
    /MASTER_ADDR is unset/,
  );
  assert.throws(
    () => distEnvFrom({ WORLD_SIZE: "2", RANK: "x", MASTER_ADDR: "a", MASTER_PORT: "1" }),
    /RANK is 'x', expected an integer >= 0/,
  );
});

Deno.test({
  name: "--nproc 2: the run completes; only rank 0 writes the run folder and prints",
  ignore: !available,
  async fn() {
    const d = await tinyData();
    const run = join(tmp, "ok");
    const p = train([...args(d, run, 2), "--nproc", "2", "--dist-timeout", "30"]);
    const [out, err, status] = await Promise.all([text(p.stdout), text(p.stderr), p.status]);
    assert.strictEqual(status.code, 0, out + err);
    assert.match(err, /launch: 2 process\(es\) of 2/);
    assert.strictEqual((out.match(/^ECN training/gm) ?? []).length, 1, "one rank prints");
    assert.match(out, /final, target T:/);
    assert.strictEqual(await checkpointEpoch(run), 2);
    const log = readFileSync(join(run, "log.jsonl"), "utf8").trim().split("\n").map((l) =>
      JSON.parse(l)
    );
    // One writer: one line per global batch of 2 x 4 source images, two epochs.
    const perEpoch = Math.floor(loadReidDataset(d.S, { quiet: true }).train.length / 8);
    assert.strictEqual(log.filter((r) => r.kind === "step").length, 2 * perEpoch, "one writer");
    assert.ok(perEpoch > 1);
    // The evaluation from features extracted in 2 shards equals one process's on the checkpoint.
    const result = JSON.parse(readFileSync(join(run, "result.json"), "utf8"));
    const cfg = JSON.parse(readFileSync(join(run, "config.json"), "utf8"));
    const t = await Trainer.create(mergeConfig({}, cfg), {
      resume: run,
    });
    const e = await t.evaluate();
    t.dispose();
    assert.ok(e.validQueries > 0);
    assert.strictEqual(result.validQueries, e.validQueries);
    assert.ok(Math.abs(result.mAP - e.mAP) < 1e-6, `mAP ${result.mAP} vs ${e.mAP}`);
    assert.deepStrictEqual(result.cmc.slice(0, 5), e.cmc.slice(0, 5));
  },
});

Deno.test({
  name: "--nproc 2: 2 epochs straight equal 1 epoch + --resume on 2 processes, bit for bit",
  ignore: !available,
  async fn() {
    const d = await tinyData();
    const straight = join(tmp, "ok"); // the run of the test above, 2 epochs
    if (!existsSync(join(straight, "checkpoint.safetensors"))) {
      const p = train([...args(d, straight, 2), "--nproc", "2", "--dist-timeout", "30"]);
      const [out, err, s] = await Promise.all([text(p.stdout), text(p.stderr), p.status]);
      assert.strictEqual(s.code, 0, out + err);
    }
    const split = join(tmp, "split");
    for (const a of [[...args(d, split, 1)], ["--resume", split, "--epochs", "2"]]) {
      const p = train([...a, "--nproc", "2", "--dist-timeout", "30"]);
      const [out, err, s] = await Promise.all([text(p.stdout), text(p.stderr), p.status]);
      assert.strictEqual(s.code, 0, out + err);
    }
    const x = await readSafetensors(join(straight, "checkpoint.safetensors"));
    const y = await readSafetensors(join(split, "checkpoint.safetensors"));
    let compared = 0;
    for (const [k, t] of x.tensors) {
      if (!k.startsWith("model.") && k !== "extra.memory") continue;
      assert.deepStrictEqual(y.tensors.get(k)!.data, t.data, `${k} bit for bit`);
      compared++;
    }
    assert.ok(compared > 50 && x.tensors.has("extra.memory"));
  },
});

Deno.test({
  name: "killing one rank ends the run with a message naming it; --resume on 1 process finishes",
  ignore: !available,
  async fn() {
    const d = await tinyData();
    const run = join(tmp, "fault");
    const epochs = 4;
    const p = train([...args(d, run, epochs), "--nproc", "2", "--dist-timeout", "30"]);
    let err = "";
    const errDone = (async () => {
      for await (const c of p.stderr.pipeThrough(new TextDecoderStream())) err += c;
    })();
    const outText = text(p.stdout);
    // Wait (bounded) for the first checkpoint, then kill rank 1 without warning.
    const ckpt = join(run, "checkpoint.safetensors");
    for (let i = 0; i < 1200 && !existsSync(ckpt); i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(existsSync(ckpt), "a first checkpoint within 120 s");
    const pids = err.match(/pids (\d+) (\d+)/)!.slice(1).map(Number);
    Deno.kill(pids[1], "SIGKILL");
    const t0 = performance.now();
    const status = await p.status;
    const seconds = (performance.now() - t0) / 1000;
    await errDone;
    await outText;
    assert.notStrictEqual(status.code, 0);
    assert.match(err, new RegExp(`rank 1 \\(pid ${pids[1]}\\) was killed by SIGKILL`));
    assert.match(err, /failed on rank 0 of 2: rank 1 stopped responding/);
    assert.ok(seconds < 30, `the run ended ${seconds.toFixed(1)} s after the kill`);
    const at = await checkpointEpoch(run);
    assert.ok(at >= 1 && at < epochs, `checkpoint of epoch ${at} loads`);

    const r = train(["--resume", run]);
    const [out2, err2, s2] = await Promise.all([text(r.stdout), text(r.stderr), r.status]);
    assert.strictEqual(s2.code, 0, out2 + err2);
    assert.match(out2, /written by 2 process\(es\), this run has 1/);
    assert.strictEqual(await checkpointEpoch(run), epochs);
  },
});
