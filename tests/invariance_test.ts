// ECN's exemplar memory and invariance losses against the reference InvNet, over epochs that cross
// the switch to neighborhood-invariance (epoch 5), with duplicate indexes in a batch.
import "./native.ts";
import assert from "node:assert";
import * as T from "../src/tensor/mod.ts";
import { ExemplarMemory } from "../src/reid/memory.ts";
import { DEFAULT_INVARIANCE, invarianceLoss, neighborhoodTargets } from "../src/reid/losses.ts";
import { prng, relError } from "./op_harness.ts";
import { oracleTest, runOracleJson } from "./oracle/oracle.ts";

oracleTest(
  "invariance loss, feature gradients and memory equal the reference InvNet over 8 epochs",
  async () => {
    const n = 24, dim = 16, b = 8;
    const rnd = prng(5);
    const steps = [];
    for (let epoch = 0; epoch < 8; epoch++) {
      const indexes = Array.from({ length: b }, () => Math.floor(rnd() * n));
      if (epoch === 3) indexes[1] = indexes[0]; // a duplicate in the batch
      const features = Array.from({ length: b * dim }, () => Math.fround(rnd() * 2 - 1));
      steps.push({ epoch, indexes, features });
    }
    const want = await runOracleJson<Array<{ loss: number; grad: number[]; memory: number[] }>>(
      "invariance_reference.py",
      { n, dim, beta: 0.05, knn: 6, alpha: 0.01, steps },
    );
    const memory = new ExemplarMemory(n, dim);
    steps.forEach((s, i) => {
      T.scope(() => {
        const x = T.tensor(Float32Array.from(s.features), { shape: [b, dim], requiresGrad: true });
        const idx = T.tensor(BigInt64Array.from(s.indexes.map(BigInt)));
        const loss = invarianceLoss(memory, T.normalize(x), idx, s.epoch, DEFAULT_INVARIANCE);
        loss.backward();
        const w = want[i];
        assert.ok(
          relError([loss.item()], [w.loss]) <= 1e-5,
          `epoch ${s.epoch} loss ${loss.item()} vs ${w.loss}`,
        );
        assert.ok(relError(x.grad!.toNumbers(), w.grad) <= 1e-4, `epoch ${s.epoch} grad`);
        assert.ok(relError(memory.keys.toNumbers(), w.memory) <= 1e-5, `epoch ${s.epoch} memory`);
      });
    });
    memory.dispose();
  },
);

Deno.test("neighborhood targets: 1/k on the k best slots, 1 on the own slot", () => {
  T.scope(() => {
    const logits = T.tensor([[0.9, 0.1, 0.5, 0.3], [0.2, 0.8, 0.1, 0.7]]);
    const idx = T.tensor(BigInt64Array.from([3n, 1n]));
    const t = neighborhoodTargets(logits, idx, 2);
    assert.deepStrictEqual(t.toNumbers(), [0.5, 0, 0.5, 1, 0, 1, 0, 0.5]);
    assert.throws(() => neighborhoodTargets(logits, idx, 5), /k = 5/);
  });
});

Deno.test("a memory of another size is refused on load", () => {
  const m = new ExemplarMemory(4, 3);
  T.scope(() => {
    assert.throws(() => m.load(T.zeros([5, 3])), /does not fit this run's \[4, 3\]/);
  });
  m.dispose();
});
