// The public API keeps native handles private: mod.ts exports no handle plumbing, a Tensor cannot
// be built from a pointer, exposes none, and sgdStep hands out Tensors only.
import "./native.ts";
import assert from "node:assert";
import * as E from "../mod.ts";
import * as T from "../src/tensor/mod.ts";
import { lib } from "../src/ffi/library.ts";

const INTERNALS = [
  "wrap",
  "check",
  "handleOf",
  "keptTensor",
  "dimsBuffer",
  "handleList",
  "raise",
  "DTYPE_CODE",
  "dtypeCode",
  "dtypeFromCode",
  "currentScope",
  "Scope",
  "lib",
];

Deno.test("mod.ts and src/tensor/mod.ts export no handle internals", () => {
  for (const m of [E, T]) {
    const leaked = INTERNALS.filter((name) => name in m);
    assert.deepStrictEqual(leaked, [], `exported internals: ${leaked}`);
  }
});

Deno.test("a Tensor neither comes from nor gives out a raw pointer", () => {
  const p = lib().ts_full(new BigInt64Array([2n]), 1, 0, 6, 0, 0)!;
  try {
    const Ctor = E.Tensor as unknown as new (...a: unknown[]) => unknown;
    assert.throws(() => new Ctor(p), TypeError);
    assert.throws(() => new Ctor(undefined, p), TypeError);
  } finally {
    lib().ts_free(p);
  }
  using t = E.zeros([2]);
  const proto = Object.getOwnPropertyNames(Object.getPrototypeOf(t));
  assert.ok(!proto.includes("handle"), "Tensor.prototype.handle exists");
  for (const v of Object.values(t)) {
    assert.ok(typeof v !== "object" || v === null || !("value" in v));
  }
  assert.strictEqual(String(t), "Tensor[2] float32 cpu");
});

Deno.test("sgdStep creates momentum buffers as Tensors that outlive scopes", () => {
  const start = E.liveTensors();
  using p = E.ones([3]);
  E.scope(() => p.setGrad(E.ones([3])));
  const bufs: Array<E.Tensor | undefined> = [undefined];
  E.scope(() => {
    assert.strictEqual(E.sgdStep([p], bufs, { lr: 0.5, momentum: 0.9 }), 1);
  });
  assert.ok(bufs[0] instanceof E.Tensor, "a Tensor, not a pointer");
  assert.deepStrictEqual(bufs[0].toNumbers(), [1, 1, 1], "the buffer survived the scope");
  assert.deepStrictEqual(p.toNumbers(), [0.5, 0.5, 0.5]);
  assert.strictEqual(E.sgdStep.length, 3, "no callback parameter");
  bufs[0].dispose();
  p.setGrad(null);
  p.dispose();
  assert.strictEqual(E.liveTensors(), start);
});
