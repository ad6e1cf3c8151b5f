/**
 * Data-parallel sharding of a loader's passes, as PyTorch's DistributedSampler: every rank draws
 * the same permutation of the whole list from (seed, pass), and global batch `b` of `batchSize ×
 * worldSize` items is split into `worldSize` consecutive slices, rank r taking the r-th. The ranks'
 * batches of one step, concatenated in rank order, are thus exactly the batch one process with
 * `batchSize × worldSize` would draw; the shares of a pass are disjoint, and the tail that does not
 * fill a global batch is dropped (every rank gets the same number of equal batches).
 *
 * @module
 */
import { type Batch, DataLoader, type LoaderItem, type LoaderOptions } from "../data/loader.ts";

/** What the trainer needs of a loader: passes, an endless stream, buffer recycling, close. */
export interface BatchSource {
  /** Batches in one pass. */
  readonly batchesPerEpoch: number;
  /** One pass; `epoch` picks the shuffle. */
  epoch(epoch: number): AsyncGenerator<Batch, void, undefined>;
  /** Pass after pass from `startEpoch`. */
  restarting(startEpoch?: number): AsyncGenerator<Batch, never, undefined>;
  /** Hands a consumed batch's buffer back. */
  recycle(batch: Batch): void;
  /** Stops the workers. */
  close(): void;
}

/**
 * Rank `rank`'s share of a pass's `order` (positions into the item list): for each full global
 * batch of `batchSize × worldSize`, the `rank`-th slice of `batchSize`.
 */
export function shardOrder(
  order: Int32Array,
  batchSize: number,
  rank: number,
  worldSize: number,
): Int32Array {
  if (!Number.isInteger(worldSize) || worldSize < 1) {
    throw new Error(`shardOrder: worldSize must be a positive integer, got ${worldSize}`);
  }
  if (!Number.isInteger(rank) || rank < 0 || rank >= worldSize) {
    throw new Error(`shardOrder: rank ${rank} out of range [0, ${worldSize})`);
  }
  const global = batchSize * worldSize;
  const nb = Math.floor(order.length / global);
  const out = new Int32Array(nb * batchSize);
  for (let b = 0; b < nb; b++) {
    const from = b * global + rank * batchSize;
    out.set(order.subarray(from, from + batchSize), b * batchSize);
  }
  return out;
}

/**
 * A loader that yields only rank `rank`'s share of each pass (see the module doc). Augmentation
 * and path-mapper draws are seeded by (seed + rank, pass, position in the share). Options as
 * {@link DataLoader}'s; `dropLast` is implied.
 */
export class ShardedLoader<T extends LoaderItem = LoaderItem> implements BatchSource {
  readonly #items: T[];
  readonly #options: LoaderOptions<T>;
  readonly #order: DataLoader<T>;
  readonly #rank: number;
  readonly #world: number;
  #current: DataLoader<T> | null = null;
  #closed = false;

  /** Shards `items` for `rank` of `worldSize`. */
  constructor(items: T[], options: LoaderOptions<T>, rank: number, worldSize: number) {
    shardOrder(new Int32Array(0), options.batchSize, rank, worldSize); // validates rank and size
    this.#items = items.slice();
    this.#options = options;
    // Only for the permutation (no workers start: it never loads).
    this.#order = new DataLoader(items, { ...options, workers: 0 });
    this.#rank = rank;
    this.#world = worldSize;
  }

  /** Batches of `batchSize` this rank gets in one pass (full global batches only). */
  get batchesPerEpoch(): number {
    return Math.floor(this.#items.length / (this.#options.batchSize * this.#world));
  }

  /** The positions (into the item list) of this rank's share of pass `epoch`. */
  share(epoch: number): Int32Array {
    return shardOrder(this.#order.order(epoch), this.#options.batchSize, this.#rank, this.#world);
  }

  /** This rank's batches of pass `epoch`. */
  async *epoch(epoch: number): AsyncGenerator<Batch, void, undefined> {
    if (this.#closed) throw new Error("ShardedLoader is closed");
    const items = Array.from(this.share(epoch), (k) => this.#items[k]);
    const loader = new DataLoader(items, {
      ...this.#options,
      shuffle: false,
      dropLast: true,
      seed: (this.#options.seed ?? 0) + this.#rank,
    });
    this.#current?.close();
    this.#current = loader;
    try {
      yield* loader.epoch(epoch);
    } finally {
      loader.close();
      if (this.#current === loader) this.#current = null;
    }
  }

  /** Endless: this rank's share of pass after pass from `startEpoch`. */
  async *restarting(startEpoch = 0): AsyncGenerator<Batch, never, undefined> {
    if (this.batchesPerEpoch === 0) {
      throw new Error(
        `ShardedLoader.restarting: ${this.#items.length} items give no global batch of ` +
          `${this.#options.batchSize} x ${this.#world} processes; it would never yield`,
      );
    }
    for (let e = startEpoch;; e++) yield* this.epoch(e);
  }

  /** Hands a batch's buffer to the current pass's loader. */
  recycle(batch: Batch): void {
    this.#current?.recycle(batch);
  }

  /** Stops the current pass's workers. Idempotent. */
  close(): void {
    this.#closed = true;
    this.#current?.close();
    this.#current = null;
  }
}
