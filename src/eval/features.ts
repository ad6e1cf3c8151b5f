/**
 * Feature extraction for query and gallery with a trained network, and feature files
 * (safetensors with the image names, ids and cameras) that any tool can write and read back.
 *
 * @module
 */
import { DataLoader } from "../data/loader.ts";
import type { ReidItem } from "../data/datasets.ts";
import type { TransformConfig } from "../data/transforms.ts";
import { readSafetensors, writeSafetensors } from "../nn/safetensors.ts";
import { type RawStateDict, toFloat32 } from "../nn/weights.ts";
import { normalize, scope, type Tensor, tensor } from "../tensor/mod.ts";
import type { DeviceLike } from "../tensor/dtype.ts";

/** Features of a set of images, one row each, with their labels. */
export interface FeatureSet {
  /** numImages x dim, row-major. */
  features: Float32Array;
  /** Feature width d. */
  dim: number;
  /** Image file names (relative to the data set root, or as given). */
  names: string[];
  /** Person identity per image. */
  ids: Int32Array;
  /** Camera per image. */
  cams: Int32Array;
}

/** Anything that maps an image batch (N, 3, H, W) to features (N, d) without gradients. */
export interface FeatureExtractor {
  /** Features (N, d) of a batch (N, 3, H, W): `kind` pool5 (default) or the embedding. */
  extract(x: Tensor, kind?: "pool5" | "embedding"): Tensor;
}

/** Options of {@link extractFeatures}. */
export interface ExtractOptions {
  /** Image preprocessing (normally the test transform). */
  transform: TransformConfig;
  /** Images per batch (default 64). */
  batchSize?: number;
  /** "pool5" (default, L2-normalized) or the L2-normalized embedding. */
  kind?: "pool5" | "embedding";
  /** Average with the horizontally flipped image's features (then L2-normalize again). */
  flip?: boolean;
  /** Where the network runs (default cpu). */
  device?: DeviceLike;
  /** Loader worker threads (default: the number of cores; 0 decodes in the calling thread). */
  workers?: number;
  /** Called after every batch with (done, total). */
  onProgress?: (done: number, total: number) => void;
}

/** Extracts features of `items` in order. */
export async function extractFeatures(
  model: FeatureExtractor,
  items: readonly ReidItem[],
  opts: ExtractOptions,
): Promise<FeatureSet> {
  if (items.length === 0) throw new Error("extractFeatures: no images to extract features from");
  const loader = new DataLoader(
    items.map((it, i) => ({ path: it.path, pid: it.pid, cam: it.cam, index: i })),
    { batchSize: opts.batchSize ?? 64, transform: opts.transform, workers: opts.workers },
  );
  let features: Float32Array | undefined;
  let dim = 0;
  let done = 0;
  try {
    for await (const batch of loader.epoch(0)) {
      const out = scope(() => {
        const x = tensor(batch.images, {
          shape: [batch.size, 3, batch.height, batch.width],
          device: opts.device,
        });
        let f = model.extract(x, opts.kind);
        if (opts.flip) f = normalize(f.add(model.extract(x.flip([3]), opts.kind)), { dim: 1 });
        return f.toArray() as Float32Array;
      });
      if (!features) {
        dim = out.length / batch.size;
        features = new Float32Array(items.length * dim);
      }
      features.set(out, done * dim);
      done += batch.size;
      loader.recycle(batch);
      opts.onProgress?.(done, items.length);
    }
  } finally {
    loader.close();
  }
  return {
    features: features!,
    dim,
    names: items.map((it) => it.path),
    ids: Int32Array.from(items, (it) => it.pid),
    cams: Int32Array.from(items, (it) => it.cam),
  };
}

function raw(dtype: "float32" | "int32", shape: number[], a: Float32Array | Int32Array) {
  return { dtype, shape, data: new Uint8Array(a.buffer, a.byteOffset, a.byteLength) };
}

/** Writes query and gallery features with their labels as one safetensors file (atomically). */
export async function saveFeatures(
  path: string,
  sets: { query: FeatureSet; gallery: FeatureSet },
  metadata: Record<string, string> = {},
): Promise<void> {
  const t: RawStateDict = new Map();
  const meta: Record<string, string> = { ...metadata, format: "ecn-reid-features/1" };
  for (const [name, s] of Object.entries(sets)) {
    const n = s.ids.length;
    t.set(`${name}.features`, raw("float32", [n, s.dim], s.features));
    t.set(`${name}.ids`, raw("int32", [n], s.ids));
    t.set(`${name}.cams`, raw("int32", [n], s.cams));
    meta[`${name}.names`] = JSON.stringify(s.names);
  }
  await writeSafetensors(path, t, meta);
}

/**
 * Reads a features file: `query.features` / `gallery.features` (N x d, any float type), and
 * `*.ids`, `*.cams` (integers) are required; names are optional. Errors name what is missing.
 */
export async function loadFeatures(
  path: string,
): Promise<{ query: FeatureSet; gallery: FeatureSet }> {
  const { tensors, metadata } = await readSafetensors(path);
  const one = (name: "query" | "gallery"): FeatureSet => {
    const f = tensors.get(`${name}.features`);
    if (!f || f.shape.length !== 2) {
      throw new Error(`${path}: no '${name}.features' tensor of shape (N, d)`);
    }
    const ints = (key: string): Int32Array => {
      const t = tensors.get(key);
      if (!t) {
        throw new Error(
          `${path}: '${key}' is missing: a features file needs identities and cameras for ` +
            `'${name}' (tensors ${name}.ids and ${name}.cams)`,
        );
      }
      if (t.shape.length !== 1 || t.shape[0] !== f.shape[0]) {
        throw new Error(`${path}: '${key}' has shape [${t.shape}], expected [${f.shape[0]}]`);
      }
      return Int32Array.from(toFloat32(t));
    };
    const names = metadata[`${name}.names`] ? JSON.parse(metadata[`${name}.names`]) : [];
    return {
      features: toFloat32(f),
      dim: f.shape[1],
      names,
      ids: ints(`${name}.ids`),
      cams: ints(`${name}.cams`),
    };
  };
  const query = one("query");
  const gallery = one("gallery");
  if (query.dim !== gallery.dim) {
    throw new Error(
      `${path}: query features are ${query.dim}-d but gallery features ${gallery.dim}-d`,
    );
  }
  return { query, gallery };
}
