/**
 * Neural-network functions over tensors (PyTorch's `torch.nn.functional` subset that ResNet,
 * MobileNetV2, ECN and evaluation need), the exemplar memory op and the fused SGD step.
 *
 * @module
 */
import { lib } from "../ffi/library.ts";
import { TorchError } from "./errors.ts";
import {
  check,
  dimsBuffer,
  handleList,
  handleOf,
  keptTensor,
  type Ptr,
  type Tensor,
  wrap,
} from "./tensor.ts";

/** The handle of an optional tensor argument (null when absent). */
function optHandle(t: Tensor | null | undefined, op: string): Ptr | null {
  return t ? handleOf(t, op) : null;
}

/** A size per spatial dimension: one number for both, or [height, width]. */
export type Pair = number | [number, number];

function pair(v: Pair | undefined, dflt: number, name: string): [number, number] {
  const p: [number, number] = v === undefined ? [dflt, dflt] : typeof v === "number" ? [v, v] : v;
  if (!p.every(Number.isInteger)) throw new TorchError(name, `expected integers, got ${p}`);
  return p;
}

/** Reduction of a loss: mean (default), sum, or none. */
export type Reduction = "none" | "mean" | "sum";
const REDUCTION: Record<Reduction, number> = { none: 0, mean: 1, sum: 2 };

/** 2-d convolution (groups for grouped and depthwise convolutions). */
export function conv2d(
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null = null,
  opts: { stride?: Pair; padding?: Pair; dilation?: Pair; groups?: number } = {},
): Tensor {
  const s = pair(opts.stride, 1, "conv2d");
  const p = pair(opts.padding, 0, "conv2d");
  const d = pair(opts.dilation, 1, "conv2d");
  const params = dimsBuffer([s[0], s[1], p[0], p[1], d[0], d[1], opts.groups ?? 1]);
  return wrap(
    lib().ts_conv2d(
      handleOf(x, "conv2d"),
      handleOf(weight, "conv2d"),
      optHandle(bias, "conv2d"),
      params,
    ),
    "conv2d",
  );
}

/**
 * `relu(conv2d(x, weight, bias) + residual)` in one call, for inference passes: where the shim
 * calls oneDNN directly (`fusedConvolutionIsNative()`), float32 CPU channels-last inputs
 * without gradients run as one convolution with the sum and the ReLU as post-ops and the kernel
 * reordered once per weight tensor and version; elsewhere the same values come from `conv2d`,
 * `add_` and `relu_`. With `consumeResidual` the residual's buffer may receive the result (the
 * caller gives the residual up and must not read it afterwards).
 */
export function conv2dFused(
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null = null,
  opts: {
    stride?: Pair;
    padding?: Pair;
    dilation?: Pair;
    groups?: number;
    residual?: Tensor | null;
    relu?: boolean;
    consumeResidual?: boolean;
  } = {},
): Tensor {
  const s = pair(opts.stride, 1, "conv2dFused");
  const p = pair(opts.padding, 0, "conv2dFused");
  const d = pair(opts.dilation, 1, "conv2dFused");
  const params = dimsBuffer([s[0], s[1], p[0], p[1], d[0], d[1], opts.groups ?? 1]);
  const flags = (opts.relu ? 1 : 0) | (opts.consumeResidual ? 2 : 0);
  return wrap(
    lib().ts_conv2d_fused(
      handleOf(x, "conv2dFused"),
      handleOf(weight, "conv2dFused"),
      optHandle(bias, "conv2dFused"),
      params,
      optHandle(opts.residual ?? null, "conv2dFused"),
      flags,
    ),
    "conv2dFused",
  );
}

/**
 * Batch normalization. In training mode batch statistics are used and the running statistics
 * (when given) are updated in place with `momentum`; in eval mode the running ones are used.
 */
export function batchNorm(
  x: Tensor,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  opts: {
    weight?: Tensor | null;
    bias?: Tensor | null;
    training?: boolean;
    momentum?: number;
    eps?: number;
  } = {},
): Tensor {
  return wrap(
    lib().ts_batch_norm(
      handleOf(x, "batchNorm"),
      optHandle(opts.weight, "batchNorm"),
      optHandle(opts.bias, "batchNorm"),
      optHandle(runningMean, "batchNorm"),
      optHandle(runningVar, "batchNorm"),
      opts.training ? 1 : 0,
      opts.momentum ?? 0.1,
      opts.eps ?? 1e-5,
    ),
    "batchNorm",
  );
}

/** x @ weightᵀ + bias. */
export function linear(x: Tensor, weight: Tensor, bias: Tensor | null = null): Tensor {
  return wrap(
    lib().ts_linear(handleOf(x, "linear"), handleOf(weight, "linear"), optHandle(bias, "linear")),
    "linear",
  );
}

/** 2-d max pooling. */
export function maxPool2d(
  x: Tensor,
  kernel: Pair,
  opts: { stride?: Pair; padding?: Pair; dilation?: Pair; ceilMode?: boolean } = {},
): Tensor {
  const k = pair(kernel, 1, "maxPool2d");
  const s = opts.stride === undefined ? k : pair(opts.stride, 1, "maxPool2d");
  const p = pair(opts.padding, 0, "maxPool2d");
  const d = pair(opts.dilation, 1, "maxPool2d");
  return wrap(
    lib().ts_max_pool2d(
      handleOf(x, "maxPool2d"),
      dimsBuffer([k[0], k[1], s[0], s[1], p[0], p[1], d[0], d[1]]),
      opts.ceilMode ? 1 : 0,
    ),
    "maxPool2d",
  );
}

/** 2-d average pooling. */
export function avgPool2d(
  x: Tensor,
  kernel: Pair,
  opts: { stride?: Pair; padding?: Pair; ceilMode?: boolean; countIncludePad?: boolean } = {},
): Tensor {
  const k = pair(kernel, 1, "avgPool2d");
  const s = opts.stride === undefined ? k : pair(opts.stride, 1, "avgPool2d");
  const p = pair(opts.padding, 0, "avgPool2d");
  return wrap(
    lib().ts_avg_pool2d(
      handleOf(x, "avgPool2d"),
      dimsBuffer([k[0], k[1], s[0], s[1], p[0], p[1]]),
      opts.ceilMode ? 1 : 0,
      opts.countIncludePad === false ? 0 : 1,
    ),
    "avgPool2d",
  );
}

/** Adaptive average pooling to (outH, outW). */
export function adaptiveAvgPool2d(x: Tensor, out: Pair = 1): Tensor {
  const o = pair(out, 1, "adaptiveAvgPool2d");
  return wrap(
    lib().ts_adaptive_pool2d(handleOf(x, "adaptiveAvgPool2d"), BigInt(o[0]), BigInt(o[1]), 0),
    "adaptiveAvgPool2d",
  );
}

/** Adaptive max pooling to (outH, outW). */
export function adaptiveMaxPool2d(x: Tensor, out: Pair = 1): Tensor {
  const o = pair(out, 1, "adaptiveMaxPool2d");
  return wrap(
    lib().ts_adaptive_pool2d(handleOf(x, "adaptiveMaxPool2d"), BigInt(o[0]), BigInt(o[1]), 1),
    "adaptiveMaxPool2d",
  );
}

/** Dropout with probability `p` (identity when not training). */
export function dropout(x: Tensor, p = 0.5, training = true): Tensor {
  return wrap(lib().ts_dropout(handleOf(x, "dropout"), p, training ? 1 : 0), "dropout");
}

/** Cross-entropy of logits (N, C) against int64 class targets (N) or class probabilities (N, C). */
export function crossEntropy(
  logits: Tensor,
  target: Tensor,
  opts: { reduction?: Reduction; ignoreIndex?: number; labelSmoothing?: number } = {},
): Tensor {
  return wrap(
    lib().ts_cross_entropy(
      handleOf(logits, "crossEntropy"),
      handleOf(target, "crossEntropy"),
      REDUCTION[opts.reduction ?? "mean"],
      BigInt(opts.ignoreIndex ?? -100),
      opts.labelSmoothing ?? 0,
    ),
    "crossEntropy",
  );
}

/** Negative log-likelihood of log-probabilities (N, C) against int64 targets (N). */
export function nllLoss(
  logProbs: Tensor,
  target: Tensor,
  opts: { reduction?: Reduction; ignoreIndex?: number } = {},
): Tensor {
  return wrap(
    lib().ts_nll_loss(
      handleOf(logProbs, "nllLoss"),
      handleOf(target, "nllLoss"),
      REDUCTION[opts.reduction ?? "mean"],
      BigInt(opts.ignoreIndex ?? -100),
    ),
    "nllLoss",
  );
}

/** x / max(‖x‖_p, eps) along `dim` (F.normalize). */
export function normalize(
  x: Tensor,
  opts: { p?: number; dim?: number; eps?: number } = {},
): Tensor {
  return wrap(
    lib().ts_normalize(
      handleOf(x, "normalize"),
      opts.p ?? 2,
      BigInt(opts.dim ?? 1),
      opts.eps ?? 1e-12,
    ),
    "normalize",
  );
}

/** Resizes (N, C, H, W) images to (outH, outW). */
export function interpolate(
  x: Tensor,
  size: [number, number],
  opts: { mode?: "nearest" | "bilinear" | "bicubic"; alignCorners?: boolean } = {},
): Tensor {
  const mode = { nearest: 0, bilinear: 1, bicubic: 2 }[opts.mode ?? "bilinear"];
  return wrap(
    lib().ts_interpolate(
      handleOf(x, "interpolate"),
      BigInt(size[0]),
      BigInt(size[1]),
      mode,
      opts.alignCorners ? 1 : 0,
    ),
    "interpolate",
  );
}

/**
 * The exemplar memory op of ECN: returns `inputs · memoryᵀ` (B x N). Its backward gives
 * `grad · memory` (the memory as it was in forward), then updates, in batch order,
 * `memory[i] ← α·memory[i] + (1−α)·inputs[b]`, `memory[i] ← memory[i]/‖memory[i]‖` for each
 * `i = indexes[b]` — inside libtorch's autograd, in C++.
 */
export function exemplarMemory(
  inputs: Tensor,
  indexes: Tensor,
  memory: Tensor,
  alpha: number,
): Tensor {
  return wrap(
    lib().ts_exemplar_memory(
      handleOf(inputs, "exemplarMemory"),
      handleOf(indexes, "exemplarMemory"),
      handleOf(memory, "exemplarMemory"),
      alpha,
    ),
    "exemplarMemory",
  );
}

/** Settings of one SGD step. */
export interface SgdStepOptions {
  /** Learning rate of this step. */
  lr: number;
  /** Momentum factor (default 0: plain SGD). */
  momentum?: number;
  /** Dampening of the momentum (default 0). */
  dampening?: number;
  /** L2 penalty added to the gradient (default 0). */
  weightDecay?: number;
  /** Nesterov momentum (default false). */
  nesterov?: boolean;
}

/**
 * One fused `torch.optim.SGD` step over `params` (those without a gradient are skipped).
 * `buffers[i]` holds parameter i's momentum buffer; undefined entries are created on first use,
 * as tensors that no scope owns (they are optimizer state: dispose them with the optimizer).
 * Returns how many parameters were updated.
 */
export function sgdStep(
  params: readonly Tensor[],
  buffers: Array<Tensor | undefined>,
  opts: SgdStepOptions,
): number {
  if (buffers.length !== params.length) {
    throw new TorchError(
      "sgdStep",
      `${params.length} parameters but ${buffers.length} buffer slots`,
    );
  }
  const p = handleList(params, "sgdStep");
  const b = new BigUint64Array(params.length);
  for (let i = 0; i < buffers.length; i++) {
    const t = buffers[i];
    b[i] = t ? BigInt(Deno.UnsafePointer.value(handleOf(t, "sgdStep"))) : 0n;
  }
  const n = check(
    lib().ts_sgd_step(
      p,
      b,
      params.length,
      opts.lr,
      opts.momentum ?? 0,
      opts.dampening ?? 0,
      opts.weightDecay ?? 0,
      opts.nesterov ? 1 : 0,
    ),
    "sgdStep",
  );
  for (let i = 0; i < buffers.length; i++) {
    if (buffers[i] === undefined && b[i] !== 0n) {
      buffers[i] = keptTensor(Deno.UnsafePointer.create(b[i]) as Ptr);
    }
  }
  return n;
}
