/**
 * ResNet-18/34/50/101/152 in torchvision's layout (v1.5: stride on the 3x3 convolution, or
 * optionally v1's stride on the first 1x1, see {@link ResNetOptions.strideAt}), with
 * torchvision's key names and initialization, so ImageNet checkpoints load as they are.
 *
 * @module
 */
import { foldedConvBn, FoldedKernels, wantsChannelsLast } from "./layout.ts";
import { noGrad, type Tensor, TorchError } from "../tensor/mod.ts";
import { constant_, kaimingNormal_ } from "./init.ts";
import {
  AdaptiveAvgPool2d,
  BatchNorm2d,
  Conv2d,
  Linear,
  MaxPool2d,
  ReLU,
  Sequential,
} from "./layers.ts";
import { Module } from "./module.ts";
import { readWeights, weightsMetadata } from "./weights.ts";

function conv3x3(inPlanes: number, outPlanes: number, stride = 1): Conv2d {
  return new Conv2d(inPlanes, outPlanes, 3, { stride, padding: 1, bias: false });
}

function conv1x1(inPlanes: number, outPlanes: number, stride = 1): Conv2d {
  return new Conv2d(inPlanes, outPlanes, 1, { stride, bias: false });
}

/** A residual block; `downsample` (when set) maps the input onto the block's output shape. */
export abstract class Block extends Module {
  /** The projection shortcut, or null for the identity. */
  protected downsample: Module | null = null;

  /** The shortcut branch of `x` (x itself for the identity). */
  protected shortcut(x: Tensor): Tensor {
    return this.downsample ? this.downsample.forward(x) : x;
  }

  /** {@link shortcut} with a (conv, BatchNorm) projection folded into one convolution. */
  protected shortcutFolded(x: Tensor, cache: FoldedKernels): Tensor {
    const d = this.downsample;
    if (d instanceof Sequential && d.length === 2) {
      const conv = d.at(0);
      const bn = d.at(1);
      if (conv instanceof Conv2d && bn instanceof BatchNorm2d) {
        return foldedConvBn(conv, bn, x, cache);
      }
    }
    return this.shortcut(x);
  }

  /**
   * The block in evaluation mode with every BatchNorm folded into its convolution (see
   * src/nn/layout.ts); ResNet's inference pass calls it. With `consumeInput` the caller gives `x`
   * up (it disposes its handle after this call and reads it no more): without gradients the
   * identity shortcut's sum is then accumulated in x's buffer.
   */
  abstract forwardFolded(x: Tensor, cache: FoldedKernels, consumeInput?: boolean): Tensor;

  /** relu(last + shortcut) of the folded pass, `last` the folded (conv, BatchNorm) pair. */
  protected residualFolded(
    conv: Conv2d,
    bn: BatchNorm2d,
    branch: Tensor,
    x: Tensor,
    cache: FoldedKernels,
    consumeInput: boolean,
  ): Tensor {
    const s = this.shortcutFolded(x, cache);
    try {
      const post = { relu: true, residual: s, consumeResidual: s !== x || consumeInput };
      return foldedConvBn(conv, bn, branch, cache, post);
    } finally {
      if (s !== x) s.dispose();
    }
  }
}

/** Two 3x3 convolutions (ResNet-18/34). */
export class BasicBlock extends Block {
  /** Output channels per input "plane". */
  static readonly expansion: number = 1;
  readonly #conv1: Conv2d;
  readonly #bn1: BatchNorm2d;
  readonly #conv2: Conv2d;
  readonly #bn2: BatchNorm2d;

  /** Creates the block; `downsample` matches the shortcut when shape changes. */
  constructor(inPlanes: number, planes: number, stride = 1, downsample: Module | null = null) {
    super();
    this.#conv1 = this.registerModule("conv1", conv3x3(inPlanes, planes, stride));
    this.#bn1 = this.registerModule("bn1", new BatchNorm2d(planes));
    this.registerModule("relu", new ReLU());
    this.#conv2 = this.registerModule("conv2", conv3x3(planes, planes));
    this.#bn2 = this.registerModule("bn2", new BatchNorm2d(planes));
    if (downsample) this.downsample = this.registerModule("downsample", downsample);
  }

  /** relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)). */
  forward(x: Tensor): Tensor {
    using a = this.#conv1.forward(x);
    using b = this.#bn1.forward(a);
    using c = b.relu();
    using d = this.#conv2.forward(c);
    using e = this.#bn2.forward(d);
    const s = this.shortcut(x);
    using sum = e.add(s);
    if (s !== x) s.dispose();
    return sum.relu();
  }

  /** {@link forward} with the BatchNorms folded (evaluation statistics). */
  forwardFolded(x: Tensor, cache: FoldedKernels, consumeInput = false): Tensor {
    using c = foldedConvBn(this.#conv1, this.#bn1, x, cache, { relu: true });
    return this.residualFolded(this.#conv2, this.#bn2, c, x, cache, consumeInput);
  }
}

/**
 * Where a downsampling bottleneck puts its stride: in the 3x3 convolution (torchvision, "v1.5")
 * or in the first 1x1 convolution (the original ResNet v1 of Caffe and Keras).
 */
export type ResNetStride = "3x3" | "1x1";

/**
 * 1x1 -> 3x3 -> 1x1 convolutions with 4x expansion (ResNet-50/101/152); the stride is in the 3x3
 * (torchvision) or, with `strideAt` "1x1", in the first 1x1 (ResNet v1).
 */
export class Bottleneck extends Block {
  /** Output channels per input "plane". */
  static readonly expansion: number = 4;
  readonly #conv1: Conv2d;
  readonly #bn1: BatchNorm2d;
  readonly #conv2: Conv2d;
  readonly #bn2: BatchNorm2d;
  readonly #conv3: Conv2d;
  readonly #bn3: BatchNorm2d;

  /** Creates the block; `downsample` matches the shortcut when shape changes. */
  constructor(
    inPlanes: number,
    planes: number,
    stride = 1,
    downsample: Module | null = null,
    strideAt: ResNetStride = "3x3",
  ) {
    super();
    const first = strideAt === "1x1" ? stride : 1;
    this.#conv1 = this.registerModule("conv1", conv1x1(inPlanes, planes, first));
    this.#bn1 = this.registerModule("bn1", new BatchNorm2d(planes));
    this.#conv2 = this.registerModule("conv2", conv3x3(planes, planes, stride / first));
    this.#bn2 = this.registerModule("bn2", new BatchNorm2d(planes));
    this.#conv3 = this.registerModule("conv3", conv1x1(planes, planes * 4));
    this.#bn3 = this.registerModule("bn3", new BatchNorm2d(planes * 4));
    this.registerModule("relu", new ReLU());
    if (downsample) this.downsample = this.registerModule("downsample", downsample);
  }

  /** relu(bn3(conv3(...)) + shortcut(x)). */
  forward(x: Tensor): Tensor {
    // Each intermediate handle is freed at block end; autograd holds what backward needs.
    using a = this.#conv1.forward(x);
    using b = this.#bn1.forward(a);
    using c = b.relu();
    using d = this.#conv2.forward(c);
    using e = this.#bn2.forward(d);
    using f = e.relu();
    using g = this.#conv3.forward(f);
    using h = this.#bn3.forward(g);
    const s = this.shortcut(x);
    using sum = h.add(s);
    if (s !== x) s.dispose();
    return sum.relu();
  }

  /** {@link forward} with the BatchNorms folded (evaluation statistics). */
  forwardFolded(x: Tensor, cache: FoldedKernels, consumeInput = false): Tensor {
    using c = foldedConvBn(this.#conv1, this.#bn1, x, cache, { relu: true });
    using f = foldedConvBn(this.#conv2, this.#bn2, c, cache, { relu: true });
    return this.residualFolded(this.#conv3, this.#bn3, f, x, cache, consumeInput);
  }
}

/** Block counts per stage of each depth. */
export const RESNET_LAYERS: Readonly<Record<number, readonly number[]>> = {
  18: [2, 2, 2, 2],
  34: [3, 4, 6, 3],
  50: [3, 4, 6, 3],
  101: [3, 4, 23, 3],
  152: [3, 8, 36, 3],
};

/** Options of {@link ResNet}. */
export interface ResNetOptions {
  /** Outputs of `fc` (default 1000, ImageNet). */
  numClasses?: number;
  /**
   * Where downsampling bottlenecks stride: "3x3" (default, torchvision) or "1x1" (ResNet v1, as
   * Caffe's and Keras' ImageNet weights; such files say so in their `resnet_stride` metadata).
   * BasicBlock networks (18/34) are the same either way.
   */
  strideAt?: ResNetStride;
}

/** The stride placement a weight file's metadata declares (`resnet_stride`), default "3x3". */
export function resnetStrideOf(metadata: Record<string, string>, path = "weights"): ResNetStride {
  const v = metadata.resnet_stride;
  if (v === undefined || v === "3x3" || v === "1x1") return v ?? "3x3";
  throw new Error(
    `${path}: metadata resnet_stride is ${JSON.stringify(v)}, expected "3x3" or "1x1"`,
  );
}

/** torchvision's ResNet: conv1, bn1, relu, maxpool, layer1..layer4, avgpool, fc. */
export class ResNet extends Module {
  /** 18, 34, 50, 101 or 152. */
  readonly depth: number;
  /** Width of the pooled feature (512 for 18/34, 2048 for deeper). */
  readonly featureDim: number;
  /** Where downsampling bottlenecks put their stride. */
  readonly strideAt: ResNetStride;
  readonly #stem: Module[];
  readonly #stages: Sequential[];
  readonly #avgpool: AdaptiveAvgPool2d;
  readonly #fc: Linear;

  /** Creates the network with torchvision's initialization (`zero_init_residual` off). */
  constructor(depth: number, opts: ResNetOptions = {}) {
    super();
    const counts = RESNET_LAYERS[depth];
    if (!counts) {
      throw new TorchError(
        "ResNet",
        `depth must be one of ${Object.keys(RESNET_LAYERS).join(", ")}, got ${depth}`,
      );
    }
    this.depth = depth;
    const strideAt = opts.strideAt ?? "3x3";
    if (strideAt !== "3x3" && strideAt !== "1x1") {
      throw new TorchError("ResNet", `strideAt must be "3x3" or "1x1", got ${strideAt}`);
    }
    this.strideAt = strideAt;
    const bottleneck = depth >= 50;
    const expansion = bottleneck ? 4 : 1;
    let inPlanes = 64;
    this.#stem = [
      this.registerModule("conv1", new Conv2d(3, 64, 7, { stride: 2, padding: 3, bias: false })),
      this.registerModule("bn1", new BatchNorm2d(64)),
      this.registerModule("relu", new ReLU()),
      this.registerModule("maxpool", new MaxPool2d(3, { stride: 2, padding: 1 })),
    ];
    this.#stages = [64, 128, 256, 512].map((planes, i) => {
      const stride = i === 0 ? 1 : 2;
      const stage = new Sequential();
      for (let b = 0; b < counts[i]; b++) {
        const s = b === 0 ? stride : 1;
        let down: Module | null = null;
        if (b === 0 && (stride !== 1 || inPlanes !== planes * expansion)) {
          down = new Sequential(
            conv1x1(inPlanes, planes * expansion, stride),
            new BatchNorm2d(planes * expansion),
          );
        }
        stage.append(
          bottleneck
            ? new Bottleneck(inPlanes, planes, s, down, strideAt)
            : new BasicBlock(inPlanes, planes, s, down),
        );
        inPlanes = planes * expansion;
      }
      return this.registerModule(`layer${i + 1}`, stage);
    });
    this.featureDim = 512 * expansion;
    this.#avgpool = this.registerModule("avgpool", new AdaptiveAvgPool2d(1));
    this.#fc = this.registerModule("fc", new Linear(this.featureDim, opts.numClasses ?? 1000));
    for (const [, m] of this.namedModules()) {
      if (m instanceof Conv2d) {
        kaimingNormal_(m.weight, { mode: "fan_out", nonlinearity: "relu" });
      } else if (m instanceof BatchNorm2d) {
        constant_(m.weight!, 1);
        constant_(m.bias!, 0);
      }
    }
  }

  /**
   * In evaluation mode, run float32 CPU passes in channels-last layout (faster; see
   * src/nn/layout.ts). On by default; set false for the row-major pass.
   */
  channelsLastInference = true;
  /** Folded kernels of the inference pass (see src/nn/layout.ts). */
  readonly #folded = new FoldedKernels();

  /**
   * How many (convolution, BatchNorm) pairs have folded kernels cached: those of the last
   * inference pass, or of a training pass's frozen prefix (0 after a training pass without one).
   */
  get foldedKernelCount(): number {
    return this.#folded.size;
  }

  /** Frees the folded kernels of the inference pass with the parameters. */
  protected override disposeExtra(): void {
    this.#folded.clear();
  }

  /** The feature map after layer4, (N, featureDim, H/32, W/32). */
  forwardMap(x: Tensor): Tensor {
    if (wantsChannelsLast(this.training, this.channelsLastInference, x)) return this.#mapFolded(x);
    // Training: a frozen prefix (no parameter learns, every BatchNorm in eval mode, as ECN freezes
    // conv1..layer2) is an inference pass whatever the mode; it runs folded and channels-last,
    // and the rest of the network gets a row-major copy of its output. Nothing of the prefix is
    // recorded for backward either way (no input or parameter there needs a gradient).
    const frozen = this.#frozenStages(x);
    if (frozen < 0 && this.#folded.size > 0) this.#folded.clear(); // free the folds
    let y = x;
    if (frozen >= 0) {
      using prefix = noGrad(() => this.#mapFolded(x, frozen));
      y = prefix.contiguous();
    }
    const rest = frozen >= 0 ? this.#stages.slice(frozen) : [...this.#stem, ...this.#stages];
    for (const m of rest) {
      const next = m.forward(y);
      if (y !== x) y.dispose();
      y = next;
    }
    return y;
  }

  /**
   * For a training pass over `x`: how many stages after the stem are frozen (-1 when the stem
   * itself is not, or the pass is not a float32 CPU one with the inference layout enabled, or `x`
   * needs a gradient). Frozen: no parameter requires a gradient, every BatchNorm is in eval mode.
   */
  #frozenStages(x: Tensor): number {
    if (!wantsChannelsLast(false, this.channelsLastInference, x) || x.requiresGrad) return -1;
    const frozen = (m: Module) =>
      m.parameters().every((p) => !p.requiresGrad) &&
      m.namedModules().every(([, s]) => !(s instanceof BatchNorm2d) || !s.training);
    if (!this.#stem.every(frozen)) return -1;
    const n = this.#stages.findIndex((s) => !frozen(s));
    return n < 0 ? this.#stages.length : n;
  }

  /**
   * The inference pass: channels-last, BatchNorms folded into the convolutions; the stem and the
   * first `stages` stages (default all).
   */
  #mapFolded(x: Tensor, stages = this.#stages.length): Tensor {
    const [conv1, bn1, , maxpool] = this.#stem as [Conv2d, BatchNorm2d, Module, Module];
    let y: Tensor;
    {
      using input = x.contiguous("channels_last");
      using b = foldedConvBn(conv1, bn1, input, this.#folded, { relu: true });
      y = maxpool.forward(b);
    }
    for (const stage of this.#stages.slice(0, stages)) {
      for (let i = 0; i < stage.length; i++) {
        const next = (stage.at(i) as Block).forwardFolded(y, this.#folded, true);
        y.dispose();
        y = next;
      }
    }
    return y;
  }

  /** The globally average-pooled feature (`pool5`), (N, featureDim). */
  forwardFeatures(x: Tensor): Tensor {
    using map = this.forwardMap(x);
    using pooled = this.#avgpool.forward(map);
    return pooled.flatten(1);
  }

  /** Class logits from `fc`, (N, numClasses). */
  forward(x: Tensor): Tensor {
    using f = this.forwardFeatures(x);
    return this.#fc.forward(f);
  }
}

/** A ResNet of the given depth (18, 34, 50, 101, 152) with torchvision's initialization. */
export function resnet(depth: number, opts: ResNetOptions = {}): ResNet {
  return new ResNet(depth, opts);
}

/**
 * Loads an ImageNet ResNet weight file (torchvision layout, `.pth` or safetensors): the depth and
 * class count come from its keys and shapes, the stride placement from its `resnet_stride`
 * metadata (e.g. the converted Keras ResNet-50 of `deno task weights resnet50`).
 */
export async function loadResNet(path: string): Promise<ResNet> {
  const sd = await readWeights(path);
  const strideAt = resnetStrideOf(await weightsMetadata(path), path);
  const blocks = [1, 2, 3, 4].map((l) => {
    let n = 0;
    while (sd.has(`layer${l}.${n}.conv1.weight`)) n++;
    return n;
  });
  const bottleneck = sd.has("layer1.0.conv3.weight");
  const depth = Object.entries(RESNET_LAYERS).find(([d, c]) =>
    (Number(d) >= 50) === bottleneck && c.every((n, i) => n === blocks[i])
  )?.[0];
  if (depth === undefined) {
    throw new Error(
      `${path}: not a torchvision ResNet (blocks per stage ${blocks.join(",")}, ` +
        `${bottleneck ? "bottleneck" : "basic"} blocks)`,
    );
  }
  const fc = sd.get("fc.weight");
  const model = new ResNet(Number(depth), { numClasses: fc?.shape[0] ?? 1000, strideAt });
  try {
    model.loadStateDict(sd);
  } catch (e) {
    model.dispose();
    throw new Error(`${path}: ${(e as Error).message}`, { cause: e });
  }
  return model;
}
