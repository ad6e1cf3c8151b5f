// The Tensor API: dtypes, devices, data in and out, lifetimes, scopes, autograd and errors.
import "./native.ts";
import assert from "node:assert";
import * as T from "../src/tensor/mod.ts";

Deno.test("dtypes round-trip through typed arrays", () => {
  const cases: Array<[T.DType, T.TypedArray]> = [
    ["float32", new Float32Array([1.5, -2, 3])],
    ["float64", new Float64Array([1.25, 2, -3])],
    ["int64", new BigInt64Array([1n, -2n, 3n])],
    ["int32", new Int32Array([7, 8, -9])],
    ["uint8", new Uint8Array([0, 255, 3])],
  ];
  for (const [dt, arr] of cases) {
    using t = T.tensor(arr);
    assert.strictEqual(t.dtype, dt);
    assert.deepStrictEqual(t.shape, [3]);
    assert.deepStrictEqual(t.toArray(), arr);
  }
  using h = T.tensor(new Float32Array([0.5, 1, -2]), { dtype: "float16" });
  assert.strictEqual(h.dtype, "float16");
  assert.deepStrictEqual(h.toArray(), new Float32Array([0.5, 1, -2]));
  using bf = T.tensor([1, 2, 3], { dtype: "bfloat16" });
  assert.strictEqual(bf.dtype, "bfloat16");
  assert.deepStrictEqual(bf.toNumbers(), [1, 2, 3]);
  using b = T.tensor(new Float32Array([0, 1, 2])).gt(0.5);
  assert.strictEqual(b.dtype, "bool");
  assert.deepStrictEqual(b.toNumbers(), [0, 1, 1]);
});

Deno.test("nested arrays, shapes, item, factories", () => {
  using a = T.tensor([[1, 2, 3], [4, 5, 6]]);
  assert.deepStrictEqual(a.shape, [2, 3]);
  assert.strictEqual(a.numel, 6);
  assert.strictEqual(a.size(-1), 3);
  using s = a.sum();
  assert.strictEqual(s.item(), 21);
  using z = T.zeros([2, 2], { dtype: "int64" });
  assert.deepStrictEqual(z.toArray(), new BigInt64Array(4));
  using o = T.ones([3]);
  assert.deepStrictEqual(o.toNumbers(), [1, 1, 1]);
  using r = T.arange(5);
  assert.strictEqual(r.dtype, "int64");
  assert.deepStrictEqual(r.toNumbers(), [0, 1, 2, 3, 4]);
  using f = T.arange(1, { start: 0, step: 0.25 });
  assert.deepStrictEqual(f.toNumbers(), [0, 0.25, 0.5, 0.75]);
  assert.strictEqual(String(a), "Tensor[2, 3] float32 cpu");
  assert.deepStrictEqual(a.device, { type: "cpu", index: 0 });
});

Deno.test("seeded random numbers repeat, and the generator state restores", () => {
  T.manualSeed(42);
  using a = T.randn([5]);
  T.manualSeed(42);
  using b = T.randn([5]);
  assert.deepStrictEqual(a.toArray(), b.toArray());
  using state = T.rngState();
  using c = T.rand([4]);
  T.setRngState(state);
  using d = T.rand([4]);
  assert.deepStrictEqual(c.toArray(), d.toArray());
  using p = T.randperm(10);
  assert.deepStrictEqual([...p.toNumbers()].sort((x, y) => x - y), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  using ri = T.randint(3, 6, [100]);
  assert.ok(ri.toNumbers().every((v) => v >= 3 && v < 6));
});

Deno.test("isnan / isinf / isfinite", () => {
  using a = T.tensor(new Float32Array([1, NaN, Infinity, -Infinity]));
  assert.deepStrictEqual(a.isnan().toNumbers(), [0, 1, 0, 0]);
  assert.deepStrictEqual(a.isinf().toNumbers(), [0, 0, 1, 1]);
  assert.deepStrictEqual(a.isfinite().toNumbers(), [1, 0, 0, 0]);
});

Deno.test("scope frees what it made except what it returns or keeps", () => {
  const start = T.liveTensors();
  let kept: T.Tensor | undefined;
  const out = T.scope(() => {
    const a = T.ones([3]);
    const b = a.mul(2);
    kept = T.keep(b.add(1));
    return { sum: b.sum(), list: [a.neg()] };
  });
  assert.strictEqual(T.liveTensors(), start + 3);
  assert.strictEqual(out.sum.item(), 6);
  assert.deepStrictEqual(out.list[0].toNumbers(), [-1, -1, -1]);
  assert.deepStrictEqual(kept!.toNumbers(), [3, 3, 3]);
  out.sum.dispose();
  out.list[0].dispose();
  kept!.dispose();
  assert.strictEqual(T.liveTensors(), start);
});

Deno.test("nested scopes move returned tensors to the parent; a throw frees everything", () => {
  const start = T.liveTensors();
  const r = T.scope(() => {
    const inner = T.scope(() => T.ones([2]).mul(3));
    assert.strictEqual(inner.disposed, false);
    return inner.add(1);
  });
  assert.strictEqual(T.liveTensors(), start + 1);
  r.dispose();
  assert.throws(() =>
    T.scope(() => {
      T.ones([2]);
      throw new Error("boom");
    }), /boom/);
  assert.strictEqual(T.liveTensors(), start);
});

Deno.test("dispose, using and use-after-dispose", () => {
  const start = T.liveTensors();
  {
    using _a = T.ones([2]);
    assert.strictEqual(T.liveTensors(), start + 1);
  }
  assert.strictEqual(T.liveTensors(), start);
  const b = T.ones([2]);
  b.dispose();
  b.dispose();
  assert.strictEqual(b.disposed, true);
  assert.throws(() => b.add(1), (e) => e instanceof T.TorchError && /disposed/.test(e.message));
});

Deno.test("autograd: requiresGrad, backward, grad, zeroGrad, noGrad", () => {
  T.scope(() => {
    const x = T.tensor([1, 2, 3], { requiresGrad: true });
    assert.strictEqual(x.requiresGrad, true);
    assert.strictEqual(x.isLeaf, true);
    const y = x.mul(x).sum();
    assert.strictEqual(y.isLeaf, false);
    y.backward();
    assert.deepStrictEqual(x.grad!.toNumbers(), [2, 4, 6]);
    x.mul(3).sum().backward();
    assert.deepStrictEqual(x.grad!.toNumbers(), [5, 7, 9]);
    x.zeroGrad();
    assert.strictEqual(x.grad, null);
    const z = T.noGrad(() => x.mul(2));
    assert.strictEqual(z.requiresGrad, false);
    assert.strictEqual(T.isGradEnabled(), true);
    assert.throws(() =>
      T.noGrad(() => {
        throw new Error("inner");
      }), /inner/);
    assert.strictEqual(T.isGradEnabled(), true);
    const d = x.detach();
    assert.strictEqual(d.requiresGrad, false);
  });
});

Deno.test("errors carry the op name and libtorch's message", () => {
  T.scope(() => {
    const a = T.zeros([2, 3]);
    const b = T.zeros([4, 5]);
    assert.throws(() => a.mm(b), (e) => {
      assert.ok(e instanceof T.TorchError);
      assert.strictEqual(e.op, "mm");
      assert.match(e.message, /2x3 and 4x5/);
      return true;
    });
  });
});

Deno.test("threads are set at load (ECN_NUM_THREADS or the number of cores)", () => {
  const want = Number(Deno.env.get("ECN_NUM_THREADS") ?? navigator.hardwareConcurrency);
  assert.strictEqual(T.getNumThreads(), want);
});

Deno.test({
  name: "cuda: tensors move to the GPU and back, ops run there",
  ignore: !T.cudaAvailable(),
  fn: () => {
    T.scope(() => {
      const a = T.randn([64, 32]);
      const g = a.cuda();
      assert.deepStrictEqual(g.device, { type: "cuda", index: 0 });
      const back = g.mm(g.t()).cpu();
      const ref = a.mm(a.t());
      assert.ok(back.sub(ref).abs().amax().item() < 1e-3);
      T.cudaSynchronize();
      assert.ok(T.cudaMemory().allocated > 0);
    });
  },
});

if (!T.cudaAvailable()) {
  console.log(
    "cuda tests skipped: no CUDA device or a CPU-only libtorch (" + T.torchVersion() + ")",
  );
}

Deno.test("the finalizer backstop frees tensors nobody disposed, once collected", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--v8-flags=--expose-gc",
      new URL("./fixtures/finalizer_gc.ts", import.meta.url).pathname,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  const r = JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").pop()!);
  assert.strictEqual(r.made, 100);
  assert.strictEqual(r.left, 0, "every forgotten handle was freed");
});
