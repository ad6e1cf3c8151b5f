// MobileNetV2 against torchvision with the shared ImageNet file (outputs, gradients, running
// statistics in eval and train mode), and end to end: the sample photos' top-1 classes.
import "./native.ts";
import assert from "node:assert";
import { existsSync } from "node:fs";
import { readImage } from "../src/data/image.ts";
import { classifyImages } from "../src/nn/classify.ts";
import { IMAGENET_CLASSES } from "../src/nn/imagenet_classes.ts";
import {
  IMAGENET_NORMALIZATION,
  loadMobileNetV2,
  MobileNetV2,
  weightsNormalization,
} from "../src/nn/mobilenet.ts";
import { rawToTensor } from "../src/nn/state_dict.ts";
import { readSafetensors, writeSafetensors } from "../src/nn/safetensors.ts";
import { type RawStateDict, type RawTensor, readWeights } from "../src/nn/weights.ts";
import * as T from "../src/tensor/mod.ts";
import { prng } from "./op_harness.ts";
import { oracleTest, runOracleJson } from "./oracle/oracle.ts";

const WEIGHTS = new URL("../../shared/weights/mobilenet_v2_imagenet.safetensors", import.meta.url)
  .pathname;
const SAMPLES = new URL("../../shared/weights/samples/", import.meta.url).pathname;
const HAVE_WEIGHTS = existsSync(WEIGHTS);
if (!HAVE_WEIGHTS) {
  console.warn(`mobilenet tests: ${WEIGHTS} is absent; the tests that need it are skipped`);
}

/** A float32 raw tensor of N(0, 1) samples. */
function randomRaw(shape: number[], rnd: () => number): RawTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = Math.max(rnd(), 1e-12);
    a[i] = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rnd());
  }
  return { dtype: "float32", shape, data: new Uint8Array(a.buffer) };
}

Deno.test("MobileNetV2: torchvision's layout, parameter count and init statistics", () => {
  T.manualSeed(0);
  using m = new MobileNetV2();
  const sd = m.stateDict();
  // torchvision: 158 parameters + 52 BatchNorms x 3 buffers, 3,504,872 parameters.
  assert.strictEqual(m.namedParameters().length, 158);
  assert.strictEqual(sd.size, 158 + 52 * 3);
  assert.strictEqual(m.parameters().reduce((s, p) => s + p.numel, 0), 3504872);
  assert.deepStrictEqual(sd.get("features.0.0.weight")!.shape, [32, 3, 3, 3]);
  assert.deepStrictEqual(sd.get("features.1.conv.0.0.weight")!.shape, [32, 1, 3, 3]);
  assert.deepStrictEqual(sd.get("features.2.conv.1.0.weight")!.shape, [96, 1, 3, 3]);
  assert.deepStrictEqual(sd.get("features.18.0.weight")!.shape, [1280, 320, 1, 1]);
  assert.deepStrictEqual(sd.get("classifier.1.weight")!.shape, [1000, 1280]);
  // kaiming normal fan_out on a 1x1 conv 320->1280: std sqrt(2 / 1280).
  const w = sd.get("features.18.0.weight")!.toNumbers();
  const std = Math.sqrt(w.reduce((s, v) => s + v * v, 0) / w.length);
  assert.ok(Math.abs(std / Math.sqrt(2 / 1280) - 1) < 0.02, `conv std ${std}`);
  const lin = sd.get("classifier.1.weight")!.toNumbers();
  const lstd = Math.sqrt(lin.reduce((s, v) => s + v * v, 0) / lin.length);
  assert.ok(Math.abs(lstd / 0.01 - 1) < 0.02, `linear std ${lstd}`);
  assert.ok(sd.get("classifier.1.bias")!.toNumbers().every((v) => v === 0));
  using x = T.randn([1, 3, 64, 32]);
  m.eval();
  T.scope(() => assert.deepStrictEqual(m.forwardFeatures(x).shape, [1, 1280]));
  using bare = new MobileNetV2({ numClasses: 0 });
  assert.ok(bare.namedParameters().every(([n]) => n.startsWith("features.")));
  assert.throws(() => bare.forward(x), /no classifier/);
});

Deno.test({
  name: "MobileNetV2: the shared file loads strictly and asks for mean/std 0.5",
  ignore: !HAVE_WEIGHTS,
  fn: async () => {
    assert.deepStrictEqual(await weightsNormalization(WEIGHTS), {
      mean: [0.5, 0.5, 0.5],
      std: [0.5, 0.5, 0.5],
    });
    using m = await loadMobileNetV2(WEIGHTS);
    const raw = await readWeights(WEIGHTS);
    const got = m.stateDict().get("features.5.conv.1.1.running_var")!.toNumbers();
    using want = rawToTensor(raw.get("features.5.conv.1.1.running_var")!);
    assert.deepStrictEqual(got, want.toNumbers());
    // A file without the metadata falls back to ImageNet's; a broken file is named.
    const dir = Deno.makeTempDirSync();
    try {
      const partial: RawStateDict = new Map(
        [...raw].filter(([k]) => k !== "features.3.conv.2.weight"),
      );
      await writeSafetensors(`${dir}/partial.safetensors`, partial);
      assert.deepStrictEqual(await weightsNormalization(`${dir}/partial.safetensors`), {
        mean: [...IMAGENET_NORMALIZATION.mean],
        std: [...IMAGENET_NORMALIZATION.std],
      });
      await assert.rejects(
        loadMobileNetV2(`${dir}/partial.safetensors`),
        /partial\.safetensors.*missing keys \(1\): features\.3\.conv\.2\.weight/,
      );
      await writeSafetensors(`${dir}/bad.safetensors`, partial, { normalize_std: "0.5,0.5" });
      await assert.rejects(weightsNormalization(`${dir}/bad.safetensors`), /normalize_std/);
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
});

/** max |a - b| / max(max |b|, floor): relative error with an absolute floor. */
function errWithFloor(a: number[], b: number[], floor: number): number {
  let diff = 0, scale = floor;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return a.length === b.length ? diff / scale : Infinity;
}

// Eval-mode outputs are compared in float32, as the network runs. Train mode (batch statistics
// of a batch of 2: ill-conditioned, so float32 results depend on the CPU's summation order) and
// gradients are compared in float64: with this file many activations sit at ReLU6's 0/6 edges, so float32
// rounding flips which units pass gradient (torchvision's own float32 gradients differ from
// its float64 ones by up to 50 % on some BN biases), and the pw-linear BN biases have a true
// gradient of ~0 (the next train-mode BN removes constant shifts), hence the absolute floor.
oracleTest("MobileNetV2 equals torchvision: logits, features, gradients, BN stats", async () => {
  if (!HAVE_WEIGHTS) {
    console.warn(`skipped: ${WEIGHTS} is absent`);
    return;
  }
  const rnd = prng(2024);
  const dir = Deno.makeTempDirSync();
  try {
    // float64 convolutions are slow on the CPU (no depthwise kernel): smaller images there.
    const files: Record<string, RawStateDict> = {};
    for (const [dtype, h, w] of [["float32", 128, 64], ["float64", 64, 32]] as const) {
      files[dtype] = new Map([
        ["x", randomRaw([2, 3, h, w], rnd)],
        ["r_logits", randomRaw([2, 1000], rnd)],
        ["r_feat", randomRaw([2, 1280], rnd)],
      ]);
      await writeSafetensors(`${dir}/${dtype}.safetensors`, files[dtype]);
    }
    const cases = [
      { name: "eval32", training: false, seed: 11, dtype: "float32" as const },
      { name: "eval64", training: false, seed: 13, dtype: "float64" as const },
      { name: "train64", training: true, seed: 14, dtype: "float64" as const },
    ].map((c) => ({ ...c, input: `${dir}/${c.dtype}.safetensors` }));
    await runOracleJson("mobilenet_reference.py", { weights: WEIGHTS, out_dir: dir, cases });
    const weights = await readWeights(WEIGHTS);
    for (const c of cases) {
      const want = (await readSafetensors(`${dir}/${c.name}.safetensors`)).tensors;
      const ref = (k: string) => {
        using t = rawToTensor(want.get(k)!, k);
        return t.toNumbers();
      };
      using m = new MobileNetV2();
      m.loadStateDict(weights);
      m.to({ dtype: c.dtype });
      m.train(c.training);
      T.scope(() => {
        const [x, rl, rf] = ["x", "r_logits", "r_feat"].map((k) =>
          rawToTensor(files[c.dtype].get(k)!).to({ dtype: c.dtype })
        );
        T.manualSeed(c.seed);
        const feat = m.forwardFeatures(x);
        const logits = m.classifier!.forward(feat);
        logits.mul(rl).sum().add(feat.mul(rf).sum()).backward();
        const errs: string[] = [];
        const cmp = (label: string, got: number[], key: string, floor = 1e-6) => {
          const e = errWithFloor(got, ref(key), floor);
          if (!(e <= 1e-4)) errs.push(`${label}: relative error ${e.toExponential(2)}`);
        };
        cmp("logits", logits.toNumbers(), "logits");
        cmp("features", feat.toNumbers(), "feat");
        for (const [name, b] of m.namedBuffers()) {
          if (b.dtype === c.dtype) cmp(`buffer ${name}`, b.toNumbers(), `after.${name}`);
        }
        if (c.dtype === "float64") {
          const grads = m.namedParameters().map(([name, p]) => {
            assert.ok(p.grad, `${c.name}: ${name} got no gradient`);
            return [name, p.grad.toNumbers(), ref(`grad.${name}`)] as const;
          });
          const top = grads.reduce(
            (t, [, , w]) => w.reduce((u, v) => Math.max(u, Math.abs(v)), t),
            0,
          );
          for (const [name, got, w] of grads) {
            const e = errWithFloor(got, w, 1e-6 * top);
            if (!(e <= 1e-4)) errs.push(`grad ${name}: relative error ${e.toExponential(2)}`);
          }
        }
        assert.deepStrictEqual(errs, [], `${c.name}:\n${errs.join("\n")}`);
      });
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test({
  name: "MobileNetV2: the sample photos get the expected top-1 ImageNet classes",
  ignore: !HAVE_WEIGHTS || !existsSync(`${SAMPLES}expected.json`),
  fn: async () => {
    const expected = JSON.parse(Deno.readTextFileSync(`${SAMPLES}expected.json`))
      .expected as Record<string, { top1_index: number; top3_indices: number[] }>;
    assert.ok(Object.keys(expected).length >= 5);
    const norm = await weightsNormalization(WEIGHTS);
    using m = await loadMobileNetV2(WEIGHTS);
    const names = Object.keys(expected).sort();
    const images = await Promise.all(names.map((n) => readImage(`${SAMPLES}${n}`)));
    const results = classifyImages(m, images, norm, 3);
    names.forEach((n, i) => {
      const top = results[i];
      assert.strictEqual(
        top[0].index,
        expected[n].top1_index,
        `${n}: top-1 ${top[0].index} (${top[0].name}), expected ${expected[n].top1_index}`,
      );
      assert.strictEqual(top[0].name, IMAGENET_CLASSES[expected[n].top1_index]);
      assert.ok(top[0].prob > 0.5 && top[0].prob <= 1, `${n}: p ${top[0].prob}`);
    });
  },
});
