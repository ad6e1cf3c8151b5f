/**
 * The memory layout of inference passes. In evaluation mode the CPU backbones run their float32
 * convolutions in channels-last layout: libtorch's oneDNN convolutions then read and write the
 * activations as they are, instead of reordering every input and output between row-major and
 * their blocked layout. ResNets also fold each BatchNorm into the convolution before it
 * ({@link foldedConvBn}: y = conv(x, w·s) + (β − μ·s), s = γ/√(σ²+ε), with the evaluation
 * statistics), which saves a pass over every activation. Together about 1.2-1.3x on a ResNet-50
 * feature pass here (`deno task bench:cpu`). Training keeps the row-major layout and separate
 * BatchNorms (its backward pass gains nothing here), as do float64 (no oneDNN kernels) and CUDA.
 * Values agree with the row-major pass to float32 rounding (tests/layout_test.ts compares both
 * with a float64 pass).
 *
 * @module
 */
import { conv2d, conv2dFused, isGradEnabled, keep, scope, type Tensor } from "../tensor/mod.ts";
import type { BatchNorm2d, Conv2d } from "./layers.ts";

/** Whether an inference pass over `x` should run channels-last (see the module doc). */
export function wantsChannelsLast(training: boolean, enabled: boolean, x: Tensor): boolean {
  return !training && enabled && x.ndim === 4 && x.dtype === "float32" &&
    x.device.type === "cpu";
}

/**
 * `x` in the layout of the pass: a channels-last copy (owned by the caller) when
 * {@link wantsChannelsLast} says so, else `x` itself.
 */
export function inferenceInput(training: boolean, enabled: boolean, x: Tensor): Tensor {
  return wantsChannelsLast(training, enabled, x) ? x.contiguous("channels_last") : x;
}

/** The folded kernel (channels-last) and bias of one (convolution, BatchNorm) pair. */
export interface Folded {
  /** The convolution's kernel times the BatchNorm's scale, channels-last. */
  kernel: Tensor;
  /** The BatchNorm's shift (and the convolution's scaled bias): the new bias. */
  shift: Tensor;
}

function fold(conv: Conv2d, bn: BatchNorm2d): Folded {
  return scope(() => {
    const invStd = bn.buffer("running_var").add(bn.eps).rsqrt();
    const scale = bn.weight ? bn.weight.mul(invStd) : invStd;
    const kernel = conv.weight.mul(scale.reshape([-1, 1, 1, 1])).contiguous("channels_last");
    const meanScaled = bn.buffer("running_mean").mul(scale);
    let shift = bn.bias ? bn.bias.sub(meanScaled) : meanScaled.neg();
    if (conv.bias) shift = shift.add(conv.bias.mul(scale));
    return { kernel, shift };
  });
}

function sourcesOf(conv: Conv2d, bn: BatchNorm2d): Tensor[] {
  return [
    conv.weight,
    conv.bias,
    bn.weight,
    bn.bias,
    bn.buffer("running_mean"),
    bn.buffer("running_var"),
  ].filter((t): t is Tensor => t !== null);
}

/**
 * Folded kernels of a network's inference passes, kept between passes (folding every kernel on
 * every pass costs about as much memory traffic as the BatchNorms it saves). An entry is rebuilt
 * when any tensor it came from is another tensor (weights loaded or moved) or was modified in
 * place since (its {@link Tensor.version}: an optimizer step, `copy_`, a running-statistics
 * update), so it can never be stale.
 */
export class FoldedKernels {
  readonly #entries = new Map<Conv2d, { sources: Tensor[]; versions: number[]; f: Folded }>();

  /** The folded kernel and bias of `conv` followed by `bn`, from the cache when current. */
  get(conv: Conv2d, bn: BatchNorm2d): Folded {
    const sources = sourcesOf(conv, bn);
    const e = this.#entries.get(conv);
    if (
      e && e.sources.length === sources.length &&
      e.sources.every((t, i) => t === sources[i] && t.version === e.versions[i])
    ) {
      return e.f;
    }
    if (e) disposeFolded(e.f);
    const f = fold(conv, bn);
    keep(f.kernel);
    keep(f.shift);
    this.#entries.set(conv, { sources, versions: sources.map((t) => t.version), f });
    return f;
  }

  /** Number of cached pairs. */
  get size(): number {
    return this.#entries.size;
  }

  /** Frees every cached kernel. */
  clear(): void {
    for (const e of this.#entries.values()) disposeFolded(e.f);
    this.#entries.clear();
  }
}

function disposeFolded(f: Folded): void {
  f.kernel.dispose();
  f.shift.dispose();
}

/** What follows a folded convolution in a residual block: the shortcut sum, then a ReLU. */
export interface FoldedPost {
  /** Apply a ReLU last. */
  relu?: boolean;
  /** Add this tensor (the shortcut) before the ReLU. */
  residual?: Tensor | null;
  /**
   * The caller gives `residual` up: without gradients its buffer may receive the result. The
   * caller still disposes its handle and must not read it afterwards.
   */
  consumeResidual?: boolean;
}

/**
 * `relu(bn(conv(x)) + residual)` (each part optional, see {@link FoldedPost}) with `bn` in
 * evaluation mode, as one convolution: the BatchNorm's scale folded into the kernel (made
 * channels-last, like the activations of an inference pass) and its shift into the bias. Without
 * gradients the folded kernels come from `cache` and the convolution, the residual sum and the
 * ReLU run as one fused call ({@link conv2dFused}: one oneDNN kernel where the shim has it);
 * with gradients the kernels are rebuilt on each call and each op is a differentiable one, so the
 * pass stays differentiable like the unfolded form.
 */
export function foldedConvBn(
  conv: Conv2d,
  bn: BatchNorm2d,
  x: Tensor,
  cache: FoldedKernels | null = null,
  post: FoldedPost = {},
): Tensor {
  const o = conv.options;
  const opts = { stride: o.stride, padding: o.padding, dilation: o.dilation, groups: o.groups };
  if (cache && !isGradEnabled()) {
    const { kernel, shift } = cache.get(conv, bn);
    return conv2dFused(x, kernel, shift, {
      ...opts,
      residual: post.residual ?? null,
      relu: post.relu ?? false,
      consumeResidual: post.consumeResidual ?? false,
    });
  }
  return scope(() => {
    const { kernel, shift } = fold(conv, bn);
    let y = conv2d(x, kernel, shift, opts);
    if (post.residual) y = y.add(post.residual);
    return post.relu ? y.relu() : y;
  });
}
