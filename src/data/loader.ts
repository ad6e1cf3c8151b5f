/**
 * Batched, shuffled, parallel image loading.
 *
 * Decoding and augmentation run in Web Workers (`loader_worker.ts`), a whole batch per
 * job, with a configurable number of batches in flight; the finished Float32Array is
 * transferred, not copied. Every sample's randomness comes from (seed, epoch, position),
 * so batches are identical for any number of workers.
 */

import { Rng } from "../util/random.ts";
import { imageSize, type TransformConfig, validateTransformConfig } from "./transforms.ts";
import { imageLibraryPath } from "./codec_native.ts";
import { runJob, type WorkerInit, type WorkerJob, type WorkerReply } from "./loader_worker.ts";

/** One image of a data set. */
export interface LoaderItem {
  /** Image file (JPEG or PNG). */
  path: string;
  /** Person id. */
  pid: number;
  /** Camera, 0-based. */
  cam: number;
  /** Index reported in batches (e.g. the exemplar-memory slot); default: position in the list. */
  index?: number;
}

/** A batch of transformed images with their labels. */
export interface Batch {
  /** `size x 3 x height x width` floats, CHW per image. */
  images: Float32Array;
  /** Person ids. */
  pids: Int32Array;
  /** Cameras. */
  cams: Int32Array;
  /** Item indices (`item.index` or the position in the item list). */
  indices: Int32Array;
  /** The files actually read (after the path mapper). */
  paths: string[];
  /** Number of images. */
  size: number;
  /** Image height. */
  height: number;
  /** Image width. */
  width: number;
  /** The pass over the data this batch belongs to. */
  epoch: number;
  /** Batch number within the pass. */
  batch: number;
}

/**
 * Chooses the file to read for an item (e.g. a CamStyle copy); runs on the main thread
 * with a generator seeded by (seed, epoch, position), e.g.
 * `(item, rng) => camStyle.pickCamStyle(item, () => rng.next())`.
 */
export type PathMapper<T extends LoaderItem = LoaderItem> = (item: T, rng: Rng) => string;

/** Options of {@link DataLoader}. */
export interface LoaderOptions<T extends LoaderItem = LoaderItem> {
  /** Images per batch. */
  batchSize: number;
  /** The transform (see `trainTransformConfig` / `testTransformConfig`). */
  transform: TransformConfig;
  /** Shuffle every pass (seeded by seed and epoch); default false. */
  shuffle?: boolean;
  /** Drop the last incomplete batch; default false. */
  dropLast?: boolean;
  /** Seed of the order and of every random draw; default 0. */
  seed?: number;
  /** Worker count; 0 runs in the calling thread. Default: the number of cores. */
  workers?: number;
  /** Batches decoded ahead of the consumer; default max(2, workers). */
  prefetch?: number;
  /** Optional per-item file choice (CamStyle hook). */
  pathMapper?: PathMapper<T>;
}

/** RNG stream tags: [seed, epoch, position, stream]. */
const SHUFFLE_STREAM = 2;
const PATH_STREAM = 1;

interface PendingJob {
  job: WorkerJob;
  resolve: (images: Float32Array) => void;
  reject: (err: Error) => void;
}

/** A fixed set of loader workers with a FIFO job queue. */
class WorkerPool {
  #workers: Worker[] = [];
  #busy: (PendingJob | null)[] = [];
  #queue: PendingJob[] = [];
  #closed = false;
  #broken: Error | null = null;

  constructor(n: number) {
    const init: WorkerInit = { init: true, imageLibraryPath: imageLibraryPath() };
    for (let i = 0; i < n; i++) {
      const w = new Worker(new URL("./loader_worker.ts", import.meta.url), { type: "module" });
      w.onmessage = (e: MessageEvent<WorkerReply>) => this.#onReply(i, e.data);
      w.onerror = (e: ErrorEvent) => {
        // Handled here: without preventDefault an uncaught worker error ends the process.
        e.preventDefault();
        this.#fail(new Error(`loader worker ${i} crashed: ${e.message}`));
      };
      w.onmessageerror = () => this.#fail(new Error(`loader worker ${i}: unreadable reply`));
      w.postMessage(init);
      this.#workers.push(w);
      this.#busy.push(null);
    }
  }

  run(job: WorkerJob): Promise<Float32Array> {
    if (this.#broken) return Promise.reject(this.#broken);
    if (this.#closed) return Promise.reject(new Error("DataLoader is closed"));
    return new Promise((resolve, reject) => {
      this.#queue.push({ job, resolve, reject });
      this.#dispatch();
    });
  }

  #dispatch(): void {
    for (let i = 0; i < this.#workers.length && this.#queue.length > 0; i++) {
      if (this.#busy[i]) continue;
      const p = this.#queue.shift()!;
      this.#busy[i] = p;
      this.#workers[i].postMessage(p.job, p.job.buffer ? [p.job.buffer] : []);
    }
  }

  #onReply(i: number, reply: WorkerReply): void {
    const p = this.#busy[i];
    this.#busy[i] = null;
    if (p && p.job.id === reply.id) {
      if ("error" in reply) p.reject(new Error(reply.error));
      else p.resolve(reply.images);
    }
    this.#dispatch();
  }

  /**
   * A worker died outside a job's error handling (e.g. its module failed to load): fail
   * every job now and later ones too, rather than respawning a worker that may die again.
   */
  #fail(err: Error): void {
    if (this.#closed) return;
    this.#broken = new Error(`${err.message}; the loader cannot continue`);
    for (const p of [...this.#busy, ...this.#queue]) p?.reject(this.#broken);
    this.#busy.fill(null);
    this.#queue = [];
    this.close();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const w of this.#workers) w.terminate();
    const err = new Error("DataLoader closed while batches were being loaded");
    for (const p of [...this.#busy, ...this.#queue]) p?.reject(err);
    this.#busy.fill(null);
    this.#queue = [];
  }
}

/**
 * Loads batches of transformed images from a list of items. Close it (or use `using`)
 * to stop its workers.
 *
 * ```ts
 * using loader = new DataLoader(items, { batchSize: 128, shuffle: true, dropLast: true,
 *   transform: trainTransformConfig(), seed: 1 });
 * for await (const batch of loader.epoch(0)) train(batch);
 * ```
 */
export class DataLoader<T extends LoaderItem = LoaderItem> implements Disposable {
  readonly #items: T[];
  readonly #indices: Int32Array;
  readonly #batchSize: number;
  readonly #transform: TransformConfig;
  readonly #shuffle: boolean;
  readonly #dropLast: boolean;
  readonly #seed: number;
  readonly #workers: number;
  readonly #prefetch: number;
  readonly #pathMapper?: PathMapper<T>;
  #pool: WorkerPool | null = null;
  #spare: ArrayBuffer[] = [];
  #closed = false;
  #nextJob = 0;

  /** Validates the options; workers start on the first batch request. */
  constructor(items: T[], options: LoaderOptions<T>) {
    const bs = options.batchSize;
    if (!Number.isInteger(bs) || bs <= 0) {
      throw new Error(`DataLoader: batchSize must be a positive integer, got ${bs}`);
    }
    validateTransformConfig(options.transform);
    const workers = options.workers ?? navigator.hardwareConcurrency ?? 1;
    if (!Number.isInteger(workers) || workers < 0) {
      throw new Error(`DataLoader: workers must be an integer >= 0, got ${workers}`);
    }
    const prefetch = options.prefetch ?? Math.max(2, workers);
    if (!Number.isInteger(prefetch) || prefetch < 1) {
      throw new Error(`DataLoader: prefetch must be an integer >= 1, got ${prefetch}`);
    }
    this.#items = items.slice();
    this.#indices = new Int32Array(items.length);
    items.forEach((it, i) => {
      if (typeof it.path !== "string") {
        throw new Error(`DataLoader: item ${i} has no path (got ${JSON.stringify(it)})`);
      }
      this.#indices[i] = it.index ?? i;
    });
    this.#batchSize = bs;
    this.#transform = options.transform;
    this.#shuffle = options.shuffle ?? false;
    this.#dropLast = options.dropLast ?? false;
    this.#seed = options.seed ?? 0;
    this.#workers = workers;
    this.#prefetch = prefetch;
    this.#pathMapper = options.pathMapper;
  }

  /** Number of items. */
  get length(): number {
    return this.#items.length;
  }

  /** Batches in one pass (after drop-last). */
  get batchesPerEpoch(): number {
    const n = this.#items.length;
    return this.#dropLast ? Math.floor(n / this.#batchSize) : Math.ceil(n / this.#batchSize);
  }

  /** The item order of a pass: shuffled by (seed, epoch) or the list order. */
  order(epoch: number): Int32Array {
    const order = new Int32Array(this.#items.length);
    for (let i = 0; i < order.length; i++) order[i] = i;
    if (this.#shuffle) new Rng(this.#seed, epoch, -1, SHUFFLE_STREAM).shuffle(order);
    return order;
  }

  /** One pass over the data; `epoch` picks the shuffle and the augmentation draws. */
  async *epoch(epoch: number): AsyncGenerator<Batch, void, undefined> {
    this.#checkOpen();
    const order = this.order(epoch);
    const nb = this.batchesPerEpoch;
    const pending: Promise<Batch>[] = [];
    let next = 0;
    const refill = () => {
      while (next < nb && pending.length < this.#prefetch) {
        const p = this.#load(epoch, next++, order);
        // Batches abandoned by an early `break` must not become unhandled rejections.
        p.catch(() => {});
        pending.push(p);
      }
    };
    refill();
    while (pending.length > 0) {
      const batch = await pending.shift()!;
      refill();
      yield batch;
    }
  }

  /**
   * Endless batches: pass after pass, reshuffled each time (the target-side loader
   * that restarts when exhausted). Passes are numbered from `startEpoch`.
   */
  async *restarting(startEpoch = 0): AsyncGenerator<Batch, never, undefined> {
    if (this.batchesPerEpoch === 0) {
      throw new Error(
        `DataLoader.restarting: ${this.#items.length} items give no batch of ` +
          `${this.#batchSize}${this.#dropLast ? " with dropLast" : ""}; it would never yield`,
      );
    }
    for (let e = startEpoch;; e++) yield* this.epoch(e);
  }

  /**
   * Hands a consumed batch's image buffer back for reuse by a later batch. Optional, but
   * it saves allocating (and the kernel paging in) e.g. 25 MB per 64-image batch. The
   * batch's `images` must not be used afterwards: the buffer moves to a worker.
   */
  recycle(batch: Batch): void {
    const buf = batch.images.buffer;
    // A few spares cover the batches in flight; more would only hold memory.
    if (
      buf instanceof ArrayBuffer && buf.byteLength > 0 && this.#spare.length <= this.#prefetch &&
      !this.#spare.includes(buf) // recycling twice must not hand one buffer to two batches
    ) {
      this.#spare.push(buf);
    }
  }

  #checkOpen(): void {
    if (this.#closed) throw new Error("DataLoader is closed");
  }

  #load(epoch: number, b: number, order: Int32Array): Promise<Batch> {
    const start = b * this.#batchSize;
    const end = Math.min(start + this.#batchSize, order.length);
    const n = end - start;
    const pids = new Int32Array(n), cams = new Int32Array(n), indices = new Int32Array(n);
    const paths: string[] = new Array(n);
    const seeds: number[] = new Array(3 * n);
    for (let j = 0; j < n; j++) {
      const pos = start + j;
      const k = order[pos];
      const item = this.#items[k];
      pids[j] = item.pid;
      cams[j] = item.cam;
      indices[j] = this.#indices[k];
      paths[j] = this.#pathMapper
        ? this.#pathMapper(item, new Rng(this.#seed, epoch, pos, PATH_STREAM))
        : item.path;
      seeds[3 * j] = this.#seed;
      seeds[3 * j + 1] = epoch;
      seeds[3 * j + 2] = pos;
    }
    const job: WorkerJob = { id: this.#nextJob++, config: this.#transform, paths, seeds };
    const bytes = 4 * n * imageSize(this.#transform);
    const spare = this.#spare.findIndex((b) => b.byteLength === bytes);
    if (spare >= 0) job.buffer = this.#spare.splice(spare, 1)[0];
    const images = this.#workers === 0 ? this.#runInline(job) : this.#getPool().run(job);
    const { height, width } = this.#transform;
    return images.then((images) => ({
      images,
      pids,
      cams,
      indices,
      paths,
      size: n,
      height,
      width,
      epoch,
      batch: b,
    }));
  }

  async #runInline(job: WorkerJob): Promise<Float32Array> {
    // Yield first so the in-process mode stays asynchronous like the workers.
    await Promise.resolve();
    return runJob(job);
  }

  #getPool(): WorkerPool {
    this.#checkOpen();
    this.#pool ??= new WorkerPool(this.#workers);
    return this.#pool;
  }

  /** Terminates the workers; batches still loading reject. Idempotent. */
  close(): void {
    this.#closed = true;
    this.#pool?.close();
    this.#pool = null;
  }

  /** Same as {@link close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}
