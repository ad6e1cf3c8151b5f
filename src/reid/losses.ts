/**
 * ECN's invariance learning on the target domain: exemplar-invariance (cross-entropy on the
 * image's own slot), camera-invariance (the same loss on CamStyle copies, chosen by the loader)
 * and neighborhood-invariance (soft labels over the k nearest slots, from epoch 5 on).
 *
 * @module
 */
import { crossEntropy, type Tensor, TorchError, zeros } from "../tensor/mod.ts";
import type { ExemplarMemory } from "./memory.ts";

/** Settings of the target-domain loss (reference defaults in brackets). */
export interface InvarianceOptions {
  /** Temperature β [0.05]. */
  beta: number;
  /** Neighbours k for neighborhood-invariance; 0 turns it off [6]. */
  knn: number;
  /** Memory momentum per epoch: α = alpha × epoch [0.01]. */
  alpha: number;
  /** First (0-based) epoch with neighborhood-invariance [5]. */
  neighborhoodFromEpoch: number;
}

/** The reference defaults. */
export const DEFAULT_INVARIANCE: Readonly<InvarianceOptions> = {
  beta: 0.05,
  knn: 6,
  alpha: 0.01,
  neighborhoodFromEpoch: 5,
};

/**
 * Soft targets of neighborhood-invariance: the k highest-scoring slots get 1/k each, then the
 * image's own slot is set to 1 (as the reference's `smooth_hot`).
 */
export function neighborhoodTargets(logits: Tensor, indexes: Tensor, k: number): Tensor {
  const [b, n] = logits.shape;
  if (k < 1 || k > n) throw new TorchError("neighborhoodTargets", `k = ${k} must be in [1, ${n}]`);
  using top = logits.detach().topk(k, { dim: 1 }).indices;
  using z = zeros([b, n], { device: logits.device });
  using spread = z.scatter(1, top, 1 / k);
  using own = indexes.unsqueeze(1);
  return spread.scatter(1, own, 1);
}

/**
 * The target loss for one batch: similarities to the memory / β, then plain cross-entropy on the
 * own slot, or, from `neighborhoodFromEpoch` on (and knn > 0), the soft-label loss
 * −Σ_j t_j log softmax(logits)_j averaged over the batch. The backward pass updates the memory.
 */
export function invarianceLoss(
  memory: ExemplarMemory,
  features: Tensor,
  indexes: Tensor,
  epoch: number,
  opts: InvarianceOptions = DEFAULT_INVARIANCE,
): Tensor {
  using sims = memory.similarities(features, indexes, opts.alpha * epoch);
  using logits = sims.div(opts.beta);
  if (opts.knn > 0 && epoch >= opts.neighborhoodFromEpoch) {
    using targets = neighborhoodTargets(logits, indexes, opts.knn);
    using logp = logits.logSoftmax(1);
    using prod = targets.mul(logp);
    using perSample = prod.sum(1);
    using mean = perSample.mean();
    return mean.neg();
  }
  return crossEntropy(logits, indexes);
}
