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
import { readImage } from "../data/image.ts";
import { classifyImages, loadClassifier } from "../nn/classify.ts";
import { weightsNormalization } from "../nn/mobilenet.ts";
import { configureFromEnv } from "./env.ts";

const USAGE = `usage: deno task classify --weights FILE [--top K] IMAGE...
  --weights FILE   MobileNetV2 or ResNet weights (safetensors or .pth, torchvision layout,
                   1000 classes)
  --top K          classes to print per image (default 5)`;

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
    configureFromEnv();
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
