// conv2dFused (native/fused_conv.cpp): relu(conv2d(x, w, b) + residual) as one oneDNN kernel
// where the shim has it, libtorch's three ops elsewhere. Both paths are compared with a float64
// pass of the same tensors (libtorch's own ops), so the check holds on any x86-64 CPU: float32
// rounding of sums of at most a few hundred terms stays far below the 1e-5 relative bound, and a
// missing bias, residual or ReLU misses it by orders of magnitude.
import "./native.ts";
import assert from "node:assert";
import * as T from "../src/tensor/mod.ts";
import { relError } from "./op_harness.ts";

interface Geometry {
  cin: number;
  cout: number;
  k: number;
  stride: number;
  padding: number;
  dilation: number;
  h: number;
  w: number;
}

const GEOMETRIES: Geometry[] = [
  { cin: 16, cout: 32, k: 1, stride: 1, padding: 0, dilation: 1, h: 8, w: 6 }, // bottleneck 1x1
  { cin: 16, cout: 16, k: 3, stride: 1, padding: 1, dilation: 1, h: 9, w: 7 }, // 3x3
  { cin: 16, cout: 32, k: 1, stride: 2, padding: 0, dilation: 1, h: 9, w: 7 }, // downsample
  { cin: 3, cout: 16, k: 7, stride: 2, padding: 3, dilation: 1, h: 17, w: 11 }, // the stem
  { cin: 8, cout: 8, k: 3, stride: 1, padding: 2, dilation: 2, h: 10, w: 6 }, // dilated
  { cin: 8, cout: 8, k: 3, stride: 2, padding: 1, dilation: 1, h: 8, w: 5 }, // odd output edge
];

function outSize(g: Geometry): [number, number] {
  const o = (n: number) =>
    Math.floor((n + 2 * g.padding - g.dilation * (g.k - 1) - 1) / g.stride) + 1;
  return [o(g.h), o(g.w)];
}

/** relu?(conv2d(x, w, b) + r?) in float64 with libtorch's separate ops. */
function reference(
  x: T.Tensor,
  w: T.Tensor,
  b: T.Tensor | null,
  g: Geometry,
  residual: T.Tensor | null,
  relu: boolean,
): number[] {
  return T.scope(() => {
    const f64 = { dtype: "float64" as const };
    let y = T.conv2d(x.to(f64), w.to(f64), b ? b.to(f64) : null, {
      stride: g.stride,
      padding: g.padding,
      dilation: g.dilation,
    });
    if (residual) y = y.add(residual.to(f64));
    return (relu ? y.relu() : y).toNumbers();
  });
}

function eachPath(body: (native: boolean) => void): void {
  const was = T.fusedConvolutionIsNative();
  try {
    for (const on of [true, false]) body(T.setFusedConvolution(on));
  } finally {
    T.setFusedConvolution(was);
  }
}

Deno.test("conv2dFused equals conv2d + residual + ReLU (float64) on both paths", () => {
  eachPath((native) => {
    for (const g of GEOMETRIES) {
      for (
        const [bias, withResidual, relu] of [[true, true, true], [true, false, true], [
          false,
          true,
          false,
        ], [true, false, false]] as const
      ) {
        T.scope(() => {
          const x = T.randn([2, g.cin, g.h, g.w]).contiguous("channels_last");
          const w = T.randn([g.cout, g.cin, g.k, g.k], { std: 0.2 }).contiguous("channels_last");
          const b = bias ? T.randn([g.cout]) : null;
          const [oh, ow] = outSize(g);
          const r = withResidual ? T.randn([2, g.cout, oh, ow]).contiguous("channels_last") : null;
          const before = r?.toNumbers();
          const y = T.conv2dFused(x, w, b, {
            stride: g.stride,
            padding: g.padding,
            dilation: g.dilation,
            residual: r,
            relu,
          });
          const label = `${JSON.stringify(g)} bias ${bias} residual ${withResidual} relu ${relu}` +
            ` native ${native}`;
          assert.deepStrictEqual(y.shape, [2, g.cout, oh, ow], label);
          const err = relError(y.toNumbers(), reference(x, w, b, g, r, relu));
          assert.ok(err < 1e-5, `${label}: relative error ${err}`);
          if (r) assert.deepStrictEqual(r.toNumbers(), before, `${label}: residual kept`);
        });
      }
    }
  });
});

Deno.test("conv2dFused accumulates into a residual the caller gives up", () => {
  eachPath((native) => {
    T.scope(() => {
      const g = GEOMETRIES[1];
      const x = T.randn([2, g.cin, g.h, g.w]).contiguous("channels_last");
      const w = T.randn([g.cout, g.cin, g.k, g.k], { std: 0.2 }).contiguous("channels_last");
      const r = T.randn([2, g.cout, g.h, g.w]).contiguous("channels_last");
      const want = reference(x, w, null, g, r, true);
      const y = T.conv2dFused(x, w, null, {
        padding: 1,
        residual: r,
        relu: true,
        consumeResidual: true,
      });
      assert.ok(relError(y.toNumbers(), want) < 1e-5);
      // The oneDNN path writes the result into the residual's buffer (no extra activation).
      if (native) assert.deepStrictEqual(r.toNumbers(), y.toNumbers());
      // A residual that shares its buffer with another tensor is never overwritten.
      const shared = T.randn([2, g.cout, g.h, g.w]).contiguous("channels_last");
      const alias = shared.detach(); // another tensor on the same storage
      const kept = alias.toNumbers();
      const wantShared = reference(x, w, null, g, shared, false);
      const z = T.conv2dFused(x, w, null, { padding: 1, residual: shared, consumeResidual: true });
      assert.ok(relError(z.toNumbers(), wantShared) < 1e-5);
      assert.deepStrictEqual(alias.toNumbers(), kept, `native ${native}: shared residual kept`);
    });
  });
});

Deno.test("conv2dFused follows kernels changed in place and kernels replaced", () => {
  eachPath(() => {
    T.scope(() => {
      const g = GEOMETRIES[0];
      const x = T.randn([2, g.cin, g.h, g.w]).contiguous("channels_last");
      const w = T.randn([g.cout, g.cin, 1, 1]).contiguous("channels_last");
      const first = T.conv2dFused(x, w, null, { relu: true });
      assert.ok(relError(first.toNumbers(), reference(x, w, null, g, null, true)) < 1e-5);
      w.mul_(-2); // same tensor, new version: a cached reordered kernel would be stale
      const second = T.conv2dFused(x, w, null, { relu: true });
      assert.ok(relError(second.toNumbers(), reference(x, w, null, g, null, true)) < 1e-5);
      // Kernels freed and new ones made, many times: no reordered copy outlives its tensor's
      // identity (a new tensor may reuse a freed one's address).
      for (let i = 0; i < 20; i++) {
        T.scope(() => {
          const k = T.randn([g.cout, g.cin, 1, 1]).contiguous("channels_last");
          const y = T.conv2dFused(x, k, null, {});
          assert.ok(relError(y.toNumbers(), reference(x, k, null, g, null, false)) < 1e-5);
        });
      }
    });
  });
});

Deno.test("conv2dFused with gradients, row-major inputs and groups uses libtorch's ops", () => {
  T.scope(() => {
    const g = GEOMETRIES[1];
    const x = T.randn([2, g.cin, g.h, g.w]).contiguous("channels_last").setRequiresGrad();
    const w = T.randn([g.cout, g.cin, 3, 3], { std: 0.2 });
    const r = T.randn([2, g.cout, g.h, g.w]);
    const y = T.conv2dFused(x, w, null, { padding: 1, residual: r, relu: true });
    y.sum().backward();
    const gx = x.grad!.toNumbers();
    const x2 = x.detach().setRequiresGrad();
    T.conv2d(x2, w, null, { padding: 1 }).add(r).relu().sum().backward();
    assert.ok(relError(gx, x2.grad!.toNumbers()) < 1e-5, "input gradient");
    T.noGrad(() => {
      const rowMajor = T.randn([2, g.cin, g.h, g.w]);
      const z = T.conv2dFused(rowMajor, w, null, { padding: 1, relu: true });
      assert.ok(relError(z.toNumbers(), reference(rowMajor, w, null, g, null, true)) < 1e-5);
      const wg = T.randn([g.cout, g.cin / 2, 3, 3]);
      const zg = T.conv2dFused(rowMajor, wg, null, { padding: 1, groups: 2 });
      const want = T.conv2d(rowMajor.to({ dtype: "float64" }), wg.to({ dtype: "float64" }), null, {
        padding: 1,
        groups: 2,
      });
      assert.ok(relError(zg.toNumbers(), want.toNumbers()) < 1e-5, "groups 2");
    });
  });
});

Deno.test("conv2dFused names a residual of the wrong shape and bad flags", () => {
  eachPath(() => {
    T.scope(() => {
      const x = T.randn([1, 4, 6, 6]).contiguous("channels_last");
      const w = T.randn([8, 4, 3, 3]).contiguous("channels_last");
      const r = T.randn([1, 8, 5, 5]).contiguous("channels_last");
      assert.throws(
        () => T.conv2dFused(x, w, null, { padding: 1, residual: r }),
        (e: Error) =>
          e.name === "TorchError" &&
          /residual of shape \[1, 8, 5, 5\] does not match the convolution's output \[1, 8, 6, 6\]/
            .test(e.message),
      );
      assert.throws(() => T.conv2dFused(T.randn([4, 6, 6]), w), /4-d input/);
    });
  });
});

Deno.test("setFusedConvolution switches the oneDNN path and reports it", () => {
  const was = T.fusedConvolutionIsNative();
  try {
    assert.strictEqual(T.setFusedConvolution(false), false);
    assert.strictEqual(T.fusedConvolutionIsNative(), false);
    const on = T.setFusedConvolution(true);
    assert.strictEqual(T.fusedConvolutionIsNative(), on);
    if (!on) {
      console.warn(
        "fused_conv_test: the shim was built without oneDNN's headers (libdnnl-dev) or against a " +
          "libtorch with its own oneDNN: only libtorch's path was checked",
      );
    }
  } finally {
    T.setFusedConvolution(was);
  }
});
