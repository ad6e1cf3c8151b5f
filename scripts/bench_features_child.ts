/**
 * This project's side of `deno task bench:features`, in a process of its own (so that its peak
 * resident memory is its own): ResNet-50 pool5 features (L2-normalized, as the ECN evaluation's)
 * of the images in a JSON list, with the evaluation pipeline (`extractFeatures`: loader worker
 * threads decoding with libjpeg-turbo, the test transform, batches on libtorch).
 *
 * Prints JSON {images, seconds, imagesPerS, peakRssBytes, threads, dim, height, width,
 * batchSize, workers}; `seconds` runs from the start of extraction to all features in hand (the
 * network is built before).
 *
 * Usage: deno run -A scripts/bench_features_child.ts LIST.json BATCH WORKERS [WEIGHTS]
 * (LIST.json: [{path, pid, cam}, ...], as scripts/bench_features.ts writes it)
 *
 * @module
 */
import type { ReidItem } from "../src/data/datasets.ts";
import { testTransformConfig } from "../src/data/transforms.ts";
import { extractFeatures, type FeatureExtractor } from "../src/eval/features.ts";
import { loadResNet, type ResNet, resnet } from "../src/nn/resnet.ts";
import { getNumThreads, manualSeed, noGrad, normalize, type Tensor } from "../src/tensor/mod.ts";
import { configureFromEnv } from "../src/cli/env.ts";
import { peakRssBytes } from "./bench_cpu_child.ts";

/** The test input size both sides use. */
export const HEIGHT = 256, WIDTH = 128;

/** A ResNet as a {@link FeatureExtractor}: L2-normalized pool5, no gradients (eval mode). */
function pool5(model: ResNet): FeatureExtractor {
  return {
    extract(x: Tensor): Tensor {
      return noGrad(() => {
        using f = model.forwardFeatures(x);
        return normalize(f, { dim: 1 });
      });
    },
  };
}

if (import.meta.main) {
  configureFromEnv();
  const [list, batch, workers, weights] = Deno.args;
  const batchSize = Number(batch), nWorkers = Number(workers);
  const entries = JSON.parse(Deno.readTextFileSync(list)) as Omit<ReidItem, "index">[];
  const items: ReidItem[] = entries.map((e, index) => ({ ...e, index }));
  manualSeed(0);
  const model = (weights ? await loadResNet(weights) : resnet(50)).eval();
  const t0 = performance.now();
  const set = await extractFeatures(pool5(model), items, {
    transform: testTransformConfig({ height: HEIGHT, width: WIDTH }),
    batchSize,
    workers: nWorkers,
  });
  const seconds = (performance.now() - t0) / 1000;
  model.dispose();
  console.log(JSON.stringify({
    images: set.ids.length,
    seconds,
    imagesPerS: set.ids.length / seconds,
    peakRssBytes: peakRssBytes(),
    threads: getNumThreads(),
    dim: set.dim,
    height: HEIGHT,
    width: WIDTH,
    batchSize,
    workers: nWorkers,
  }));
}
