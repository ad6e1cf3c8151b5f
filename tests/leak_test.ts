// A thousand iterations of a small training step return the live-handle count to its start.
import "./native.ts";
import assert from "node:assert";
import * as T from "../src/tensor/mod.ts";

Deno.test("1000 small training steps leak no tensor handle", () => {
  T.manualSeed(0);
  const w1 = T.keep(T.randn([16, 8], { std: 0.1 }).setRequiresGrad());
  const b1 = T.keep(T.zeros([16], { requiresGrad: true }));
  const w2 = T.keep(T.randn([4, 16], { std: 0.1 }).setRequiresGrad());
  const memory = T.zeros([32, 16]);
  const params = [w1, b1, w2];
  const bufs: Array<T.Tensor | undefined> = params.map(() => undefined);
  const x = T.randn([8, 8]);
  const y = T.randint(0, 4, [8]);
  const idx = T.tensor(BigInt64Array.from([0n, 1n, 2n, 3n, 4n, 5n, 6n, 7n]));
  const start = T.liveTensors();
  let first = 0;
  let last = 0;
  for (let i = 0; i < 1000; i++) {
    T.scope(() => {
      const h = T.linear(x, w1, b1).relu();
      const logits = T.linear(T.dropout(h, 0.1, true), w2);
      const sims = T.exemplarMemory(T.normalize(h), idx, memory, 0.1);
      const loss = T.crossEntropy(logits, y).add(T.crossEntropy(sims.div(0.05), idx).mul(0.3));
      for (const p of params) p.zeroGrad();
      loss.backward();
      T.sgdStep(params, bufs, { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 5e-4 });
      if (i === 0) first = loss.item();
      last = loss.item();
    });
    if (i === 0) {
      assert.strictEqual(T.liveTensors(), start + params.length, "momentum buffers only");
    }
  }
  for (const p of params) p.zeroGrad();
  assert.strictEqual(T.liveTensors(), start + params.length);
  assert.ok(last < first, `the loss should fall: ${first} -> ${last}`);
  for (const t of [...params, ...bufs, memory, x, y, idx]) t?.dispose();
  assert.strictEqual(T.liveTensors(), start - 7);
});
