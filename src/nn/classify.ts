/**
 * ImageNet classification with a MobileNetV2 or ResNet weight file (torchvision layout): the
 * input preprocessing (Pillow's bilinear resize to 224x224, RGB in [0, 1], normalized as the
 * file's metadata says) and the top classes by name ({@link IMAGENET_CLASSES}). The image resize
 * comes from src/data/image.ts (plain TypeScript, no data set code).
 *
 * @module
 */
import { resizeBilinear, type RgbImage } from "../data/image.ts";
import { IMAGENET_CLASSES } from "./imagenet_classes.ts";
import { loadMobileNetV2, type MobileNetV2, type Normalization } from "./mobilenet.ts";
import type { Module } from "./module.ts";
import { loadResNet } from "./resnet.ts";
import { readWeights } from "./weights.ts";
import { noGrad, scope, type Tensor, tensor } from "../tensor/mod.ts";

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
