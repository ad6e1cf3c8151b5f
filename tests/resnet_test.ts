// ResNet-18 and ResNet-50 against torchvision with the same random weights: eval logits and pool5,
// train-mode outputs, running statistics after the forward, and every parameter gradient.
import "./native.ts";
import assert from "node:assert";
import * as T from "../src/tensor/mod.ts";
import { readWeights } from "../src/nn/weights.ts";
import { readSafetensors } from "../src/nn/safetensors.ts";
import { rawToTensor } from "../src/nn/state_dict.ts";
import { resnet } from "../src/nn/resnet.ts";
import { relError } from "./op_harness.ts";
import { oracleTest, runOracleJson } from "./oracle/oracle.ts";

// Both sides compute in float64: train-mode BatchNorm over a batch of 2 divides by a variance of
// few values, which amplifies float32 rounding (whose order depends on the CPU's kernels and
// thread count) far past any useful tolerance; in float64 the amplified rounding stays near 1e-12.
const TOL = 1e-9;

async function compareWithTorchvision(
  depth: number,
  batch: number,
  height: number,
  width: number,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "resnet_test_" });
  const numClasses = 7;
  try {
    const { keys } = await runOracleJson<{ keys: string[] }>("resnet_reference.py", {
      depth,
      num_classes: numClasses,
      batch,
      height,
      width,
      seed: depth,
      dir,
      dtype: "float64",
    });
    const start = T.liveTensors();
    const model = resnet(depth, { numClasses });
    assert.deepStrictEqual([...model.stateDict().keys()], keys, "state dict keys and order");
    model.loadStateDict(await readWeights(`${dir}/model.pth`));
    model.to({ dtype: "float64" });
    const io = (await readSafetensors(`${dir}/io.safetensors`)).tensors;
    const want = (name: string): number[] => {
      const raw = io.get(name);
      assert.ok(raw, `oracle output ${name} missing`);
      const buf = raw.data.slice().buffer;
      if (raw.dtype === "float64") return Array.from(new Float64Array(buf));
      if (raw.dtype === "int64") return Array.from(new BigInt64Array(buf), Number);
      throw new Error(`oracle output ${name} is ${raw.dtype}, expected float64 or int64`);
    };
    let worst = 0;
    const check = (label: string, got: T.Tensor, name: string) => {
      const e = relError(got.toNumbers(), want(name));
      if (Deno.env.get("ECN_SHOW_ERRORS")) worst = Math.max(worst, e);
      assert.ok(e <= TOL, `ResNet-${depth} ${label}: relative error ${e} > ${TOL}`);
    };

    T.scope(() => {
      const x = rawToTensor(io.get("x")!);
      model.eval();
      T.noGrad(() => {
        check("eval pool5", model.forwardFeatures(x), "pool5");
        check("eval logits", model.forward(x), "logits");
      });
      model.train();
      const feat = model.forwardFeatures(x);
      check("train pool5", feat, "train.pool5");
      const fc = model.child("fc");
      const logits = fc.forward(feat);
      check("train logits", logits, "train.logits");
      logits.mul(rawToTensor(io.get("grad_out")!)).sum().backward();
    });
    for (const [name, b] of model.namedBuffers()) check(`buffer ${name}`, b, `after.${name}`);
    for (const [name, p] of model.namedParameters()) {
      T.scope(() => {
        const g = p.grad;
        assert.ok(g, `no gradient for ${name}`);
        check(`grad ${name}`, g, `grad.${name}`);
      });
      p.zeroGrad();
    }
    if (Deno.env.get("ECN_SHOW_ERRORS")) {
      console.log(`ResNet-${depth}: worst relative error ${worst}`);
    }
    model.dispose();
    assert.strictEqual(T.liveTensors(), start, "the model and the step leave no tensor behind");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

oracleTest("ResNet-18 equals torchvision (eval, train, running stats, gradients)", async () => {
  await compareWithTorchvision(18, 2, 64, 64);
});

oracleTest("ResNet-50 equals torchvision (eval, train, running stats, gradients)", async () => {
  await compareWithTorchvision(50, 2, 64, 32);
});

Deno.test("resnet: layout, feature widths and bad depth", () => {
  const start = T.liveTensors();
  const m18 = resnet(18, { numClasses: 5 });
  assert.strictEqual(m18.featureDim, 512);
  assert.strictEqual(m18.child("layer2.0.downsample.0").constructor.name, "Conv2d");
  assert.throws(() => m18.child("layer1.0.downsample"), /no child "downsample"/);
  const counts = m18.namedParameters().length;
  assert.strictEqual(counts, 62); // torchvision resnet18: 62 parameter tensors
  T.scope(() => {
    const y = m18.eval().forwardFeatures(T.randn([1, 3, 32, 32]));
    assert.deepStrictEqual(y.shape, [1, 512]);
  });
  m18.dispose();
  const m50 = resnet(50);
  assert.strictEqual(m50.featureDim, 2048);
  assert.strictEqual(m50.namedParameters().length, 161);
  assert.strictEqual(m50.namedBuffers().length, 53 * 3);
  m50.dispose();
  assert.throws(() => resnet(20), /depth must be one of 18, 34, 50, 101, 152, got 20/);
  assert.strictEqual(T.liveTensors(), start);
});
