// Module base and layers: PyTorch key names, strict loading errors, freezing, train/eval,
// BatchNorm running statistics, initializers, weight files and disposal.
import "./native.ts";
import assert from "node:assert";
import * as T from "../src/tensor/mod.ts";
import {
  BatchNorm1d,
  BatchNorm2d,
  Conv2d,
  Dropout,
  Identity,
  Linear,
  ReLU,
  Sequential,
} from "../src/nn/layers.ts";
import { Module } from "../src/nn/module.ts";
import { constant_, kaimingNormal_, normal_ } from "../src/nn/init.ts";
import { loadWeightsFile, saveSafetensors } from "../src/nn/state_dict.ts";
import { readSafetensors, writeSafetensors } from "../src/nn/safetensors.ts";
import { fromFloat32, type RawStateDict } from "../src/nn/weights.ts";

const net = () =>
  new Sequential(
    new Conv2d(3, 4, 3, { padding: 1 }),
    new BatchNorm2d(4),
    new ReLU(),
    new Sequential(new Identity(), new Linear(4, 2, { bias: false })),
  );

Deno.test("Module: dotted names equal PyTorch's state_dict keys; child() by path", () => {
  const start = T.liveTensors();
  const m = net();
  assert.deepStrictEqual([...m.stateDict().keys()], [
    "0.weight",
    "0.bias",
    "1.weight",
    "1.bias",
    "1.running_mean",
    "1.running_var",
    "1.num_batches_tracked",
    "3.1.weight",
  ]);
  assert.deepStrictEqual(m.namedParameters().map(([k]) => k), [
    "0.weight",
    "0.bias",
    "1.weight",
    "1.bias",
    "3.1.weight",
  ]);
  assert.deepStrictEqual(m.namedBuffers("net").map(([k]) => k), [
    "net.1.running_mean",
    "net.1.running_var",
    "net.1.num_batches_tracked",
  ]);
  assert.ok(m.child("3.1") instanceof Linear);
  assert.throws(() => m.child("3.7"), /no submodule "3.7".*children: 0, 1/);
  assert.strictEqual(m.stateDict().get("1.num_batches_tracked")!.dtype, "int64");
  assert.ok(m.parameters().every((p) => p.requiresGrad));
  assert.deepStrictEqual(m.stateDict().get("0.weight")!.shape, [4, 3, 3, 3]);
  m.dispose();
  assert.strictEqual(T.liveTensors(), start, "dispose frees every parameter and buffer");
});

Deno.test("Module: strict loading lists missing, unexpected and mis-shaped keys", () => {
  const start = T.liveTensors();
  const m = net();
  const before = m.stateDict().get("0.bias")!.toNumbers();
  T.scope(() => {
    const sd = new Map<string, T.Tensor>();
    for (const [k, t] of m.stateDict()) sd.set(k, T.zeros(t.shape, { dtype: t.dtype }));
    sd.delete("1.running_var");
    sd.set("fc.weight", T.zeros([2]));
    sd.set("3.1.weight", T.zeros([2, 5]));
    assert.throws(
      () => m.loadStateDict(sd),
      (e: Error) =>
        /missing keys \(1\): 1\.running_var/.test(e.message) &&
        /unexpected keys \(1\): fc\.weight/.test(e.message) &&
        /3\.1\.weight: file has \[2,5\], model needs \[2,4\]/.test(e.message),
    );
    assert.deepStrictEqual(m.stateDict().get("0.bias")!.toNumbers(), before, "nothing copied");
    // Non-strict: shapes must still fit, the rest is reported.
    assert.throws(() => m.loadStateDict(sd, { strict: false }), /wrongly shaped keys/);
    sd.set("3.1.weight", T.ones([2, 4]));
    const r = m.loadStateDict(sd, { strict: false });
    assert.deepStrictEqual(r, { missing: ["1.running_var"], unexpected: ["fc.weight"] });
    assert.deepStrictEqual(m.stateDict().get("0.bias")!.toNumbers(), [0, 0, 0, 0]);
    assert.deepStrictEqual(m.stateDict().get("3.1.weight")!.toNumbers(), new Array(8).fill(1));
    // Raw tensors (as read from weight files) load too, converted to the parameter's dtype.
    const raw: RawStateDict = new Map([["0.bias", fromFloat32([4], Float32Array.of(1, 2, 3, 4))]]);
    m.loadStateDict(raw, { strict: false });
    assert.deepStrictEqual(m.stateDict().get("0.bias")!.toNumbers(), [1, 2, 3, 4]);
  });
  m.dispose();
  assert.strictEqual(T.liveTensors(), start);
});

Deno.test("Module: freezing, train/eval recursion, BatchNorm running statistics", () => {
  const start = T.liveTensors();
  const m = net();
  m.eval();
  assert.ok(m.namedModules().every(([, c]) => !c.training));
  m.train();
  assert.ok(m.namedModules().every(([, c]) => c.training));
  m.child("0").setRequiresGrad(false);
  T.scope(() => {
    T.manualSeed(3);
    const x = T.randn([2, 3, 5, 5]).mul(2).add(1);
    const y = m.child("2").forward(m.child("1").forward(m.child("0").forward(x)));
    y.sum().backward();
    const p = m.stateDict();
    assert.strictEqual(p.get("0.weight")!.grad, null, "frozen conv gets no gradient");
    assert.ok(p.get("1.weight")!.grad !== null, "BatchNorm weight gets a gradient");
    // running = 0.9 * old + 0.1 * batch statistic (unbiased variance), like PyTorch.
    const z = m.child("0").forward(x);
    const mean = z.mean([0, 2, 3]).toNumbers();
    const v = z.var([0, 2, 3], false, true).toNumbers();
    const rm = p.get("1.running_mean")!.toNumbers(), rv = p.get("1.running_var")!.toNumbers();
    mean.forEach((mu, i) => assert.ok(Math.abs(rm[i] - 0.1 * mu) < 1e-5, `running_mean ${i}`));
    v.forEach((s, i) => assert.ok(Math.abs(rv[i] - (0.9 + 0.1 * s)) < 1e-4, `running_var ${i}`));
    assert.strictEqual(p.get("1.num_batches_tracked")!.item(), 1);
    m.eval();
    m.child("1").forward(z);
    assert.strictEqual(p.get("1.num_batches_tracked")!.item(), 1, "eval does not count");
    assert.deepStrictEqual(p.get("1.running_mean")!.toNumbers(), rm, "eval does not update");
  });
  for (const p of m.parameters()) p.zeroGrad();
  m.dispose();
  assert.strictEqual(T.liveTensors(), start);
});

Deno.test("layers: shapes, Dropout in eval, BatchNorm1d, bad input errors", () => {
  const start = T.liveTensors();
  const bn = new BatchNorm1d(3);
  const drop = new Dropout(0.5);
  const lin = new Linear(3, 6);
  T.scope(() => {
    const x = T.randn([4, 3]);
    assert.deepStrictEqual(lin.forward(bn.forward(x)).shape, [4, 6]);
    drop.eval();
    assert.deepStrictEqual(drop.forward(x).toNumbers(), x.toNumbers());
    drop.train();
    assert.ok(drop.forward(T.ones([1000])).toNumbers().some((v) => v === 0));
    assert.throws(() => bn.forward(T.zeros([4, 5])), /BatchNorm1d.*3 channels.*\[4,5\]/);
    assert.throws(() => new Dropout(2), /p must be in \[0, 1\]/);
    assert.throws(() => new Conv2d(3, 4, 1, { groups: 2 }), /divisible by groups 2/);
    const dw = new Conv2d(4, 4, 3, { groups: 4, padding: 1, bias: false });
    assert.deepStrictEqual(dw.weight.shape, [4, 1, 3, 3]);
    assert.strictEqual(dw.bias, null);
    assert.deepStrictEqual(dw.forward(T.zeros([1, 4, 5, 5])).shape, [1, 4, 5, 5]);
    dw.dispose();
  });
  bn.dispose();
  lin.dispose();
  assert.strictEqual(T.liveTensors(), start);
});

Deno.test("init: kaiming normal (fan_out, relu), normal, constant; PyTorch default bounds", () => {
  T.scope(() => {
    T.manualSeed(0);
    const w = T.zeros([64, 32, 3, 3]);
    kaimingNormal_(w, { mode: "fan_out", nonlinearity: "relu" });
    const std = Math.sqrt(w.square().mean().item());
    const want = Math.sqrt(2 / (64 * 9));
    assert.ok(Math.abs(std / want - 1) < 0.02, `std ${std} vs ${want}`);
    normal_(w, 5, 0.001);
    assert.ok(Math.abs(w.mean().item() - 5) < 1e-3);
    constant_(w, 0.25);
    assert.ok(w.toNumbers().every((v) => v === 0.25));
    const lin = new Linear(100, 50);
    const bound = 1 / Math.sqrt(100);
    assert.ok(lin.weight.abs().amax().item() <= bound);
    assert.ok(lin.weight.abs().amax().item() > 0.9 * bound);
    lin.dispose();
  });
});

Deno.test("weight files: saveSafetensors and loadWeightsFile (prefix, errors name the file)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "nn_test_" });
  const start = T.liveTensors();
  const a = net(), b = net();
  try {
    const path = `${dir}/w.safetensors`;
    await saveSafetensors(a, path, { arch: "test" });
    const file = await readSafetensors(path);
    assert.strictEqual(file.metadata.arch, "test");
    const prefixed: RawStateDict = new Map([...file.tensors].map(([k, v]) => [`module.${k}`, v]));
    const p2 = `${dir}/prefixed.safetensors`;
    await writeSafetensors(p2, prefixed);
    await assert.rejects(loadWeightsFile(b, p2), /prefixed\.safetensors: .*unexpected keys/);
    await loadWeightsFile(b, p2, { stripPrefix: "module." });
    const sa = a.stateDict();
    for (const [k, t] of b.stateDict()) {
      assert.deepStrictEqual(t.toNumbers(), sa.get(k)!.toNumbers(), k);
    }
  } finally {
    a.dispose();
    b.dispose();
    await Deno.remove(dir, { recursive: true });
  }
  assert.strictEqual(T.liveTensors(), start);
});

Deno.test("Module.to converts parameters and buffers, keeping gradient flags", () => {
  const start = T.liveTensors();
  const m = net();
  m.child("0").setRequiresGrad(false);
  m.to({ dtype: "float64" });
  const sd = m.stateDict();
  assert.strictEqual(sd.get("0.weight")!.dtype, "float64");
  assert.strictEqual(sd.get("1.num_batches_tracked")!.dtype, "int64");
  assert.strictEqual(sd.get("0.weight")!.requiresGrad, false);
  assert.strictEqual(sd.get("1.weight")!.requiresGrad, true);
  T.scope(() => {
    const y = m.child("3").forward(T.ones([2, 4], { dtype: "float64" }));
    assert.strictEqual(y.dtype, "float64");
  });
  m.dispose();
  assert.strictEqual(T.liveTensors(), start);
});

class Twice extends Module {
  readonly lin = this.registerModule("lin", new Linear(2, 2));
  forward(x: T.Tensor): T.Tensor {
    return this.lin.forward(x);
  }
}

Deno.test("Module: duplicate or dotted member names are refused", () => {
  const m = new Twice();
  assert.throws(
    () =>
      (m as unknown as { registerModule: (n: string, x: Module) => void }).registerModule(
        "lin",
        new ReLU(),
      ),
    /already has a member named "lin"/,
  );
  assert.throws(
    () =>
      (m as unknown as { registerModule: (n: string, x: Module) => void }).registerModule(
        "a.b",
        new ReLU(),
      ),
    /invalid name "a.b"/,
  );
  m.dispose();
});
