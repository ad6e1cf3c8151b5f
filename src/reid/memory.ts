/**
 * The exemplar memory of ECN: one unit-length feature per target training image (N_t x d),
 * zeros at start, not a parameter. Its forward is `f · Kᵀ`; the backward gives `grad · K` and then
 * moves each batch sample's slot towards its feature (see `exemplarMemory` in src/tensor).
 *
 * @module
 */
import { exemplarMemory, keep, type Tensor, TorchError, zeros } from "../tensor/mod.ts";
import type { DeviceLike } from "../tensor/dtype.ts";

/** The key memory K (value memory V[i] = i is implicit: each image is its own class). */
export class ExemplarMemory {
  /** N_t x d, float32; updated in place by the backward pass. */
  readonly keys: Tensor;

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
    return exemplarMemory(features, indexes, this.keys, alpha);
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
