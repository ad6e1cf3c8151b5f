/**
 * MobileNetV2 (width 1.0) in torchvision's exact layout, so torchvision state dicts (and the
 * shared ImageNet file) load strictly: `features.0` .. `features.18`, `classifier.1`.
 *
 * @module
 */
import { inferenceInput } from "./layout.ts";
import { adaptiveAvgPool2d, type Tensor, TorchError } from "../tensor/mod.ts";
import { constant_, kaimingNormal_, normal_ } from "./init.ts";
import { BatchNorm2d, Conv2d, Dropout, Linear, ReLU6, Sequential } from "./layers.ts";
import { Module } from "./module.ts";
import { readSafetensors } from "./safetensors.ts";
import { detectWeightsFormat, readWeights } from "./weights.ts";

/** Conv -> BatchNorm -> ReLU6 as torchvision's `Conv2dNormActivation` (children "0", "1", "2"). */
export class ConvBNReLU6 extends Sequential {
  /** A `kernel` x `kernel` convolution with "same" padding, no bias, then BN and ReLU6. */
  constructor(inC: number, outC: number, kernel = 3, stride = 1, groups = 1) {
    const padding = (kernel - 1) >> 1;
    super(
      new Conv2d(inC, outC, kernel, { stride, padding, groups, bias: false }),
      new BatchNorm2d(outC),
      new ReLU6(),
    );
  }
}

/** torchvision's `InvertedResidual`: expand (1x1) -> depthwise (3x3) -> project (1x1, linear). */
export class InvertedResidual extends Module {
  /** Whether the input is added to the output (stride 1 and equal channels). */
  readonly useResConnect: boolean;
  /** The block's layers (key prefix `conv.`). */
  readonly conv: Sequential;

  /** A block from `inp` to `oup` channels with hidden width `inp * expandRatio`. */
  constructor(inp: number, oup: number, stride: number, expandRatio: number) {
    super();
    if (stride !== 1 && stride !== 2) {
      throw new TorchError("InvertedResidual", `stride must be 1 or 2, got ${stride}`);
    }
    const hidden = Math.round(inp * expandRatio);
    this.useResConnect = stride === 1 && inp === oup;
    const layers: Module[] = [];
    if (expandRatio !== 1) layers.push(new ConvBNReLU6(inp, hidden, 1));
    layers.push(
      new ConvBNReLU6(hidden, hidden, 3, stride, hidden),
      new Conv2d(hidden, oup, 1, { bias: false }),
      new BatchNorm2d(oup),
    );
    this.conv = this.registerModule("conv", new Sequential(...layers));
  }

  /** The block on `x` (N, C, H, W). */
  forward(x: Tensor): Tensor {
    const y = this.conv.forward(x);
    if (!this.useResConnect) return y;
    const out = x.add(y);
    y.dispose();
    return out;
  }
}

/** torchvision's `_make_divisible`: round to a multiple of `divisor`, never below 90 %. */
function makeDivisible(v: number, divisor = 8): number {
  let n = Math.max(divisor, Math.floor((v + divisor / 2) / divisor) * divisor);
  if (n < 0.9 * v) n += divisor;
  return n;
}

// t (expansion), c (channels), n (repeats), s (first stride): the paper's Table 2.
const SETTINGS: ReadonlyArray<readonly [number, number, number, number]> = [
  [1, 16, 1, 1],
  [6, 24, 2, 2],
  [6, 32, 3, 2],
  [6, 64, 4, 2],
  [6, 96, 3, 1],
  [6, 160, 3, 2],
  [6, 320, 1, 1],
];

/** Options of {@link MobileNetV2}. */
export interface MobileNetV2Options {
  /** Classifier outputs (default 1000); 0 builds no classifier (a backbone). */
  numClasses?: number;
  /** Dropout before the classifier (default 0.2). */
  dropout?: number;
}

/**
 * MobileNetV2, width 1.0, with torchvision's initialization (conv kaiming normal fan_out,
 * BN weight 1 bias 0, linear normal std 0.01 bias 0). Dotted parameter names equal torchvision's.
 */
export class MobileNetV2 extends Module {
  /** Size of the pooled feature vector. */
  readonly lastChannel: number = 1280;
  /** `features.0` (stem) .. `features.18` (1x1 conv to 1280 channels). */
  readonly features: Sequential;
  /** Dropout -> Linear(1280, numClasses), or null for a backbone without a head. */
  readonly classifier: Sequential | null;

  /** Builds the network with fresh weights (seed with `manualSeed` for reproducibility). */
  constructor(opts: MobileNetV2Options = {}) {
    super();
    const numClasses = opts.numClasses ?? 1000;
    if (!Number.isInteger(numClasses) || numClasses < 0) {
      throw new TorchError("MobileNetV2", `numClasses must be an integer >= 0, got ${numClasses}`);
    }
    let input = makeDivisible(32);
    const layers: Module[] = [new ConvBNReLU6(3, input, 3, 2)];
    for (const [t, c, n, s] of SETTINGS) {
      const output = makeDivisible(c);
      for (let i = 0; i < n; i++) {
        layers.push(new InvertedResidual(input, output, i === 0 ? s : 1, t));
        input = output;
      }
    }
    layers.push(new ConvBNReLU6(input, this.lastChannel, 1));
    this.features = this.registerModule("features", new Sequential(...layers));
    this.classifier = numClasses === 0 ? null : this.registerModule(
      "classifier",
      new Sequential(new Dropout(opts.dropout ?? 0.2), new Linear(this.lastChannel, numClasses)),
    );
    for (const [, m] of this.namedModules()) {
      if (m instanceof Conv2d) {
        kaimingNormal_(m.weight, { mode: "fan_out" });
        if (m.bias) constant_(m.bias, 0);
      } else if (m instanceof BatchNorm2d) {
        constant_(m.weight!, 1);
        constant_(m.bias!, 0);
      } else if (m instanceof Linear) {
        normal_(m.weight, 0, 0.01);
        if (m.bias) constant_(m.bias, 0);
      }
    }
  }

  /**
   * In evaluation mode, run float32 CPU passes in channels-last layout (faster; see
   * src/nn/layout.ts). On by default; set false for the row-major pass.
   */
  channelsLastInference = true;

  /** Global-average-pooled features, (N, 1280). */
  forwardFeatures(x: Tensor): Tensor {
    if (x.ndim !== 4 || x.shape[1] !== 3) {
      throw new TorchError("MobileNetV2", `expected input (N, 3, H, W), got [${x.shape}]`);
    }
    const input = inferenceInput(this.training, this.channelsLastInference, x);
    const maps = this.features.forward(input);
    if (input !== x) input.dispose();
    const pooled = adaptiveAvgPool2d(maps, 1);
    maps.dispose();
    const flat = pooled.flatten(1);
    pooled.dispose();
    return flat;
  }

  /** Class logits, (N, numClasses). Throws for a backbone built with `numClasses: 0`. */
  forward(x: Tensor): Tensor {
    if (this.classifier === null) {
      throw new TorchError(
        "MobileNetV2",
        "this network has no classifier (numClasses 0): use forwardFeatures",
      );
    }
    const f = this.forwardFeatures(x);
    const logits = this.classifier.forward(f);
    f.dispose();
    return logits;
  }
}

/** Per-channel input normalization, `(x - mean) / std` on RGB in [0, 1]. */
export interface Normalization {
  /** Mean per RGB channel. */
  mean: [number, number, number];
  /** Standard deviation per RGB channel. */
  std: [number, number, number];
}

/** The usual ImageNet normalization (torchvision's weights). */
export const IMAGENET_NORMALIZATION: Readonly<Normalization> = Object.freeze({
  mean: [0.485, 0.456, 0.406] as [number, number, number],
  std: [0.229, 0.224, 0.225] as [number, number, number],
});

function parseTriple(s: string, key: string, path: string): [number, number, number] {
  const parts = s.trim().replace(/^\[|\]$/g, "").split(/[,\s]+/).filter((p) => p !== "");
  const v = parts.map(Number);
  if (v.length !== 3 || v.some((x) => !Number.isFinite(x))) {
    throw new Error(
      `${path}: metadata ${key} must be three numbers such as "0.5,0.5,0.5", got ${
        JSON.stringify(s)
      }`,
    );
  }
  return [v[0], v[1], v[2]];
}

/**
 * The input normalization a weight file asks for: its safetensors metadata `normalize_mean` /
 * `normalize_std` (comma-separated), or the ImageNet defaults when absent (and for `.pth`).
 */
export async function weightsNormalization(path: string): Promise<Normalization> {
  const head = new Uint8Array(16);
  {
    using f = await Deno.open(path, { read: true });
    let got = 0;
    while (got < head.length) {
      const n = await f.read(head.subarray(got));
      if (n === null) break;
      got += n;
    }
  }
  const fallback = (): Normalization => ({
    mean: [...IMAGENET_NORMALIZATION.mean],
    std: [...IMAGENET_NORMALIZATION.std],
  });
  if (detectWeightsFormat(head, path) !== "safetensors") return fallback();
  const { metadata } = await readSafetensors(path);
  const out = fallback();
  if (metadata.normalize_mean !== undefined) {
    out.mean = parseTriple(metadata.normalize_mean, "normalize_mean", path);
  }
  if (metadata.normalize_std !== undefined) {
    out.std = parseTriple(metadata.normalize_std, "normalize_std", path);
    if (out.std.some((s) => s <= 0)) {
      throw new Error(`${path}: metadata normalize_std must be positive, got ${out.std}`);
    }
  }
  return out;
}

/**
 * A MobileNetV2 with the weights of `path` (torchvision layout, loaded strictly). The number of
 * classes is read from `classifier.1.weight`; a file without a classifier gives a backbone.
 */
export async function loadMobileNetV2(path: string): Promise<MobileNetV2> {
  const sd = await readWeights(path);
  const head = sd.get("classifier.1.weight");
  const model = new MobileNetV2({ numClasses: head?.shape[0] ?? 0 });
  try {
    model.loadStateDict(sd);
  } catch (e) {
    model.dispose();
    throw new Error(`${path}: ${(e as Error).message}`, { cause: e });
  }
  return model;
}
