/**
 * `deno task classify --weights FILE [--top K] IMAGE...`: ImageNet top-K classes of photos with a
 * MobileNetV2 or ResNet weight file (torchvision layout), e.g. the project's
 * `../shared/weights/mobilenet_v2_imagenet.safetensors` or the ResNet-50 that
 * `deno task weights resnet50` writes (its stride placement comes from the file's metadata).
 * Preprocessing: bilinear resize to 224x224 (Pillow's), RGB in [0, 1], normalized with the
 * file's metadata (`normalize_mean` / `normalize_std`; ImageNet's when absent).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { readImage, resizeBilinear, type RgbImage } from "../data/image.ts";
import { IMAGENET_CLASSES } from "../nn/imagenet_classes.ts";
import {
  loadMobileNetV2,
  type MobileNetV2,
  type Normalization,
  weightsNormalization,
} from "../nn/mobilenet.ts";
import type { Module } from "../nn/module.ts";
import { loadResNet } from "../nn/resnet.ts";
import { readWeights } from "../nn/weights.ts";
import { noGrad, scope, type Tensor, tensor } from "../tensor/mod.ts";

const USAGE = `usage: deno task classify --weights FILE [--top K] IMAGE...
  --weights FILE   MobileNetV2 or ResNet weights (safetensors or .pth, torchvision layout,
                   1000 classes)
  --top K          classes to print per image (default 5)`;

/** Input side length of the ImageNet classifier. */
export const CLASSIFY_SIZE = 224;

/** One ranked class of an image. */
export interface ClassScore {
  /** ImageNet class index. */
  index: number;
  /** Class name. */
  name: string;
  /** Softmax probability. */
  prob: number;
}

/**
 * `img` as a normalized (1, 3, size, size) float tensor: bilinear resize (equal to PIL's
 * `resize((size, size), BILINEAR)`), /255, then (x - mean) / std in float32 as torchvision does.
 */
export function imageToInput(img: RgbImage, norm: Normalization, size = CLASSIFY_SIZE): Tensor {
  const small = resizeBilinear(img, size, size);
  const plane = size * size;
  const out = new Float32Array(3 * plane);
  const f = Math.fround;
  for (let c = 0; c < 3; c++) {
    const m = f(norm.mean[c]), s = f(norm.std[c]);
    for (let i = 0; i < plane; i++) {
      out[c * plane + i] = f(f(small.data[i * 3 + c] / 255) - m) / s;
    }
  }
  return tensor(out, { shape: [1, 3, size, size] });
}

/**
 * The ImageNet classifier of a weight file: a ResNet when it has `fc.weight` (depth from its keys,
 * stride placement from its metadata), else a MobileNetV2.
 */
export async function loadClassifier(path: string): Promise<MobileNetV2 | Module> {
  const keys = await readWeights(path);
  return keys.has("fc.weight") ? await loadResNet(path) : await loadMobileNetV2(path);
}

/** The `k` most probable ImageNet classes of each image (the model is put in eval mode). */
export function classifyImages(
  model: MobileNetV2 | Module,
  images: RgbImage[],
  norm: Normalization,
  k = 5,
): ClassScore[][] {
  model.eval();
  return images.map((img) =>
    scope(() =>
      noGrad(() => {
        const x = imageToInput(img, norm);
        const probs = model.forward(x).softmax(1).toNumbers();
        if (probs.length !== IMAGENET_CLASSES.length) {
          throw new Error(
            `classify: the model has ${probs.length} classes, ImageNet names need ` +
              `${IMAGENET_CLASSES.length}`,
          );
        }
        return probs.map((prob, index) => ({ index, name: IMAGENET_CLASSES[index], prob }))
          .sort((a, b) => b.prob - a.prob)
          .slice(0, k);
      })
    )
  );
}

/** Runs the command with `args`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: {
        weights: { type: "string" },
        top: { type: "string", default: "5" },
        help: { type: "boolean", short: "h", default: false },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    console.error(`${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const top = Number(values.top);
  if (!values.weights || positionals.length === 0 || !Number.isInteger(top) || top < 1) {
    console.error(`--weights FILE, --top K >= 1 and at least one IMAGE are required\n${USAGE}`);
    return 2;
  }
  try {
    const norm = await weightsNormalization(values.weights);
    using model = await loadClassifier(values.weights);
    for (const path of positionals) {
      const [scores] = classifyImages(model, [await readImage(path)], norm, top);
      console.log(path);
      for (const s of scores) {
        console.log(`  ${(s.prob * 100).toFixed(2).padStart(6)}%  ${s.index}  ${s.name}`);
      }
    }
    return 0;
  } catch (e) {
    console.error(`classify: ${(e as Error).message}`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
