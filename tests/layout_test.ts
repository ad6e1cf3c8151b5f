// Channels-last inference (src/nn/layout.ts): the tensor calls, and that the backbones' faster
// evaluation pass computes the same features as the row-major one. Both float32 passes are
// compared with a float64 pass of the same weights, so the check holds on any x86-64 CPU: each
// must sit within float32 rounding of the exact result (relative 1e-5; float32's epsilon is
// 1.2e-7, and the deepest sums here have a few thousand terms).
import "./native.ts";
import assert from "node:assert";
import * as T from "../src/tensor/mod.ts";
import { resnet } from "../src/nn/resnet.ts";
import { BatchNorm2d, type Conv2d } from "../src/nn/layers.ts";
import { loadMobileNetV2 } from "../src/nn/mobilenet.ts";
import { existsSync } from "node:fs";
import { wantsChannelsLast } from "../src/nn/layout.ts";
import { relError } from "./op_harness.ts";

Deno.test("contiguous('channels_last') keeps shape and values, changes strides", () => {
  T.scope(() => {
    const x = T.arange(2 * 3 * 4 * 5).reshape([2, 3, 4, 5]).to({ dtype: "float32" });
    assert.ok(x.isContiguous());
    assert.ok(!x.isContiguous("channels_last"));
    const cl = x.contiguous("channels_last");
    assert.deepStrictEqual(cl.shape, [2, 3, 4, 5]);
    assert.ok(cl.isContiguous("channels_last"));
    assert.ok(!cl.isContiguous());
    assert.deepStrictEqual(cl.toNumbers(), x.toNumbers());
    const back = cl.contiguous();
    assert.ok(back.isContiguous());
    assert.deepStrictEqual(back.toNumbers(), x.toNumbers());
  });
});

Deno.test("channels-last refuses tensors that are not 4-D, and unknown formats", () => {
  T.scope(() => {
    const v = T.zeros([2, 3, 4]);
    assert.throws(() => v.contiguous("channels_last"), {
      name: "TorchError",
      message: /channels-last needs a 4-D tensor \(N, C, H, W\), got 3-D/,
    });
    assert.throws(() => v.isContiguous("channels_last"), /4-D/);
    // deno-lint-ignore no-explicit-any
    assert.throws(() => v.contiguous("nhwc" as any), /memory format "nhwc": expected/);
  });
});

Deno.test("only float32 CPU evaluation passes switch layout", () => {
  T.scope(() => {
    const x = T.zeros([1, 3, 8, 8]);
    assert.ok(wantsChannelsLast(false, true, x));
    assert.ok(!wantsChannelsLast(true, true, x), "training stays row-major");
    assert.ok(!wantsChannelsLast(false, false, x), "switched off");
    assert.ok(!wantsChannelsLast(false, true, x.to({ dtype: "float64" })), "float64");
    assert.ok(!wantsChannelsLast(false, true, T.zeros([3, 8, 8])), "not 4-D");
  });
});

/** Runs `features` with the layout on and off in float32, and in float64, and compares. */
function checkLayouts(
  name: string,
  model: { channelsLastInference: boolean; to(o: { dtype: "float64" | "float32" }): unknown },
  features: (x: T.Tensor) => T.Tensor,
  x: T.Tensor,
): void {
  T.scope(() => {
    model.channelsLastInference = true;
    const fast = features(x);
    // Without gradients the pass also reuses its folded kernels and works in place.
    const fastNoGrad = T.noGrad(() => [features(x), features(x)]);
    model.channelsLastInference = false;
    const rowMajor = features(x);
    model.to({ dtype: "float64" });
    const exact = features(x.to({ dtype: "float64" })).toNumbers();
    model.to({ dtype: "float32" });
    model.channelsLastInference = true;
    const eFast = relError(fast.toNumbers(), exact);
    const eRow = relError(rowMajor.toNumbers(), exact);
    assert.ok(eFast < 1e-5, `${name}: channels-last pass off by ${eFast} (relative)`);
    assert.ok(eRow < 1e-5, `${name}: row-major pass off by ${eRow} (relative)`);
    for (const t of fastNoGrad) {
      const e = relError(t.toNumbers(), exact);
      assert.ok(e < 1e-5, `${name}: pass without gradients off by ${e} (relative)`);
    }
  });
}

/**
 * Non-trivial BatchNorms (fresh ones are the identity in evaluation mode), so that folding them
 * into the convolutions is really exercised.
 */
function randomizeBatchNorms(model: ReturnType<typeof resnet>): void {
  T.noGrad(() => {
    for (const [, m] of model.namedModules()) {
      if (!(m instanceof BatchNorm2d)) continue;
      const c = m.numFeatures;
      T.scope(() => {
        m.weight!.copy_(T.rand([c]).mul(0.5).add(0.75));
        m.bias!.copy_(T.randn([c]).mul(0.1));
        m.buffer("running_mean").copy_(T.randn([c]).mul(0.1));
        m.buffer("running_var").copy_(T.rand([c]).mul(0.5).add(0.75));
      });
    }
  });
}

Deno.test("ResNet-50 evaluation pass (channels-last, BatchNorm folded) equals the plain one", () => {
  T.manualSeed(3);
  const model = resnet(50, { numClasses: 10 }).eval();
  randomizeBatchNorms(model);
  const x = T.randn([2, 3, 32, 32]);
  // The pass really runs channels-last: layer4's map comes out in that layout.
  T.scope(() => assert.ok(model.forwardMap(x).isContiguous("channels_last")));
  model.channelsLastInference = false;
  T.scope(() => assert.ok(model.forwardMap(x).isContiguous()));
  checkLayouts("resnet50", model, (t) => model.forwardFeatures(t), x);
  // The trainable pass is untouched.
  model.train();
  T.scope(() => assert.ok(model.forwardMap(x).isContiguous()));
  model.dispose();
  x.dispose();
});

Deno.test("a training pass runs its frozen prefix (conv1..layer2) folded, with the same values", () => {
  T.manualSeed(5);
  const model = resnet(50, { numClasses: 10 });
  randomizeBatchNorms(model);
  model.train();
  // ECN's freeze: conv1..layer2 learn nothing and keep their BatchNorms in eval mode.
  for (const n of ["conv1", "bn1", "layer1", "layer2"]) {
    model.child(n).setRequiresGrad(false);
    model.child(n).eval();
  }
  // layer3/layer4 learn, but with evaluation BatchNorms here: batch statistics of a random
  // network make the float64 comparison ill-conditioned. The prefix looks at conv1..layer2 only.
  for (const n of ["layer3", "layer4"]) {
    for (const [, m] of model.child(n).namedModules()) {
      if (m instanceof BatchNorm2d) m.training = false;
    }
  }
  assert.ok(model.training, "the network itself is in training mode");
  const x = T.randn([4, 3, 128, 64]);
  const trainable = model.child("layer3").parameters()[0];
  const run = () =>
    T.scope(() => {
      const f = model.forwardFeatures(x);
      f.square().sum().backward();
      const out = { f: f.toNumbers(), g: trainable.grad!.toNumbers() };
      trainable.grad!.zero_();
      return out;
    });
  model.channelsLastInference = true;
  const fast = run();
  // conv1 + layer1 (3 blocks, one projection) + layer2 (4 blocks, one projection) folded.
  assert.strictEqual(model.foldedKernelCount, 1 + (3 * 3 + 1) + (4 * 3 + 1));
  assert.strictEqual(model.child("layer1").parameters()[0].grad, null, "frozen: no gradient");
  model.channelsLastInference = false;
  const plain = run();
  assert.strictEqual(model.foldedKernelCount, 0, "the plain training pass frees the folds");
  model.to({ dtype: "float64" });
  const exact = T.scope(() => model.forwardFeatures(x.to({ dtype: "float64" })).toNumbers());
  for (const [name, r] of [["plain", plain], ["folded prefix", fast]] as const) {
    const e = relError(r.f, exact);
    assert.ok(e < 1e-5, `${name}: features off by ${e} (relative)`);
  }
  // Gradients: the same up to ReLU kinks. Rounding-level differences in layer3's input flip a few
  // pre-activations that sit at zero, and each flip moves a weight gradient by a whole term (1e-4
  // relative seen here; against float64 the plain float32 pass is 5e-7 off, the folded 1e-4).
  const eg = relError(fast.g, plain.g);
  assert.ok(eg < 1e-3, `layer3 gradients differ by ${eg} (relative)`);
  assert.ok(plain.g.some((v) => v !== 0), "layer3 gets gradients");
  model.dispose();
  x.dispose();
});

const WEIGHTS = new URL("../../shared/weights/mobilenet_v2_imagenet.safetensors", import.meta.url)
  .pathname;

Deno.test({
  name: "MobileNetV2 (ImageNet) evaluation pass: channels-last equals row-major",
  ignore: !existsSync(WEIGHTS),
  fn: async () => {
    // Float32 against float32 (a float64 depthwise pass is slow): both layouts run oneDNN's
    // kernels over the same sums, so they agree far closer than 1e-5 of the largest feature.
    // The real weights, because a freshly initialized MobileNetV2 in evaluation mode gives
    // features near zero.
    using model = await loadMobileNetV2(WEIGHTS);
    model.eval();
    T.manualSeed(4);
    using x = T.randn([2, 3, 128, 64]);
    T.scope(() => {
      const fast = model.forwardFeatures(x).toNumbers();
      model.channelsLastInference = false;
      const rowMajor = model.forwardFeatures(x).toNumbers();
      const e = relError(fast, rowMajor);
      assert.ok(e < 1e-5, `mobilenet_v2: layouts differ by ${e} (relative)`);
      assert.ok(Math.max(...rowMajor.map(Math.abs)) > 0.1, "features too small to compare");
    });
  },
});

Deno.test("Tensor.version counts in-place writes", () => {
  T.scope(() => {
    const t = T.zeros([3]);
    const v = t.version;
    t.copy_(T.ones([3]));
    assert.strictEqual(t.version, v + 1);
    t.add_(1);
    assert.strictEqual(t.version, v + 2);
  });
});

Deno.test("folded kernels follow in-place changes of weights and statistics", () => {
  T.manualSeed(5);
  using model = resnet(18, { numClasses: 10 }).eval();
  using x = T.randn([2, 3, 32, 32]);
  const passes = () =>
    T.noGrad(() =>
      T.scope(() => {
        model.channelsLastInference = true;
        const fast = model.forwardFeatures(x).toNumbers();
        model.channelsLastInference = false;
        const plain = model.forwardFeatures(x).toNumbers();
        model.channelsLastInference = true;
        return { fast, plain };
      })
    );
  const before = passes();
  assert.ok(relError(before.fast, before.plain) < 1e-5);
  // Change a running variance and a kernel in place: the cached folds must not be used.
  const [, bn] = model.namedModules().find(([n]) => n === "layer1.0.bn1")!;
  const [, conv] = model.namedModules().find(([n]) => n === "layer2.0.conv1")!;
  T.noGrad(() => {
    (bn as BatchNorm2d).buffer("running_var").mul_(4);
    (conv as Conv2d).weight.mul_(-1);
  });
  const after = passes();
  assert.ok(relError(after.fast, after.plain) < 1e-5, "stale folded kernels");
  assert.ok(relError(after.fast, before.fast) > 1e-2, "the change had no effect");
  // A training pass (which also updates the running statistics) is followed by current folds.
  model.train();
  T.scope(() => model.forwardFeatures(x));
  model.eval();
  const again = passes();
  assert.ok(relError(again.fast, again.plain) < 1e-5, "stale after training");
  assert.ok(relError(again.fast, after.fast) > 1e-3, "the training pass had no effect");
});
