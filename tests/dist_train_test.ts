// Data-parallel ECN over Gloo on loopback: 2 processes, each stepping on its half of every combined
// batch, end with the parameters and exemplar memory of one process stepping on the combined
// batches (BatchNorm and dropout in eval mode), and the two ranks' memories are bitwise equal.
// The steps cover plain exemplar-invariance, neighborhood-invariance, a memory index drawn on
// both ranks in one step (the update order matters), and momentum SGD with weight decay.
import "./native.ts";
import assert from "node:assert";
import { join } from "node:path";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import type { Batch } from "../src/data/loader.ts";
import { generateSyntheticDomains } from "../src/data/synthetic/mod.ts";
import { tinyDomain } from "./tiny_domains.ts";
import { mulberry32 } from "../src/util/random.ts";
import { distAvailable, ProcessGroup } from "../src/dist/group.ts";
import { shardOrder } from "../src/dist/sampler.ts";
import { mergeConfig, QUICK_OVERRIDES, type TrainConfig } from "../src/reid/config.ts";
import { Trainer } from "../src/reid/trainer.ts";
import { freePort, runRanks } from "./dist_util.ts";

const { available, reason } = distAvailable();
if (!available) console.log(`dist_train_test: skipped: ${reason}`);

const H = 32, W = 16, LOCAL = 4, WORLD = 2;
/** (epoch, target indexes of the combined batch) of each step; index 3 is on both ranks at step 0. */
const STEPS: Array<[number, number[]]> = [
  [0, [0, 1, 2, 3, 3, 4, 5, 6]],
  [1, [7, 8, 9, 10, 11, 12, 13, 14]],
  [1, [15, 16, 17, 18, 19, 0, 2, 4]],
  [2, [1, 3, 5, 7, 9, 11, 13, 15]],
];

function config(source: string, target: string, out: string): TrainConfig {
  return mergeConfig({ ...QUICK_OVERRIDES }, {
    source,
    target,
    out,
    camera: false,
    numFeatures: 32,
    height: H,
    width: W,
    batchSize: LOCAL,
    targetBatchSize: LOCAL,
    neighborhoodFromEpoch: 1,
    knn: 3,
    alpha: 0.3,
    lr: 0.02,
    workers: 0,
    seed: 5,
  });
}

/** Step `s`'s combined source and target batches, rows [from, to) of them. */
function batches(s: number, from: number, to: number): { src: Batch; tgt: Batch } {
  const rnd = mulberry32(100 + s);
  const n = LOCAL * WORLD;
  const img = () => Float32Array.from({ length: n * 3 * H * W }, () => 2 * rnd() - 1);
  const per = 3 * H * W;
  const make = (images: Float32Array, ids: number[]): Batch => ({
    images: images.slice(from * per, to * per),
    pids: Int32Array.from(ids.slice(from, to)),
    cams: new Int32Array(to - from),
    indices: Int32Array.from(ids.slice(from, to)),
    paths: [],
    size: to - from,
    height: H,
    width: W,
    epoch: STEPS[s][0],
    batch: s,
  });
  const pids = Array.from({ length: n }, () => Math.floor(rnd() * 6));
  return { src: make(img(), pids), tgt: make(img(), STEPS[s][1]) };
}

async function train(cfg: TrainConfig, group?: ProcessGroup): Promise<Float32Array[]> {
  const t = await Trainer.create(cfg, { group });
  t.model.eval();
  const [from, to] = group ? [group.rank * LOCAL, (group.rank + 1) * LOCAL] : [0, LOCAL * WORLD];
  for (let s = 0; s < STEPS.length; s++) {
    const { src, tgt } = batches(s, from, to);
    t.step(src, tgt, STEPS[s][0]);
  }
  const params = t.model.parameters().map((p) => p.toArray() as Float32Array);
  const flat = new Float32Array(params.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of params) (flat.set(p, o), o += p.length);
  const memory = t.memory!.keys.toArray() as Float32Array;
  t.dispose();
  return [flat, memory];
}

if (import.meta.main && Deno.env.get("ECN_DIST_TRAIN_DIR")) {
  const dir = Deno.env.get("ECN_DIST_TRAIN_DIR")!;
  const d = JSON.parse(readFileSync(join(dir, "data.json"), "utf8"));
  const rank = Number(Deno.env.get("RANK"));
  const pg = ProcessGroup.init({
    rank,
    worldSize: Number(Deno.env.get("WORLD_SIZE")),
    masterAddr: Deno.env.get("MASTER_ADDR")!,
    masterPort: Number(Deno.env.get("MASTER_PORT")),
    timeoutSeconds: 60,
  });
  const [params, memory] = await train(config(d.S, d.T, join(dir, `run${rank}`)), pg);
  pg.destroy();
  writeFileSync(join(dir, `params${rank}.bin`), new Uint8Array(params.buffer));
  writeFileSync(join(dir, `memory${rank}.bin`), new Uint8Array(memory.buffer));
  console.log("RESULT {}");
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function floats(path: string): Float32Array {
  const b = readFileSync(path);
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
}

Deno.test({
  name: "2 processes equal 1 process on the combined batch; memories bitwise equal across ranks",
  ignore: !available,
  async fn() {
    const dir = mkdtempSync(join(tmpdir(), "ecn-dist-train-"));
    globalThis.addEventListener("unload", () => rmSync(dir, { recursive: true, force: true }));
    const data = await generateSyntheticDomains({
      outDir: join(dir, "data"),
      domains: [tinyDomain("S", "daylight", 6), tinyDomain("T", "dim", 5)],
    });
    writeFileSync(join(dir, "data.json"), JSON.stringify(data.domains));
    const [refParams, refMemory] = await train(
      config(data.domains.S, data.domains.T, join(dir, "ref")),
    );
    const runs = await runRanks(import.meta.url, WORLD, { ECN_DIST_TRAIN_DIR: dir }, freePort());
    for (const r of runs) assert.strictEqual(r.code, 0, r.output);
    const p0 = floats(join(dir, "params0.bin")), p1 = floats(join(dir, "params1.bin"));
    const m0 = floats(join(dir, "memory0.bin")), m1 = floats(join(dir, "memory1.bin"));
    assert.deepStrictEqual(
      new Uint8Array(m0.buffer),
      new Uint8Array(m1.buffer),
      "memories bitwise",
    );
    assert.ok(maxDiff(p0, p1) === 0, "parameters bitwise equal across ranks");
    // Every slot drawn was written (non-zero), so the comparison below is not of zeros.
    for (let i = 0; i < 20; i++) {
      assert.ok(m0.subarray(32 * i, 32 * i + 32).some((v) => v !== 0), `memory slot ${i} written`);
    }
    const dp = maxDiff(p0, refParams), dm = maxDiff(m0, refMemory);
    console.log(
      `max |2 processes - 1 process|: parameters ${dp.toExponential(2)}, memory ${
        dm.toExponential(2)
      }`,
    );
    assert.ok(dp < 1e-5, `parameters within 1e-5 of one process: ${dp}`);
    assert.ok(dm < 1e-5, `memory within 1e-5 of one process: ${dm}`);
    // The step changed the parameters far more than the tolerance (the test can fail).
    const init = await Trainer.create(config(data.domains.S, data.domains.T, join(dir, "init")));
    const p = init.model.parameters().flatMap((t) => Array.from(t.toArray() as Float32Array));
    init.dispose();
    assert.ok(maxDiff(Float32Array.from(p), refParams) > 1e-3, "training moved the parameters");
  },
});

Deno.test("shards are disjoint, of equal size, and in rank order form the combined batch", () => {
  const order = Int32Array.from({ length: 23 }, (_, i) => (i * 7) % 23);
  const a = shardOrder(order, 3, 0, 2), b = shardOrder(order, 3, 1, 2);
  assert.strictEqual(a.length, 9); // 3 full global batches of 6; 5 items dropped
  assert.strictEqual(b.length, 9);
  for (let k = 0; k < 3; k++) {
    assert.deepStrictEqual(
      [...a.subarray(3 * k, 3 * k + 3), ...b.subarray(3 * k, 3 * k + 3)],
      [...order.subarray(6 * k, 6 * k + 6)],
    );
  }
  assert.strictEqual(new Set([...a, ...b]).size, 18);
  assert.throws(() => shardOrder(order, 3, 2, 2), /rank 2 out of range/);
});
