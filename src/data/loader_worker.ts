/**
 * Loader worker: reads, decodes and transforms the images of one batch into a fresh
 * Float32Array and transfers its buffer back (no copy). Errors come back as messages
 * that name the file, so the consumer can rethrow them. The first message ({@link WorkerInit})
 * says which codec library to load: the main thread's.
 */

import { configureImageCodec } from "./codec_native.ts";
import { decodeImage } from "./image.ts";
import { Rng } from "../util/random.ts";
import { applyTransform, imageSize, type TransformConfig } from "./transforms.ts";

/** A batch request from the loader. */
export interface WorkerJob {
  /** Job id, echoed in the reply. */
  id: number;
  /** The transform to apply. */
  config: TransformConfig;
  /** Files to read, in batch order. */
  paths: string[];
  /** Per-sample RNG seed parts, 3 per sample: (seed, epoch, position). */
  seeds: number[];
  /** A recycled buffer of exactly the batch's size to fill (saves allocating and paging in). */
  buffer?: ArrayBuffer;
}

/** The first message to a worker: the codec library the main thread uses. */
export interface WorkerInit {
  /** Marks the message. */
  init: true;
  /** Path of the image codec library (see configureImageCodec). */
  imageLibraryPath: string;
}

/** A worker's reply: the images, or an error message naming the file. */
export type WorkerReply =
  | { id: number; images: Float32Array }
  | { id: number; error: string };

/** Stream tag of the per-sample transform RNG (the path mapper uses another). */
export const TRANSFORM_STREAM = 0;

/** Fills a batch; shared by the workers and the in-process (0 workers) mode. */
export function runJob(job: WorkerJob): Float32Array {
  const per = imageSize(job.config);
  const n = per * job.paths.length;
  const images = job.buffer?.byteLength === 4 * n
    ? new Float32Array(job.buffer)
    : new Float32Array(n);
  for (let i = 0; i < job.paths.length; i++) {
    const path = job.paths[i];
    let bytes: Uint8Array;
    try {
      bytes = Deno.readFileSync(path);
    } catch (e) {
      throw new Error(
        `${path}: cannot read image file: ${e instanceof Error ? e.message : String(e)}`,
      );
    }
    const img = decodeImage(bytes, path);
    const rng = job.config.kind === "train"
      ? new Rng(job.seeds[3 * i], job.seeds[3 * i + 1], job.seeds[3 * i + 2], TRANSFORM_STREAM)
      : undefined;
    applyTransform(img, job.config, rng, images, i * per);
  }
  return images;
}

/** The parts of the worker global scope used here (no `deno.worker` lib: it would retype `self` for every importer). */
interface WorkerScope {
  onmessage: ((e: MessageEvent<WorkerJob | WorkerInit>) => void) | null;
  postMessage(msg: WorkerReply, transfer?: Transferable[]): void;
}

// Only wire up messaging inside a worker: the module is also imported by the loader.
if ("WorkerGlobalScope" in globalThis) {
  const scope = globalThis as unknown as WorkerScope;
  scope.onmessage = (e) => {
    if ("init" in e.data) {
      configureImageCodec({ libraryPath: e.data.imageLibraryPath });
      return;
    }
    const job = e.data;
    let images: Float32Array;
    try {
      images = runJob(job);
    } catch (err) {
      scope.postMessage({ id: job.id, error: err instanceof Error ? err.message : String(err) });
      return;
    }
    scope.postMessage({ id: job.id, images }, [images.buffer as ArrayBuffer]);
  };
}
