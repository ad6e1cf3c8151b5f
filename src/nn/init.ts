/**
 * In-place parameter initializers (PyTorch's `torch.nn.init` subset), drawing from libtorch's
 * seeded global generator (`manualSeed`).
 *
 * @module
 */
import { noGrad, rand, randn, type Tensor, TorchError } from "../tensor/mod.ts";

/** Nonlinearities with a known gain (PyTorch's `calculate_gain`). */
export type Nonlinearity = "linear" | "conv2d" | "sigmoid" | "tanh" | "relu" | "leaky_relu";

/** PyTorch's `calculate_gain(nonlinearity, a)`. */
export function calculateGain(nonlinearity: Nonlinearity, a = 0.01): number {
  switch (nonlinearity) {
    case "linear":
    case "conv2d":
    case "sigmoid":
      return 1;
    case "tanh":
      return 5 / 3;
    case "relu":
      return Math.SQRT2;
    case "leaky_relu":
      return Math.sqrt(2 / (1 + a * a));
    default:
      throw new TorchError("calculateGain", `unknown nonlinearity ${JSON.stringify(nonlinearity)}`);
  }
}

/** Fan-in and fan-out of a weight of shape (out, in, ...kernel), as PyTorch computes them. */
export function fans(shape: readonly number[]): { fanIn: number; fanOut: number } {
  if (shape.length < 2) {
    throw new TorchError("init", `fan in/out needs at least 2 dimensions, shape is [${shape}]`);
  }
  let receptive = 1;
  for (let i = 2; i < shape.length; i++) receptive *= shape[i];
  return { fanIn: shape[1] * receptive, fanOut: shape[0] * receptive };
}

function fillFrom(t: Tensor, make: () => Tensor): Tensor {
  noGrad(() => {
    using src = make();
    t.copy_(src);
  });
  return t;
}

/** Fills `t` with samples of N(mean, std²). Returns t. */
export function normal_(t: Tensor, mean = 0, std = 1): Tensor {
  return fillFrom(t, () => randn(t.shape, { mean, std, device: t.device }));
}

/** Fills `t` with samples of U[low, high). Returns t. */
export function uniform_(t: Tensor, low = 0, high = 1): Tensor {
  return fillFrom(t, () => rand(t.shape, { low, high, device: t.device }));
}

/** Fills `t` with `value`. Returns t. */
export function constant_(t: Tensor, value: number): Tensor {
  noGrad(() => t.fill_(value));
  return t;
}

/** Options of the Kaiming initializers. */
export interface KaimingOptions {
  /** Preserve the variance of the forward ("fan_in", default) or backward ("fan_out") pass. */
  mode?: "fan_in" | "fan_out";
  /** The nonlinearity after the layer (default "leaky_relu", as in PyTorch). */
  nonlinearity?: Nonlinearity;
  /** Negative slope for leaky_relu (default 0). */
  a?: number;
}

function kaimingStd(t: Tensor, opts: KaimingOptions): number {
  const f = fans(t.shape);
  const fan = (opts.mode ?? "fan_in") === "fan_in" ? f.fanIn : f.fanOut;
  return calculateGain(opts.nonlinearity ?? "leaky_relu", opts.a ?? 0) / Math.sqrt(fan);
}

/** He normal initialization: N(0, (gain / sqrt(fan))²). Returns t. */
export function kaimingNormal_(t: Tensor, opts: KaimingOptions = {}): Tensor {
  return normal_(t, 0, kaimingStd(t, opts));
}

/** He uniform initialization: U(-b, b) with b = gain * sqrt(3 / fan). Returns t. */
export function kaimingUniform_(t: Tensor, opts: KaimingOptions = {}): Tensor {
  const bound = Math.sqrt(3) * kaimingStd(t, opts);
  return uniform_(t, -bound, bound);
}
