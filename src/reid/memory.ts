/**
 * The exemplar memory of ECN: one unit-length feature per target training image (N_t x d),
 * zeros at start, not a parameter. Its forward is `f · Kᵀ`; the backward gives `grad · K` and then
 * moves each batch sample's slot towards its feature (see `exemplarMemory` in src/tensor).
 *
 * @module
 */
import { cat, exemplarMemory, keep, type Tensor, TorchError, zeros } from "../tensor/mod.ts";
import type { DeviceLike } from "../tensor/dtype.ts";

/** One data-parallel step's target batch of every rank (see {@link ExemplarMemory.sharing}). */
export interface SharedBatch {
  /** All ranks' target features (detached), concatenated in rank order. */
  features: Tensor;
  /** All ranks' memory indexes (int64), in the same order. */
  indexes: Tensor;
  /** Where this rank's rows start. */
  offset: number;
}

/** The key memory K (value memory V[i] = i is implicit: each image is its own class). */
export class ExemplarMemory {
  /** N_t x d, float32; updated in place by the backward pass. */
  readonly keys: Tensor;
  #shared: SharedBatch | null = null;

  /** A zero memory for `numSamples` target images and `dim`-d features. */
  constructor(numSamples: number, dim: number, opts: { device?: DeviceLike } = {}) {
    if (!Number.isInteger(numSamples) || numSamples < 1) {
      throw new TorchError(
        "ExemplarMemory",
        `need a positive number of target images, got ${numSamples}`,
      );
    }
    this.keys = keep(zeros([numSamples, dim], { device: opts.device }));
  }

  /** Number of slots (target training images). */
  get size(): number {
    return this.keys.shape[0];
  }

  /** Feature dimension. */
  get dim(): number {
    return this.keys.shape[1];
  }

  /**
   * Similarities `f · Kᵀ` (B x N) of target features to every slot; backward updates the slots of
   * `indexes` with momentum `alpha` (α = alpha × epoch in ECN).
   */
  similarities(features: Tensor, indexes: Tensor, alpha: number): Tensor {
    const shared = this.#shared;
    if (!shared) return exemplarMemory(features, indexes, this.keys, alpha);
    // Data parallel: the memory op sees every rank's batch in rank order (ours in place, with its
    // gradient; the others' detached), so its backward applies the same updates in the same order
    // on every rank; the result keeps only our rows, whose gradient is that of the local batch.
    const b = features.shape[0];
    const n = shared.features.shape[0];
    if (shared.indexes.shape[0] !== n || shared.offset < 0 || shared.offset + b > n) {
      throw new TorchError(
        "ExemplarMemory.similarities",
        `the shared batch of ${n} features and ${shared.indexes.shape[0]} indexes does not hold ` +
          `this rank's ${b} rows at offset ${shared.offset}`,
      );
    }
    using before = shared.features.slice(0, 0, shared.offset);
    using after = shared.features.slice(0, shared.offset + b, n);
    using all = cat([before, features, after]);
    using sims = exemplarMemory(all, shared.indexes, this.keys, alpha);
    return sims.slice(0, shared.offset, shared.offset + b);
  }

  /**
   * Runs `fn` with `shared` (every rank's target features and indexes of this step, in rank order,
   * this rank's rows at `offset`) as the batch the memory updates from: see {@link similarities}.
   */
  sharing<R>(shared: SharedBatch, fn: () => R): R {
    this.#shared = shared;
    try {
      return fn();
    } finally {
      this.#shared = null;
    }
  }

  /** Replaces the memory's contents (checkpoint restore); shapes must agree. */
  load(keys: Tensor): void {
    const s = keys.shape;
    if (s.length !== 2 || s[0] !== this.size || s[1] !== this.dim) {
      throw new TorchError(
        "ExemplarMemory.load",
        `memory of shape [${s}] does not fit this run's [${this.size}, ${this.dim}] ` +
          "(a checkpoint from another target data set or feature size?)",
      );
    }
    this.keys.copy_(keys);
  }

  /** Frees the memory. */
  dispose(): void {
    this.keys.dispose();
  }
}
