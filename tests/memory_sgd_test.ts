// The exemplar memory op (custom backward update in C++) and the fused SGD step against PyTorch.
import "./native.ts";
import assert from "node:assert";
import * as T from "../src/tensor/mod.ts";
import { prng, relError } from "./op_harness.ts";
import { oracleTest, runOracleJson } from "./oracle/oracle.ts";

const rnd = prng(99);
const normal = (n: number) =>
  Array.from({ length: n }, () => {
    const u = Math.max(rnd(), 1e-12);
    return Math.fround(Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rnd()));
  });
const unitRows = (b: number, d: number) => {
  const a = normal(b * d);
  for (let i = 0; i < b; i++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += a[i * d + j] ** 2;
    for (let j = 0; j < d; j++) a[i * d + j] = Math.fround(a[i * d + j] / Math.sqrt(s));
  }
  return a;
};

oracleTest(
  "exemplar memory: logits, input gradients and memory updates equal the reference loop",
  async () => {
    const N = 10, D = 6, B = 5;
    const memory0 = new Array(N * D).fill(0);
    // Duplicate indexes within a batch must behave like the sequential loop.
    const batches = [[0, 3, 3, 7, 9], [1, 3, 0, 0, 0], [2, 5, 6, 3, 8], [9, 9, 4, 1, 3]];
    const alphas = [0, 0.01, 0.02, 0.5];
    const steps = batches.map((idx, s) => ({
      inputs: { data: unitRows(B, D), shape: [B, D] },
      indexes: idx,
      alpha: alphas[s],
      gradOut: { data: normal(B * N), shape: [B, N] },
    }));
    const want = await runOracleJson<
      { memory: Array<Array<{ logits: number[]; grad: number[]; memory: number[] }>> }
    >(
      "memory_sgd_reference.py",
      { memory: [{ memory: { data: memory0, shape: [N, D] }, steps }], sgd: [] },
    );
    const memory = T.zeros([N, D]);
    for (let s = 0; s < steps.length; s++) {
      T.scope(() => {
        const st = steps[s];
        const x = T.tensor(Float32Array.from(st.inputs.data), {
          shape: [B, D],
          requiresGrad: true,
        });
        const idx = T.tensor(BigInt64Array.from(st.indexes.map(BigInt)));
        const logits = T.exemplarMemory(x, idx, memory, st.alpha);
        logits.backward(T.tensor(Float32Array.from(st.gradOut.data), { shape: [B, N] }));
        const w = want.memory[0][s];
        assert.ok(relError(logits.toNumbers(), w.logits) <= 1e-5, `step ${s} logits`);
        assert.ok(relError(x.grad!.toNumbers(), w.grad) <= 1e-5, `step ${s} grad`);
        assert.ok(relError(memory.toNumbers(), w.memory) <= 1e-5, `step ${s} memory`);
      });
    }
    memory.dispose();
  },
);

oracleTest("exemplar memory: bad shapes and indexes are refused", () => {
  T.scope(() => {
    const mem = T.zeros([4, 3]);
    const x = T.zeros([2, 3], { requiresGrad: true });
    assert.throws(
      () => T.exemplarMemory(x, T.tensor(BigInt64Array.from([0n, 4n])), mem, 0.1),
      /out of range/,
    );
    assert.throws(
      () => T.exemplarMemory(x, T.tensor(BigInt64Array.from([0n])), mem, 0.1),
      /indexes must be int64 of shape/,
    );
    assert.throws(
      () => T.exemplarMemory(T.zeros([2, 5]), T.tensor(BigInt64Array.from([0n, 1n])), mem, 0.1),
      /must be \(B, d\)/,
    );
    assert.throws(
      () => T.exemplarMemory(x, T.tensor(BigInt64Array.from([0n, 1n])), mem, 1.5),
      /alpha/,
    );
  });
});

oracleTest(
  "fused SGD (Nesterov, weight decay, two groups) equals torch.optim.SGD after 5 steps",
  async () => {
    const shapes = [[4, 3], [3], [2, 2], [5]];
    const params = shapes.map((s) => ({ data: normal(s.reduce((a, b) => a * b)), shape: s }));
    const grads = Array.from(
      { length: 5 },
      () => shapes.map((s) => ({ data: normal(s.reduce((a, b) => a * b)), shape: s })),
    );
    const groups = [{ indices: [0, 1], lr: 0.01 }, { indices: [2, 3], lr: 0.1 }];
    const cfg = { momentum: 0.9, weightDecay: 5e-4, nesterov: true };
    const want = await runOracleJson<{ sgd: number[][][] }>("memory_sgd_reference.py", {
      memory: [],
      sgd: [{ params, grads, groups, ...cfg }],
    });
    const ps = params.map((p) =>
      T.tensor(Float32Array.from(p.data), { shape: p.shape, requiresGrad: true })
    );
    const bufs: Array<T.Tensor | undefined> = ps.map(() => undefined);
    for (const step of grads) {
      step.forEach((g, i) => {
        using gt = T.tensor(Float32Array.from(g.data), { shape: g.shape });
        ps[i].setGrad(gt);
      });
      for (const grp of groups) {
        const sub = grp.indices.map((i) => ps[i]);
        const subBufs = grp.indices.map((i) => bufs[i]);
        T.sgdStep(sub, subBufs, { lr: grp.lr, ...cfg });
        grp.indices.forEach((i, k) => (bufs[i] = subBufs[k]));
      }
    }
    ps.forEach((p, i) => {
      assert.ok(relError(p.toNumbers(), want.sgd[0][i]) <= 1e-5, `param ${i}`);
      p.dispose();
      bufs[i]?.dispose();
    });
  },
);
