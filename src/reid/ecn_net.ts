/**
 * The ECN network (docs/ECN.md "Network"): a ResNet or MobileNetV2 backbone, global average
 * pooling (`pool5`), Linear -> BatchNorm1d embedding, a source branch (ReLU, Dropout, Linear to
 * the source identities) and a target branch (L2-normalize, Dropout) for the exemplar memory.
 *
 * Parameter names follow the reference model (`base.*`, `feat.*`, `feat_bn.*`, `classifier.*`),
 * so its checkpoints and ours share keys.
 *
 * @module
 */
import { dropout, noGrad, normalize, type Tensor, TorchError } from "../tensor/mod.ts";
import { constant_, kaimingNormal_, normal_ } from "../nn/init.ts";
import { BatchNorm1d, BatchNorm2d, Linear } from "../nn/layers.ts";
import { MobileNetV2 } from "../nn/mobilenet.ts";
import { Module } from "../nn/module.ts";
import { ResNet, type ResNetStride, resnetStrideOf } from "../nn/resnet.ts";
import { readWeights, weightsMetadata } from "../nn/weights.ts";

/** Backbones the ECN network can use. */
export type EcnArch =
  | "resnet18"
  | "resnet34"
  | "resnet50"
  | "resnet101"
  | "resnet152"
  | "mobilenet_v2";

/** The backbone architectures, in the order the CLI lists them. */
export const ECN_ARCHS: readonly EcnArch[] = [
  "resnet18",
  "resnet34",
  "resnet50",
  "resnet101",
  "resnet152",
  "mobilenet_v2",
];

/** Options of {@link EcnNet}. */
export interface EcnNetOptions {
  /** Backbone (default "resnet50", as the paper). */
  arch?: EcnArch;
  /** Number of source identities: outputs of the source classifier. */
  numSourceIds: number;
  /** Embedding size after pool5 (default 4096). */
  numFeatures?: number;
  /** Dropout of both branches (default 0.5). */
  dropout?: number;
  /**
   * The last frozen backbone stage: everything from the input up to and including it gets no
   * gradient and keeps its BatchNorms in eval mode. ResNet stages: conv1, bn1, relu, maxpool,
   * layer1..layer4; MobileNetV2: features.0..features.18; "none" freezes nothing. Default
   * "layer2" (the paper) for ResNets, "features.6" (the stride-8 stage, like layer2) for
   * MobileNetV2.
   */
  freezeUntil?: string;
  /**
   * ResNets only: where downsampling bottlenecks stride, "3x3" (default, torchvision) or "1x1"
   * (ResNet v1, e.g. the converted Keras ResNet-50; its file's `resnet_stride` metadata says so).
   */
  resnetStride?: ResNetStride;
}

/** What one forward pass of the ECN network gives. */
export interface EcnOutputs {
  /** Pooled backbone features, L2-normalized: the evaluation features. (N, pool5Dim) */
  pool5: Tensor;
  /** Target-branch features (L2-normalized embedding, then dropout), for the memory. (N, F) */
  tgtFeat: Tensor;
  /** Source-identity logits. (N, numSourceIds) */
  logits: Tensor;
}

/** A parameter group for SGD with its learning-rate multiplier. */
export interface ParamGroup {
  /** Trainable parameters of the group. */
  params: Tensor[];
  /** Multiplier of the base learning rate (0.1 backbone, 1.0 new layers). */
  lrMult: number;
}

/** Which feature {@link EcnNet.extract} returns. */
export type EcnFeatureKind = "pool5" | "embedding";

function resnetDepth(arch: EcnArch): number | null {
  const m = /^resnet(\d+)$/.exec(arch);
  return m ? Number(m[1]) : null;
}

/** The ECN network; see the module documentation. */
export class EcnNet extends Module {
  /** The backbone architecture. */
  readonly arch: EcnArch;
  /** Width of pool5 (512, 2048 or 1280). */
  readonly pool5Dim: number;
  /** Width of the embedding. */
  readonly numFeatures: number;
  /** Number of source identities. */
  readonly numSourceIds: number;
  /** Dropout probability of both branches. */
  readonly dropout: number;
  /** The backbone stages in forward order, with their names as in `freezeUntil`. */
  readonly stages: ReadonlyArray<readonly [string, Module]>;
  /** Names of the frozen stages. */
  readonly frozenStages: readonly string[];
  /** The backbone (key prefix `base.`). */
  readonly base: ResNet | MobileNetV2;
  /** pool5 -> embedding. */
  readonly feat: Linear;
  /** BatchNorm of the embedding. */
  readonly featBn: BatchNorm1d;
  /** Source classifier. */
  readonly classifier: Linear;
  // The backbone's unused ImageNet head (`fc.`), kept only so keys match the reference.
  readonly #headPrefix: string;

  /** Builds the network with fresh weights (seed with `manualSeed` for reproducibility). */
  constructor(opts: EcnNetOptions) {
    super();
    const arch = opts.arch ?? "resnet50";
    if (!ECN_ARCHS.includes(arch)) {
      throw new TorchError("EcnNet", `arch must be one of ${ECN_ARCHS.join(", ")}, got ${arch}`);
    }
    if (!Number.isInteger(opts.numSourceIds) || opts.numSourceIds < 1) {
      throw new TorchError(
        "EcnNet",
        `numSourceIds must be a positive integer, got ${opts.numSourceIds}`,
      );
    }
    const numFeatures = opts.numFeatures ?? 4096;
    if (!Number.isInteger(numFeatures) || numFeatures < 1) {
      throw new TorchError("EcnNet", `numFeatures must be a positive integer, got ${numFeatures}`);
    }
    const p = opts.dropout ?? 0.5;
    if (!(p >= 0 && p < 1)) throw new TorchError("EcnNet", `dropout must be in [0, 1), got ${p}`);
    this.arch = arch;
    this.numFeatures = numFeatures;
    this.numSourceIds = opts.numSourceIds;
    this.dropout = p;

    const depth = resnetDepth(arch);
    let stages: Array<[string, Module]>;
    if (depth !== null) {
      const net = new ResNet(depth, { strideAt: opts.resnetStride });
      this.base = this.registerModule("base", net);
      this.pool5Dim = net.featureDim;
      this.#headPrefix = "fc.";
      stages = ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4"]
        .map((n) => [n, net.child(n)]);
    } else {
      const net = new MobileNetV2({ numClasses: 0 });
      this.base = this.registerModule("base", net);
      this.pool5Dim = net.lastChannel;
      this.#headPrefix = "classifier.";
      stages = net.features.children().map(([n, m]) => [`features.${n}`, m]);
    }
    this.stages = stages;

    const until = opts.freezeUntil ?? (depth !== null ? "layer2" : "features.6");
    const idx = until === "none" ? -1 : stages.findIndex(([n]) => n === until);
    if (until !== "none" && idx < 0) {
      throw new TorchError(
        "EcnNet",
        `freezeUntil ${JSON.stringify(until)} is not a stage of ${arch}; expected "none" or one ` +
          `of ${stages.map(([n]) => n).join(", ")}`,
      );
    }
    this.frozenStages = stages.slice(0, idx + 1).map(([n]) => n);
    for (const [, m] of stages.slice(0, idx + 1)) m.setRequiresGrad(false);

    this.feat = this.registerModule("feat", new Linear(this.pool5Dim, numFeatures));
    this.featBn = this.registerModule("feat_bn", new BatchNorm1d(numFeatures));
    this.classifier = this.registerModule("classifier", new Linear(numFeatures, opts.numSourceIds));
    kaimingNormal_(this.feat.weight, { mode: "fan_out" });
    constant_(this.feat.bias!, 0);
    constant_(this.featBn.weight!, 1);
    constant_(this.featBn.bias!, 0);
    normal_(this.classifier.weight, 0, 0.001);
    constant_(this.classifier.bias!, 0);
    this.applyFrozen();
  }

  /**
   * Puts every BatchNorm of the frozen stages in eval mode (their running statistics stay as
   * loaded). Call after every `train()`, as the reference's `set_model_train` does.
   */
  applyFrozen(): this {
    for (const name of this.frozenStages) {
      for (const [, m] of this.base.child(name).namedModules()) {
        if (m instanceof BatchNorm2d || m instanceof BatchNorm1d) m.training = false;
      }
    }
    return this;
  }

  /** `train(mode)` that keeps the frozen BatchNorms in eval mode. */
  override train(mode = true): this {
    super.train(mode);
    return this.applyFrozen();
  }

  /** Pooled backbone features before normalization, (N, pool5Dim). */
  #pool5(x: Tensor): Tensor {
    if (x.ndim !== 4 || x.shape[1] !== 3) {
      throw new TorchError("EcnNet", `expected input images (N, 3, H, W), got [${x.shape}]`);
    }
    return this.base.forwardFeatures(x);
  }

  /** The BatchNorm'ed embedding of raw pool5 features. */
  #embed(pool5: Tensor): Tensor {
    using f = this.feat.forward(pool5);
    return this.featBn.forward(f);
  }

  /**
   * All outputs, in the reference's order of random draws (target-branch dropout, then the
   * source branch's), so a seeded run matches PyTorch's dropout masks.
   */
  forwardAll(x: Tensor): EcnOutputs {
    using raw = this.#pool5(x);
    const pool5 = normalize(raw, { dim: 1 });
    using emb = this.#embed(raw);
    using unit = normalize(emb, { dim: 1 });
    const tgtFeat = dropout(unit, this.dropout, this.training);
    using act = emb.relu();
    let logits: Tensor;
    if (this.dropout > 0) {
      using dropped = dropout(act, this.dropout, this.training);
      logits = this.classifier.forward(dropped);
    } else {
      logits = this.classifier.forward(act);
    }
    return { pool5, tgtFeat, logits };
  }

  /** Target-branch features only (the reference's `output_feature='tgt_feat'`). */
  forwardTarget(x: Tensor): Tensor {
    using raw = this.#pool5(x);
    using emb = this.#embed(raw);
    using unit = normalize(emb, { dim: 1 });
    return dropout(unit, this.dropout, this.training);
  }

  /** Source-identity logits (computing and discarding the target branch, as the reference). */
  forward(x: Tensor): Tensor {
    const out = this.forwardAll(x);
    out.pool5.dispose();
    out.tgtFeat.dispose();
    return out.logits;
  }

  /**
   * Evaluation features without gradients, in eval mode (the modes are restored afterwards):
   * L2-normalized pool5 (default, the reference's) or the L2-normalized 4096-d embedding.
   */
  extract(x: Tensor, kind: EcnFeatureKind = "pool5"): Tensor {
    const modes = this.namedModules().map(([, m]) => [m, m.training] as const);
    for (const [m] of modes) m.training = false;
    try {
      return noGrad(() => {
        using raw = this.#pool5(x);
        if (kind === "pool5") return normalize(raw, { dim: 1 });
        using emb = this.#embed(raw);
        return normalize(emb, { dim: 1 });
      });
    } finally {
      for (const [m, t] of modes) m.training = t;
    }
  }

  /**
   * SGD parameter groups: trainable backbone parameters (lr x0.1) and the new layers (x1.0).
   * Frozen parameters and the backbone's unused ImageNet head are left out.
   */
  paramGroups(): ParamGroup[] {
    const backbone = this.base.namedParameters()
      .filter(([n, t]) => t.requiresGrad && !n.startsWith(this.#headPrefix))
      .map(([, t]) => t);
    const fresh = this.namedParameters()
      .filter(([n, t]) => t.requiresGrad && !n.startsWith("base."))
      .map(([, t]) => t);
    return [{ params: backbone, lrMult: 0.1 }, { params: fresh, lrMult: 1.0 }];
  }

  /**
   * Loads backbone weights (torchvision layout, `.pth` or safetensors; e.g. ImageNet ResNet or
   * the shared MobileNetV2 file). Every backbone key must be present; the file's ImageNet head
   * (`fc.*` / `classifier.*`) is ignored.
   */
  async loadBackboneWeights(path: string): Promise<void> {
    if (this.base instanceof ResNet) {
      const want = resnetStrideOf(await weightsMetadata(path), path);
      if (want !== this.base.strideAt) {
        throw new Error(
          `${path}: its metadata says resnet_stride ${want}, but the network was built with ` +
            `${this.base.strideAt} (pass resnetStride "${want}")`,
        );
      }
    }
    const file = await readWeights(path);
    const isHead = (k: string) => k.startsWith(this.#headPrefix);
    const sd = new Map([...file].filter(([k]) => !isHead(k)));
    const own = this.base.stateDict();
    const missing = [...own.keys()].filter((k) => !isHead(k) && !sd.has(k));
    const unexpected = [...sd.keys()].filter((k) => !own.has(k));
    if (missing.length > 0 || unexpected.length > 0) {
      throw new Error(
        `${path}: not a ${this.arch} backbone in torchvision's layout: ` +
          `missing keys (${missing.length}): ${missing.slice(0, 10).join(", ")}; ` +
          `unexpected keys (${unexpected.length}): ${unexpected.slice(0, 10).join(", ")}`,
      );
    }
    try {
      this.base.loadStateDict(sd, { strict: false });
    } catch (e) {
      throw new Error(`${path}: ${(e as Error).message}`, { cause: e });
    }
  }
}
