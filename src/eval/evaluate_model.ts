/**
 * Evaluating a network on a data set: query and gallery features extracted with the test
 * transform, then the Market-1501 protocol ({@link evaluateFeatures}). The one path of both the
 * trainer's evaluation and `deno task eval`.
 *
 * @module
 */
import type { ReidItem } from "../data/datasets.ts";
import type { TransformConfig } from "../data/transforms.ts";
import type { ReRankOptions } from "./rerank.ts";
import type { Metric } from "./distance.ts";
import { evaluateFeatures, type Evaluation } from "./evaluate.ts";
import { extractFeatures, type FeatureExtractor, type FeatureSet } from "./features.ts";
import type { DeviceLike } from "../tensor/dtype.ts";

/** Options of {@link evaluateModel}. */
export interface EvaluateModelOptions {
  /** Resize and normalization of the images (the test transform). */
  transform: TransformConfig;
  /** Which feature: pool5 (default) or the embedding, L2-normalized. */
  kind?: "pool5" | "embedding";
  /** Average with the horizontally flipped images' features. */
  flip?: boolean;
  /** Where the network and the distances run (default cpu). */
  device?: DeviceLike;
  /** Images per batch (default 128). */
  batchSize?: number;
  /** Loader worker threads (default: the number of cores; 0 decodes in the calling thread). */
  workers?: number;
  /** Distance between features (default euclidean). */
  metric?: Metric;
  /** k-reciprocal re-ranking. */
  rerank?: boolean | ReRankOptions;
  /** Keep the top `keepTop` gallery matches per query (for ranking pages). */
  keepTop?: number;
  /** Called with (images done, query + gallery images): once with 0, then after every batch. */
  onProgress?: (done: number, total: number) => void;
}

/** An evaluation with the features it was computed from. */
export interface ModelEvaluation {
  /** The figures (and top matches when asked for). */
  evaluation: Evaluation;
  /** Query features. */
  query: FeatureSet;
  /** Gallery features. */
  gallery: FeatureSet;
  /** Seconds spent on distances and metrics (after extraction). */
  metricSeconds: number;
}

/** The query and gallery splits of a data set. */
export interface QueryGallery {
  /** Query images. */
  query: readonly ReidItem[];
  /** Gallery images. */
  gallery: readonly ReidItem[];
}

/** Extracts query and gallery features of `dataset` with `model` and evaluates them. */
export async function evaluateModel(
  model: FeatureExtractor,
  dataset: QueryGallery,
  opts: EvaluateModelOptions,
): Promise<ModelEvaluation> {
  const total = dataset.query.length + dataset.gallery.length;
  opts.onProgress?.(0, total);
  const common = {
    transform: opts.transform,
    kind: opts.kind,
    flip: opts.flip,
    device: opts.device,
    batchSize: opts.batchSize ?? 128,
    workers: opts.workers,
  };
  const query = await extractFeatures(model, dataset.query, {
    ...common,
    onProgress: (d) => opts.onProgress?.(d, total),
  });
  const gallery = await extractFeatures(model, dataset.gallery, {
    ...common,
    onProgress: (d) => opts.onProgress?.(dataset.query.length + d, total),
  });
  const t0 = performance.now();
  const evaluation = evaluateFeatures(query, gallery, {
    metric: opts.metric,
    rerank: opts.rerank,
    keepTop: opts.keepTop,
    device: opts.device,
  });
  return { evaluation, query, gallery, metricSeconds: (performance.now() - t0) / 1000 };
}
