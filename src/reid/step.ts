/**
 * One ECN training step (the reference's `Trainer._forward` + SGD): the source cross-entropy, the
 * target invariance loss through the exemplar memory, their weighted sum, backward and an
 * optimizer step; data parallel over a process group when one is given.
 *
 * @module
 */
import type { Batch } from "../data/loader.ts";
import { DistError, type ProcessGroup } from "../dist/group.ts";
import type { SGD } from "../optim/sgd.ts";
import { crossEntropy, noGrad, scope, type Tensor, tensor } from "../tensor/mod.ts";
import type { TrainConfig } from "./config.ts";
import type { EcnNet } from "./ecn_net.ts";
import { invarianceLoss } from "./losses.ts";
import type { ExemplarMemory } from "./memory.ts";

/** Losses of one step. */
export interface StepLosses {
  /** Total loss: (1 − λ)·source + λ·target, or the source loss alone without a target batch. */
  loss: number;
  /** Source cross-entropy. */
  source: number;
  /** Target invariance loss; null without a target batch (source-only). */
  target: number | null;
  /** Source-batch accuracy of the classifier. */
  accuracy: number;
}

/** A NaN or infinite loss. */
export class NonFiniteLossError extends Error {
  /** Makes the error for `epoch`. */
  constructor(epoch: number, value: number) {
    super(`the loss became ${value} in epoch ${epoch + 1}`);
    this.name = "NonFiniteLossError";
  }
}

function int64(a: Int32Array): BigInt64Array<ArrayBuffer> {
  const out = new BigInt64Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = BigInt(a[i]);
  return out;
}

/** What one ECN training step works on: the settings, the network, the memory and the optimizer. */
export interface StepParts {
  /** The run's settings (losses, device). */
  readonly config: TrainConfig;
  /** The network. */
  readonly model: EcnNet;
  /** The target's exemplar memory; null when source-only. */
  readonly memory: ExemplarMemory | null;
  /** The optimizer, stepped once. */
  readonly optimizer: SGD;
}

/**
 * One ECN training step (the reference's `Trainer._forward` + SGD): source cross-entropy, target
 * invariance loss through the exemplar memory (updated in backward), (1 − λ)·source + λ·target,
 * backward and an optimizer step. With a process group, data parallel: rank 0's buffers first,
 * the memory updated from every rank's batch, gradients averaged. Throws NonFiniteLossError
 * before backward when the loss is not finite.
 */
export function ecnStep(
  parts: StepParts,
  src: Batch,
  tgt: Batch | null,
  epoch: number,
  pg: ProcessGroup | null = null,
): StepLosses {
  const c = parts.config;
  return scope(() => {
    // Data parallel, as DDP: rank 0's buffers (BatchNorm statistics) before each forward.
    if (pg) pg.broadcast(parts.model.namedBuffers().map(([, b]) => b), 0);
    const xs = tensor(src.images, {
      shape: [src.size, 3, src.height, src.width],
      device: c.device,
    });
    const ys = tensor(int64(src.pids), { device: c.device });
    const logits = parts.model.forward(xs);
    const lossS = crossEntropy(logits, ys);
    let loss = lossS;
    let lossT: Tensor | null = null;
    if (tgt && parts.memory) {
      const xt = tensor(tgt.images, {
        shape: [tgt.size, 3, tgt.height, tgt.width],
        device: c.device,
      });
      const idx = tensor(int64(tgt.indices), { device: c.device });
      const f = parts.model.forwardTarget(xt);
      const memory = parts.memory;
      const targetLoss = () =>
        invarianceLoss(memory, f, idx, epoch, {
          beta: c.beta,
          knn: c.neighborhood ? c.knn : 0,
          alpha: c.alpha,
          neighborhoodFromEpoch: c.neighborhoodFromEpoch,
        });
      if (pg) {
        // Every rank's (feature, index) pairs, so that all apply the same memory updates.
        const features = pg.allGather(f.detach());
        const indexes = pg.allGather(idx);
        if (features.shape[0] !== tgt.size * pg.worldSize) {
          throw new DistError(
            `target batches differ in size across ranks (${features.shape[0]} in all, ` +
              `${tgt.size} here, ${pg.worldSize} processes)`,
          );
        }
        lossT = memory.sharing({ features, indexes, offset: pg.rank * tgt.size }, targetLoss);
      } else {
        lossT = targetLoss();
      }
      loss = lossS.mul(1 - c.lambda).add(lossT.mul(c.lambda));
    }
    parts.optimizer.zeroGrad();
    let value = loss.item();
    let accuracy = noGrad(() => logits.argmax(1).eq(ys).to({ dtype: "float32" }).mean().item());
    let source = lossS.item();
    let targetValue = lossT ? lossT.item() : null;
    if (pg) {
      // The means over all ranks (every rank then sees the same value and stops alike).
      const t = tensor(new Float64Array([value, source, targetValue ?? 0, accuracy]));
      pg.allReduce([t], { average: true });
      [value, source, accuracy] = [t.toNumbers()[0], t.toNumbers()[1], t.toNumbers()[3]];
      if (targetValue !== null) targetValue = t.toNumbers()[2];
    }
    if (!Number.isFinite(value)) {
      throw new NonFiniteLossError(epoch, value);
    }
    loss.backward();
    if (pg) {
      // Each rank's loss is the mean over its batch: the average of the ranks' gradients is the
      // gradient of the mean over the combined batch (equal batch sizes).
      const grads = parts.model.parameters().map((p) => p.grad).filter((g) => g !== null);
      pg.allReduce(grads as Tensor[], { average: true });
    }
    parts.optimizer.step();
    return { loss: value, source, target: targetValue, accuracy };
  });
}
