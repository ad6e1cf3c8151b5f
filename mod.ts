/**
 * ECN for Deno: domain-adaptive person re-identification on libtorch.
 *
 * Layers (each reaches only downward): the tensor library over the native shim, weight files,
 * re-ID data, evaluation. See README.md.
 *
 * @example
 * ```ts
 * import { scope, randn } from "./mod.ts";
 * const s = scope(() => randn([4, 8]).mm(randn([8, 2])).sum().item());
 * ```
 *
 * @module
 */

// Tensors, autograd, functional nn ops, scopes, errors, runtime settings.
export * from "./src/tensor/mod.ts";

// Weight files: safetensors, PyTorch .pth (zip and legacy), atomic writes.
export {
  type RawDtype,
  type RawStateDict,
  type RawTensor,
  readWeights,
  stripKeyPrefix,
  toFloat32,
} from "./src/nn/weights.ts";
export { readSafetensors, writeSafetensors } from "./src/nn/safetensors.ts";
export { readPth } from "./src/nn/pth.ts";
export { writeFileAtomic } from "./src/util/atomic.ts";

// Re-ID data: data set readers, CamStyle, the synthetic generator, images.
export { loadReidDataset, type ReidDataset, type ReidItem } from "./src/data/datasets.ts";
export { CamStyleIndex, generateCamStyle } from "./src/data/camstyle.ts";
export { generateSyntheticDomains, type SyntheticOptions } from "./src/data/synthetic.ts";
export { decodeImage, encodeJpeg, encodePng, readImage, type RgbImage } from "./src/data/image.ts";

// Evaluation: CMC / mAP (both definitions) / mINP, k-reciprocal re-ranking.
export {
  evaluateRanking,
  RankingAccumulator,
  type RankingOptions,
  type RankingResult,
} from "./src/eval/metrics.ts";
export { reRank, type ReRankOptions } from "./src/eval/rerank.ts";
