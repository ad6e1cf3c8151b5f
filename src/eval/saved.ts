/**
 * Evaluating what was saved: a training run's checkpoint or an ImageNet weight file (features
 * extracted from a data set's query/gallery with {@link evaluateModel}), or a features file.
 * The work of `deno task eval`; its reports are written by src/eval/report.ts.
 *
 * @module
 */
import type { ReidDataset } from "../data/datasets.ts";
import { testTransformConfig, type TransformConfig } from "../data/transforms.ts";
import type { EcnArch, EcnNet } from "../reid/ecn_net.ts";
import { loadImagenetBackbone, loadTrainedModel } from "../reid/pretrained.ts";
import type { Metric } from "./distance.ts";
import { evaluateFeatures } from "./evaluate.ts";
import { evaluateModel, type ModelEvaluation } from "./evaluate_model.ts";
import { loadFeatures, saveFeatures } from "./features.ts";
import type { DeviceLike } from "../tensor/dtype.ts";

/** What {@link evaluateSaved} evaluates (exactly one of checkpoint, weights, features) and how. */
export interface EvaluateSavedOptions {
  /** A training run folder or checkpoint file (its settings give size and normalization). */
  checkpoint?: string;
  /** An ImageNet backbone weight file (pool5 features, no training). */
  weights?: string;
  /** The backbone of `weights` (default resnet50). */
  arch?: EcnArch;
  /** A features file (safetensors: query.features/ids/cams, gallery.*), evaluated as it is. */
  features?: string;
  /** The data set whose query/gallery are evaluated (with `checkpoint` or `weights`). */
  dataset?: ReidDataset;
  /** Which feature: pool5 (default) or the embedding. */
  kind?: "pool5" | "embedding";
  /** Average with the horizontally flipped images' features. */
  flip?: boolean;
  /** Distance between features (default euclidean). */
  metric?: Metric;
  /** k-reciprocal re-ranking (k1 20, k2 6, lambda 0.3). */
  rerank?: boolean;
  /** Where the network and distances run (default cpu). */
  device?: DeviceLike;
  /** Images per batch (default 128). */
  batchSize?: number;
  /** Loader worker threads (default: the number of cores). */
  workers?: number;
  /** Input height (default: the checkpoint's, or 256 for weight files). */
  height?: number;
  /** Input width (default: the checkpoint's, or 128 for weight files). */
  width?: number;
  /** Top gallery matches kept per query for the ranking page (default 30). */
  keepTop?: number;
  /** Also write the extracted features here (safetensors). */
  saveFeatures?: string;
  /** Feature extraction progress: (images done, query + gallery images). */
  onProgress?: (done: number, total: number) => void;
}

/** An evaluation of a saved model or features. */
export interface SavedEvaluation extends ModelEvaluation {
  /** What was evaluated on what, e.g. `runs/x/checkpoint.safetensors (epoch 6) on B`. */
  title: string;
  /** The checkpoint file read (with `checkpoint`). */
  checkpointPath?: string;
}

/** Evaluates a checkpoint, a weight file or a features file; see {@link EvaluateSavedOptions}. */
export async function evaluateSaved(opts: EvaluateSavedOptions): Promise<SavedEvaluation> {
  const given = [opts.checkpoint, opts.weights, opts.features].filter(Boolean).length;
  if (given !== 1) {
    throw new Error("evaluateSaved: give exactly one of checkpoint, weights, features");
  }
  if (opts.features) {
    const { query, gallery } = await loadFeatures(opts.features);
    const t0 = performance.now();
    const evaluation = evaluateFeatures(query, gallery, {
      metric: opts.metric,
      rerank: opts.rerank,
      keepTop: opts.keepTop ?? 30,
      device: opts.device,
    });
    const metricSeconds = (performance.now() - t0) / 1000;
    return { evaluation, query, gallery, metricSeconds, title: opts.features };
  }
  const ds = opts.dataset;
  if (!ds) throw new Error("evaluateSaved: a data set is needed to extract features");
  if (ds.query.length === 0) throw new Error(`${ds.root}: the query set is empty`);
  if (ds.gallery.length === 0) throw new Error(`${ds.root}: the gallery is empty`);
  const size = (h: number, w: number) => ({ height: opts.height ?? h, width: opts.width ?? w });
  let model: EcnNet;
  let transform: TransformConfig;
  let title: string;
  let checkpointPath: string | undefined;
  if (opts.checkpoint) {
    const t = await loadTrainedModel(opts.checkpoint);
    model = t.model;
    transform = testTransformConfig({
      ...size(t.config.height, t.config.width),
      mean: t.config.mean ?? undefined,
      std: t.config.std ?? undefined,
    });
    title = `${t.path} (epoch ${t.epoch}) on ${ds.name}`;
    checkpointPath = t.path;
  } else {
    const arch = opts.arch ?? "resnet50";
    const b = await loadImagenetBackbone(opts.weights!, arch);
    model = b.model;
    transform = testTransformConfig({
      ...size(256, 128),
      mean: b.normalization.mean,
      std: b.normalization.std,
    });
    title = `${opts.weights} (${arch}, ImageNet) on ${ds.name}`;
  }
  let r: ModelEvaluation;
  try {
    r = await evaluateModel(model, ds, {
      transform,
      kind: opts.kind,
      flip: opts.flip,
      device: opts.device,
      batchSize: opts.batchSize,
      workers: opts.workers,
      metric: opts.metric,
      rerank: opts.rerank,
      keepTop: opts.keepTop ?? 30,
      onProgress: opts.onProgress,
    });
  } finally {
    model.dispose();
  }
  if (opts.saveFeatures) {
    await saveFeatures(opts.saveFeatures, { query: r.query, gallery: r.gallery }, {
      source: title,
    });
  }
  return { ...r, title, checkpointPath };
}
