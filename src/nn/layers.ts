/**
 * Layers with PyTorch's parameter names, shapes and default initialization: Conv2d,
 * BatchNorm1d/2d, Linear, Dropout, ReLU, ReLU6, MaxPool2d, AdaptiveAvgPool2d, Identity and
 * Sequential.
 *
 * @module
 */
import {
  adaptiveAvgPool2d,
  batchNorm,
  conv2d,
  dropout,
  linear,
  maxPool2d,
  noGrad,
  ones,
  type Pair,
  type Tensor,
  TorchError,
  zeros,
} from "../tensor/mod.ts";
import { kaimingUniform_, uniform_ } from "./init.ts";
import { Module } from "./module.ts";

// The tensor library's Pair, re-exported so layer options and functional ops share one type.
export type { Pair };

// PyTorch's default for Conv and Linear: kaiming_uniform(a=sqrt(5)) weights, U(±1/sqrt(fan_in)) bias.
function resetDefault(weight: Tensor, bias: Tensor | null, fanIn: number): void {
  kaimingUniform_(weight, { a: Math.sqrt(5), nonlinearity: "leaky_relu" });
  if (bias) {
    const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
    uniform_(bias, -bound, bound);
  }
}

/** Options of {@link Conv2d}. */
export interface Conv2dOptions {
  /** Step of the kernel (default 1). */
  stride?: Pair;
  /** Zero padding on each side (default 0). */
  padding?: Pair;
  /** Spacing of kernel elements (default 1). */
  dilation?: Pair;
  /** Channel groups (default 1; = channels for depthwise). */
  groups?: number;
  /** Whether the layer has a bias (default true). */
  bias?: boolean;
}

/** 2-d convolution: `weight` (out, in/groups, kh, kw) and optional `bias` (out). */
export class Conv2d extends Module {
  /** Input channels. */
  readonly inChannels: number;
  /** Output channels. */
  readonly outChannels: number;
  /** Settings passed to the convolution. */
  readonly options: Readonly<Conv2dOptions>;

  /** Creates the layer with PyTorch's default initialization. */
  constructor(inChannels: number, outChannels: number, kernel: Pair, opts: Conv2dOptions = {}) {
    super();
    const groups = opts.groups ?? 1;
    if (inChannels % groups !== 0 || outChannels % groups !== 0) {
      throw new TorchError(
        "Conv2d",
        `in (${inChannels}) and out (${outChannels}) channels must be divisible by groups ${groups}`,
      );
    }
    const [kh, kw] = typeof kernel === "number" ? [kernel, kernel] : kernel;
    this.inChannels = inChannels;
    this.outChannels = outChannels;
    this.options = { ...opts };
    const w = this.registerParameter("weight", zeros([outChannels, inChannels / groups, kh, kw]))!;
    const b = this.registerParameter("bias", opts.bias === false ? null : zeros([outChannels]));
    resetDefault(w, b, (inChannels / groups) * kh * kw);
  }

  /** The kernel, (out, in/groups, kh, kw). */
  get weight(): Tensor {
    return this.param("weight");
  }

  /** The bias, or null. */
  get bias(): Tensor | null {
    return this.paramOrNull("bias");
  }

  /** Convolves `x` (N, C, H, W). */
  forward(x: Tensor): Tensor {
    const o = this.options;
    return conv2d(x, this.weight, this.bias, {
      stride: o.stride,
      padding: o.padding,
      dilation: o.dilation,
      groups: o.groups,
    });
  }
}

/** Options of {@link Linear}. */
export interface LinearOptions {
  /** Whether the layer has a bias (default true). */
  bias?: boolean;
}

/** Fully connected layer: `weight` (out, in), optional `bias` (out). */
export class Linear extends Module {
  /** Input features. */
  readonly inFeatures: number;
  /** Output features. */
  readonly outFeatures: number;

  /** Creates the layer with PyTorch's default initialization. */
  constructor(inFeatures: number, outFeatures: number, opts: LinearOptions = {}) {
    super();
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    const w = this.registerParameter("weight", zeros([outFeatures, inFeatures]))!;
    const b = this.registerParameter("bias", opts.bias === false ? null : zeros([outFeatures]));
    resetDefault(w, b, inFeatures);
  }

  /** The weight, (out, in). */
  get weight(): Tensor {
    return this.param("weight");
  }

  /** The bias, or null. */
  get bias(): Tensor | null {
    return this.paramOrNull("bias");
  }

  /** x @ weightᵀ + bias. */
  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }
}

/** Options of the BatchNorm layers. */
export interface BatchNormOptions {
  /** Added to the variance (default 1e-5). */
  eps?: number;
  /** Weight of the new batch statistic in the running ones (default 0.1). */
  momentum?: number;
  /** Learnable weight and bias (default true). */
  affine?: boolean;
}

/** Shared code of BatchNorm1d/2d: weight, bias, running_mean, running_var, num_batches_tracked. */
export abstract class BatchNormBase extends Module {
  /** Number of features (channels). */
  readonly numFeatures: number;
  /** Added to the variance. */
  readonly eps: number;
  /** Running-statistics momentum. */
  readonly momentum: number;
  /** Accepted input ranks. */
  abstract readonly ndims: number[];

  /** Creates the layer: weight 1, bias 0, running mean 0, running variance 1, count 0. */
  constructor(numFeatures: number, opts: BatchNormOptions = {}) {
    super();
    this.numFeatures = numFeatures;
    this.eps = opts.eps ?? 1e-5;
    this.momentum = opts.momentum ?? 0.1;
    const affine = opts.affine ?? true;
    this.registerParameter("weight", affine ? ones([numFeatures]) : null);
    this.registerParameter("bias", affine ? zeros([numFeatures]) : null);
    this.registerBuffer("running_mean", zeros([numFeatures]));
    this.registerBuffer("running_var", ones([numFeatures]));
    this.registerBuffer("num_batches_tracked", zeros([], { dtype: "int64" }));
  }

  /** Scale per feature, or null without affine. */
  get weight(): Tensor | null {
    return this.paramOrNull("weight");
  }

  /** Shift per feature, or null without affine. */
  get bias(): Tensor | null {
    return this.paramOrNull("bias");
  }

  /** Normalizes `x`; in training mode updates the running statistics and the batch count. */
  forward(x: Tensor): Tensor {
    const s = x.shape;
    if (!this.ndims.includes(s.length) || s[1] !== this.numFeatures) {
      throw new TorchError(
        this.constructor.name,
        `expected a ${this.ndims.join("- or ")}-d input with ${this.numFeatures} channels in ` +
          `dim 1, got shape [${s}]`,
      );
    }
    const y = batchNorm(x, this.buffer("running_mean"), this.buffer("running_var"), {
      weight: this.weight,
      bias: this.bias,
      training: this.training,
      momentum: this.momentum,
      eps: this.eps,
    });
    if (this.training) {
      // An int64 tensor operand: the shim's scalar add_ takes a double, which int64 refuses.
      using one = ones([], { dtype: "int64" });
      noGrad(() => this.buffer("num_batches_tracked").add_(one));
    }
    return y;
  }
}

/** Batch normalization over (N, C) or (N, C, L) inputs. */
export class BatchNorm1d extends BatchNormBase {
  /** Accepted input ranks. */
  readonly ndims: number[] = [2, 3];
}

/** Batch normalization over (N, C, H, W) inputs. */
export class BatchNorm2d extends BatchNormBase {
  /** Accepted input ranks. */
  readonly ndims: number[] = [4];
}

/** Dropout with probability `p` in training mode; identity in eval mode. */
export class Dropout extends Module {
  /** Probability of zeroing an element. */
  readonly p: number;

  /** Creates the layer (p in [0, 1]). */
  constructor(p = 0.5) {
    super();
    if (!(p >= 0 && p <= 1)) throw new TorchError("Dropout", `p must be in [0, 1], got ${p}`);
    this.p = p;
  }

  /** Applies dropout when training. */
  forward(x: Tensor): Tensor {
    return dropout(x, this.p, this.training);
  }
}

/** max(x, 0). */
export class ReLU extends Module {
  /** Applies the rectifier. */
  forward(x: Tensor): Tensor {
    return x.relu();
  }
}

/** min(max(x, 0), 6). */
export class ReLU6 extends Module {
  /** Applies the clipped rectifier. */
  forward(x: Tensor): Tensor {
    return x.relu6();
  }
}

/** Options of {@link MaxPool2d}. */
export interface MaxPool2dOptions {
  /** Defaults to the kernel size. */
  stride?: Pair;
  /** Implicit -inf padding on each side (default 0). */
  padding?: Pair;
  /** Spacing of window elements (default 1). */
  dilation?: Pair;
  /** Round the output size up instead of down (default false). */
  ceilMode?: boolean;
}

/** 2-d max pooling. */
export class MaxPool2d extends Module {
  /** Window size. */
  readonly kernel: Pair;
  /** Pooling settings. */
  readonly options: Readonly<MaxPool2dOptions>;

  /** Creates the layer. */
  constructor(kernel: Pair, opts: MaxPool2dOptions = {}) {
    super();
    this.kernel = kernel;
    this.options = { ...opts };
  }

  /** Pools `x` (N, C, H, W). */
  forward(x: Tensor): Tensor {
    return maxPool2d(x, this.kernel, this.options);
  }
}

/** Adaptive average pooling to a fixed output size (1 = global average pooling). */
export class AdaptiveAvgPool2d extends Module {
  /** Output (H, W). */
  readonly outputSize: Pair;

  /** Creates the layer. */
  constructor(outputSize: Pair = 1) {
    super();
    this.outputSize = outputSize;
  }

  /** Pools `x` (N, C, H, W) to (N, C, outH, outW). */
  forward(x: Tensor): Tensor {
    return adaptiveAvgPool2d(x, this.outputSize);
  }
}

/** Returns its input (a new handle to the same tensor, so scopes can free it independently). */
export class Identity extends Module {
  /** Returns `x` as it is. */
  forward(x: Tensor): Tensor {
    return x.alias();
  }
}

/** Modules applied in order; children are named "0", "1", ... as in PyTorch. */
export class Sequential extends Module {
  readonly #layers: Module[] = [];

  /** Creates the container from `layers`. */
  constructor(...layers: Module[]) {
    super();
    for (const l of layers) this.append(l);
  }

  /** Adds a module at the end (named by its index). Returns this. */
  append(m: Module): this {
    this.registerModule(String(this.#layers.length), m);
    this.#layers.push(m);
    return this;
  }

  /** Number of modules. */
  get length(): number {
    return this.#layers.length;
  }

  /** The module at `i` (negative counts from the end). */
  at(i: number): Module {
    const m = this.#layers.at(i);
    if (!m) {
      throw new TorchError("Sequential.at", `index ${i} out of range for ${this.length} modules`);
    }
    return m;
  }

  /** Runs the modules in order; intermediate results are freed as soon as they are consumed. */
  forward(x: Tensor): Tensor {
    let y = x;
    for (const m of this.#layers) {
      const next = m.forward(y);
      // Free intermediates eagerly, but never the caller's input; autograd keeps what it needs.
      if (y !== x) y.dispose();
      y = next;
    }
    return y === x ? x.alias() : y;
  }
}
