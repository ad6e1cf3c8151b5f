/**
 * The ECN trainer: source cross-entropy plus the target invariance losses through the exemplar
 * memory, SGD with the reference's groups and schedule, checkpoints every epoch (atomic),
 * exact resume, a JSONL log, a loss plot and evaluation on the target's query/gallery.
 *
 * @module
 */
import { join } from "node:path";
import { existsSync, mkdirSync } from "node:fs";
import { CamStyleIndex } from "../data/camstyle.ts";
import { loadReidDataset, type ReidDataset, type ReidItem } from "../data/datasets.ts";
import { type Batch, DataLoader, type LoaderItem, type LoaderOptions } from "../data/loader.ts";
import {
  testTransformConfig,
  trainTransformConfig,
  type TransformConfig,
} from "../data/transforms.ts";
import { evaluateFeatures, type Evaluation, formatEvaluation } from "../eval/evaluate.ts";
import { extractFeatures } from "../eval/features.ts";
import { loadCheckpoint, saveCheckpoint } from "../nn/checkpoint.ts";
import { readSafetensors } from "../nn/safetensors.ts";
import { weightsNormalization } from "../nn/mobilenet.ts";
import { type ResNetStride, resnetStrideOf } from "../nn/resnet.ts";
import { weightsMetadata } from "../nn/weights.ts";
import { SGD } from "../optim/sgd.ts";
import { crossEntropy, manualSeed, noGrad, scope, type Tensor, tensor } from "../tensor/mod.ts";
import { type TrainConfig, validateConfig } from "./config.ts";
import { EcnNet } from "./ecn_net.ts";
import { invarianceLoss } from "./losses.ts";
import { ExemplarMemory } from "./memory.ts";
import { DistError, type ProcessGroup } from "../dist/group.ts";
import { type BatchSource, ShardedLoader } from "../dist/sampler.ts";
import { Progress } from "../util/progress.ts";
import { writeLossPlot } from "../util/plot.ts";

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

/** One line of the run's log.jsonl. */
export interface LogRecord {
  /** What the line holds: one step, an epoch's means, or an evaluation. */
  kind: "step" | "epoch" | "eval";
  /** 0-based epoch. */
  epoch: number;
  /** 1-based step within the epoch (step lines). */
  step?: number;
  /** Learning rate of the new layers in this epoch. */
  lr?: number;
  /** Total loss (epoch lines: mean over the epoch). */
  loss?: number;
  /** Source cross-entropy (epoch lines: mean over the epoch). */
  source?: number;
  /** Target loss (epoch lines: mean over the epoch); null when source-only. */
  target?: number | null;
  /** Source-batch accuracy (epoch lines: mean over the epoch). */
  accuracy?: number;
  /** Source plus target images per second since the epoch began. */
  imagesPerSecond?: number;
  /** Figures of an evaluation (eval lines), without the per-query data. */
  eval?: Omit<Evaluation, "top" | "perQuery">;
  /** Wall-clock time of the record, ISO 8601. */
  time: string;
}

const CKPT = "checkpoint.safetensors";
/** How long the other ranks wait for rank 0's evaluation (seconds). */
const EVAL_TIMEOUT_SECONDS = 6 * 3600;

function int64(a: Int32Array): BigInt64Array<ArrayBuffer> {
  const out = new BigInt64Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = BigInt(a[i]);
  return out;
}

function loaderItems(items: readonly ReidItem[]): LoaderItem[] {
  return items.map((it) => ({ path: it.path, pid: it.pid, cam: it.cam, index: it.index }));
}

/** An ECN training run. Build with {@link Trainer.create}, then {@link Trainer.fit}. */
export class Trainer {
  /** The validated settings, with the normalization actually used. */
  readonly config: TrainConfig;
  /** The labelled source data set. */
  readonly source: ReidDataset;
  /** The unlabelled target data set; null when none was given. */
  readonly target: ReidDataset | null;
  /** The network being trained. */
  readonly model: EcnNet;
  /** SGD over the backbone and new-layer parameter groups. */
  readonly optimizer: SGD;
  /** Exemplar memory of the target training images; null when source-only or without a target. */
  readonly memory: ExemplarMemory | null;
  /** Augmentation of training images. */
  readonly trainTransform: TransformConfig;
  /** Resize and normalization for feature extraction. */
  readonly testTransform: TransformConfig;
  /** The next epoch to run (after a resume: the one after the checkpoint's). */
  startEpoch = 0;
  /** Target batches consumed so far (for exact resume of the restarting target loader). */
  targetBatchesSeen = 0;
  readonly #log: (line: string) => void;
  readonly #quiet: boolean;
  readonly #history: LogRecord[] = [];
  /** Data parallel: the process group (null: one process). */
  #group: ProcessGroup | null = null;
  /** The number of processes of the run the checkpoint came from (1 before a resume). */
  #checkpointWorld = 1;

  private constructor(
    config: TrainConfig,
    parts: {
      source: ReidDataset;
      target: ReidDataset | null;
      model: EcnNet;
      optimizer: SGD;
      memory: ExemplarMemory | null;
      trainTransform: TransformConfig;
      testTransform: TransformConfig;
      log: (line: string) => void;
      quiet: boolean;
    },
  ) {
    this.config = config;
    this.source = parts.source;
    this.target = parts.target;
    this.model = parts.model;
    this.optimizer = parts.optimizer;
    this.memory = parts.memory;
    this.trainTransform = parts.trainTransform;
    this.testTransform = parts.testTransform;
    this.#log = parts.log;
    this.#quiet = parts.quiet;
  }

  /**
   * Loads the data sets, builds the network (seeded), the optimizer and the memory, and, with
   * `resume`, restores everything from the run's checkpoint. Refuses a checkpoint whose memory
   * does not fit the target data set.
   */
  static async create(
    config: TrainConfig,
    opts: {
      resume?: string;
      log?: (line: string) => void;
      quiet?: boolean;
      /** Data parallel: this process's group; rank 0 logs, checkpoints and evaluates. */
      group?: ProcessGroup;
    } = {},
  ): Promise<Trainer> {
    validateConfig(config);
    if (opts.group && opts.group.worldSize > 1 && config.device !== "cpu") {
      throw new DistError(
        `data-parallel training over Gloo needs --device cpu (got ${config.device}); ` +
          "this build has no NCCL path for CUDA tensors",
      );
    }
    const log = opts.log ?? ((l: string) => console.log(l));
    const source = loadReidDataset(config.source, { quiet: opts.quiet, log });
    const target = config.target
      ? loadReidDataset(config.target, { quiet: opts.quiet, log })
      : null;
    if (config.camera && !config.sourceOnly && target) {
      new CamStyleIndex(target, { dir: config.camstyleDir ?? undefined }).check();
    }
    let mean = config.mean ?? undefined;
    let std = config.std ?? undefined;
    if (config.weights && (!mean || !std)) {
      // The weight file says how its inputs were normalized (e.g. mean 0.5, std 0.5).
      const n = await weightsNormalization(config.weights);
      mean ??= n.mean;
      std ??= n.std;
    }
    const size = { height: config.height, width: config.width, mean, std };
    const trainTransform = trainTransformConfig({ ...size, erasingProb: config.erasingProb });
    const testTransform = testTransformConfig(size);

    // ResNet v1 weight files (the converted Keras ResNet-50) need the stride in the first 1x1.
    const resnetStride = config.resnetStride ?? await resolveResnetStride(config);
    manualSeed(config.seed);
    const model = new EcnNet({
      resnetStride,
      arch: config.arch,
      numSourceIds: source.numTrainIds,
      numFeatures: config.numFeatures,
      dropout: config.dropout,
      freezeUntil: config.freezeUntil ?? undefined,
    });
    if (config.weights) await model.loadBackboneWeights(config.weights);
    if (config.init) await initBackboneFrom(model, config.init);
    if (config.device !== "cpu") model.to({ device: config.device });
    const groups = model.paramGroups();
    const optimizer = new SGD(
      groups.map((g) => ({
        params: g.params,
        lrMult: g.lrMult === 1 ? 1 : config.backboneLrMult,
      })),
      {
        lr: config.lr,
        momentum: config.momentum,
        weightDecay: config.weightDecay,
        nesterov: config.nesterov,
      },
    );
    const memory = config.sourceOnly || !target
      ? null
      : new ExemplarMemory(target.train.length, config.numFeatures, { device: config.device });
    const t = new Trainer({ ...config, mean: mean ?? null, std: std ?? null, resnetStride }, {
      source,
      target,
      model,
      optimizer,
      memory,
      trainTransform,
      testTransform,
      log,
      quiet: !!opts.quiet,
    });
    if (opts.resume) await t.#resume(opts.resume);
    if (opts.group) {
      t.#group = opts.group;
      // Every rank starts from rank 0's parameters, buffers and memory (as DDP at construction).
      t.#group.broadcast([...model.parameters(), ...model.namedBuffers().map(([, b]) => b)], 0);
      if (memory) t.#group.broadcast([memory.keys], 0);
    }
    // Group rates as `fit` sets them each epoch, so `step` alone trains with the right ones.
    t.#applyLr(t.startEpoch);
    return t;
  }

  async #resume(path: string): Promise<void> {
    const file = existsSync(join(path, CKPT)) ? join(path, CKPT) : path;
    const ck = await loadCheckpoint(file, { model: this.model, optimizer: this.optimizer });
    try {
      const mem = ck.extra.get("memory");
      if (this.memory) {
        if (!mem) {
          throw new Error(`${file}: the checkpoint has no exemplar memory (a source-only run?)`);
        }
        try {
          this.memory.load(mem);
        } catch (e) {
          throw new Error(`${file}: refusing to resume: ${(e as Error).message}`);
        }
      }
      const state = ck.extra.get("state");
      const s = state ? state.toNumbers() : [ck.epoch, 0];
      this.startEpoch = ck.epoch;
      this.targetBatchesSeen = s[1];
      this.#checkpointWorld = s[2] ?? 1;
    } finally {
      for (const t of ck.extra.values()) t.dispose();
    }
    this.#log(`resumed from ${file} at epoch ${this.startEpoch}`);
  }

  /** Saves the run's checkpoint atomically (the previous one stays until the rename). */
  async saveCheckpoint(epochsDone: number): Promise<string> {
    mkdirSync(this.config.out, { recursive: true });
    const path = join(this.config.out, CKPT);
    const state = tensor(
      new Float64Array([epochsDone, this.targetBatchesSeen, this.#group?.worldSize ?? 1]),
    );
    try {
      await saveCheckpoint(path, {
        model: this.model,
        optimizer: this.optimizer,
        extra: this.memory ? { memory: this.memory.keys, state } : { state },
        epoch: epochsDone,
        config: this.config,
      });
    } finally {
      state.dispose();
    }
    return path;
  }

  #applyLr(epoch: number): number {
    const lrf = this.lrFactor(epoch);
    for (const g of this.optimizer.groups) g.lr = this.config.lr * lrf * g.lrMult;
    return lrf;
  }

  /** The learning-rate factor of `epoch`: gamma ** floor(epoch / stepSize). */
  lrFactor(epoch: number): number {
    return this.config.gamma ** Math.floor(epoch / this.config.stepSize);
  }

  /** One training step on a source batch and (unless source-only) a target batch. */
  step(src: Batch, tgt: Batch | null, epoch: number): StepLosses {
    return ecnStep(this, src, tgt, epoch, this.#group);
  }

  /** Extracts target (or `dataset`) query/gallery features and evaluates them. */
  async evaluate(
    dataset: ReidDataset | null = this.target,
    opts: { keepTop?: number; rerank?: boolean; flip?: boolean } = {},
  ): Promise<Evaluation> {
    if (!dataset) throw new Error("evaluate: no target data set in this run");
    const progress = new Progress("features", dataset.query.length + dataset.gallery.length, {
      quiet: this.#quiet || undefined,
    });
    const common = {
      transform: this.testTransform,
      batchSize: 128,
      device: this.config.device,
      flip: opts.flip,
      workers: this.config.workers ?? undefined,
    };
    const q = await extractFeatures(this.model, dataset.query, {
      ...common,
      onProgress: (d) => progress.update(d),
    });
    const g = await extractFeatures(this.model, dataset.gallery, {
      ...common,
      onProgress: (d) => progress.update(dataset.query.length + d),
    });
    progress.done();
    return evaluateFeatures(q, g, {
      device: this.config.device,
      keepTop: opts.keepTop,
      rerank: opts.rerank,
    });
  }

  /**
   * The target evaluation inside `fit`: with several processes each extracts the features of its
   * contiguous share of query + gallery, rank 0 gathers them (in order) and computes the figures;
   * the other ranks return null.
   */
  async #evaluateShared(): Promise<Evaluation | null> {
    const pg = this.#group;
    const dataset = this.target!;
    const items = [...dataset.query, ...dataset.gallery];
    if (!pg || pg.worldSize === 1) return await this.evaluate();
    if (items.length < pg.worldSize) {
      // Too few images to share: rank 0 alone.
      return pg.rank === 0 ? await this.evaluate() : null;
    }
    // Each rank's BatchNorm statistics moved with its own last batch: use rank 0's (as saved).
    pg.broadcast(this.model.namedBuffers().map(([, b]) => b), 0);
    const share = (r: number) => Math.floor((r * items.length) / pg.worldSize);
    const mine = items.slice(share(pg.rank), share(pg.rank + 1)); // at least one image each
    const progress = new Progress("features", mine.length, { quiet: this.#quiet || undefined });
    const f = await extractFeatures(this.model, mine, {
      transform: this.testTransform,
      batchSize: 128,
      device: this.config.device,
      workers: this.config.workers ?? undefined,
      onProgress: (d) => progress.update(d),
    });
    progress.done();
    using local = tensor(f.features, { shape: [mine.length, f.dim] });
    using all = pg.allGather(local);
    if (pg.rank !== 0) return null;
    const d = all.shape[1];
    const features = all.toArray() as Float32Array;
    const set = (from: number, list: readonly ReidItem[]) => ({
      features: features.slice(from * d, (from + list.length) * d),
      dim: d,
      names: list.map((it) => it.path),
      ids: Int32Array.from(list, (it) => it.pid),
      cams: Int32Array.from(list, (it) => it.cam),
    });
    return evaluateFeatures(set(0, dataset.query), set(dataset.query.length, dataset.gallery), {
      device: this.config.device,
    });
  }

  #record(r: LogRecord): void {
    if (!this.#isRank0) return;
    this.#history.push(r);
    mkdirSync(this.config.out, { recursive: true });
    Deno.writeTextFileSync(join(this.config.out, "log.jsonl"), JSON.stringify(r) + "\n", {
      append: true,
    });
  }

  /** Whether this process writes the run's files (one process, or rank 0 of a group). */
  get #isRank0(): boolean {
    return !this.#group || this.#group.rank === 0;
  }

  /** A loader, or with several processes this rank's share of it (see src/dist/sampler.ts). */
  #loader(items: LoaderItem[], opts: LoaderOptions): BatchSource {
    const pg = this.#group;
    return pg && pg.worldSize > 1
      ? new ShardedLoader(items, opts, pg.rank, pg.worldSize)
      : new DataLoader(items, opts);
  }

  /**
   * Runs the remaining epochs; returns the final target evaluation (null when source-only without
   * target, and on ranks other than 0).
   */
  async fit(): Promise<Evaluation | null> {
    const c = this.config;
    const pg = this.#group;
    if (this.#isRank0) {
      mkdirSync(c.out, { recursive: true });
      Deno.writeTextFileSync(join(c.out, "config.json"), JSON.stringify(c, null, 2) + "\n");
    }
    const workers = c.workers ?? undefined;
    const srcLoader = this.#loader(loaderItems(this.source.train), {
      batchSize: c.batchSize,
      transform: this.trainTransform,
      shuffle: true,
      dropLast: true,
      seed: c.seed,
      workers,
    });
    let tgtLoader: BatchSource | null = null;
    if (this.memory && this.target) {
      const cams = c.camera
        ? new CamStyleIndex(this.target, { dir: c.camstyleDir ?? undefined })
        : null;
      const byIndex = this.target.train;
      tgtLoader = this.#loader(loaderItems(this.target.train), {
        batchSize: c.targetBatchSize,
        transform: this.trainTransform,
        shuffle: true,
        dropLast: true,
        seed: c.seed + 7919,
        workers,
        pathMapper: cams
          ? (item, rng) => cams.pickCamStyle(byIndex[item.index!], () => rng.next())
          : undefined,
      });
    }
    let final: Evaluation | null = null;
    try {
      const perPass = tgtLoader?.batchesPerEpoch ?? 1;
      const world = pg?.worldSize ?? 1;
      if (tgtLoader && this.#checkpointWorld !== world && this.targetBatchesSeen > 0) {
        // Resumed with another number of processes: global batches had another size, so the
        // target stream restarts at the pass after the one in progress.
        const old = Math.max(
          1,
          Math.floor(this.target!.train.length / (c.targetBatchSize * this.#checkpointWorld)),
        );
        this.targetBatchesSeen = Math.ceil(this.targetBatchesSeen / old) * perPass;
        this.#log(
          `resume: the checkpoint was written by ${this.#checkpointWorld} process(es), this run ` +
            `has ${world}: the target stream continues at its next pass`,
        );
      }
      const target = tgtLoader
        ? tgtLoader.restarting(Math.floor(this.targetBatchesSeen / perPass))
        : null;
      // Exact resume: skip the target batches of the current pass already consumed.
      for (let skip = this.targetBatchesSeen % perPass; target && skip > 0; skip--) {
        const b = (await target.next()).value as Batch;
        tgtLoader!.recycle(b);
      }
      const stepsPerEpoch = c.maxStepsPerEpoch > 0
        ? Math.min(c.maxStepsPerEpoch, srcLoader.batchesPerEpoch)
        : srcLoader.batchesPerEpoch;
      if (stepsPerEpoch === 0) {
        throw new Error(
          `the source training set has ${this.source.train.length} images, fewer than one batch of ${c.batchSize}`,
        );
      }
      for (let epoch = this.startEpoch; epoch < c.epochs; epoch++) {
        const lrf = this.#applyLr(epoch);
        this.model.train();
        const progress = new Progress(`epoch ${epoch + 1}/${c.epochs}`, stepsPerEpoch, {
          quiet: this.#quiet || undefined,
        });
        const t0 = performance.now();
        let images = 0;
        let step = 0;
        const sums = { loss: 0, source: 0, target: 0, accuracy: 0 };
        for await (const src of srcLoader.epoch(epoch)) {
          if (step >= stepsPerEpoch) {
            srcLoader.recycle(src);
            break;
          }
          const tgt = target ? (await target.next()).value as Batch : null;
          let losses: StepLosses;
          try {
            losses = this.step(src, tgt, epoch);
          } catch (e) {
            if (e instanceof NonFiniteLossError) {
              const kept = existsSync(join(c.out, CKPT))
                ? `the last good checkpoint is kept at ${join(c.out, CKPT)}`
                : "no checkpoint had been written yet";
              throw new Error(`${e.message}: stopping; ${kept}`);
            }
            throw e;
          }
          if (tgt) {
            this.targetBatchesSeen++;
            tgtLoader!.recycle(tgt);
          }
          images += src.size + (tgt?.size ?? 0);
          srcLoader.recycle(src);
          step++;
          sums.loss += losses.loss;
          sums.source += losses.source;
          sums.target += losses.target ?? 0;
          sums.accuracy += losses.accuracy;
          const ips = images / ((performance.now() - t0) / 1000);
          this.#record({
            kind: "step",
            epoch,
            step,
            lr: c.lr * lrf,
            ...losses,
            imagesPerSecond: ips,
            time: new Date().toISOString(),
          });
          progress.update(step, {
            loss: losses.loss.toFixed(3),
            src: losses.source.toFixed(3),
            ...(losses.target !== null ? { tgt: losses.target.toFixed(3) } : {}),
            acc: (100 * losses.accuracy).toFixed(0) + "%",
            "img/s": ips.toFixed(1),
          });
        }
        progress.done();
        const secs = (performance.now() - t0) / 1000;
        this.#record({
          kind: "epoch",
          epoch,
          lr: c.lr * lrf,
          loss: sums.loss / step,
          source: sums.source / step,
          target: this.memory ? sums.target / step : null,
          accuracy: sums.accuracy / step,
          imagesPerSecond: images / secs,
          time: new Date().toISOString(),
        });
        if (this.#isRank0) {
          await this.saveCheckpoint(epoch + 1);
          writeLossPlot(join(c.out, "loss.svg"), this.#history.filter((r) => r.kind === "step"));
        }
        const last = epoch === c.epochs - 1;
        const evaluate = this.target &&
          (last || (c.evalEvery > 0 && (epoch + 1) % c.evalEvery === 0));
        if (evaluate) {
          const e = await this.#evaluateShared();
          if (e) {
            const { top: _t, perQuery: _p, ...figures } = e;
            this.#record({ kind: "eval", epoch, eval: figures, time: new Date().toISOString() });
            this.#log(`epoch ${epoch + 1} target ${this.target!.name}: ${formatEvaluation(e)}`);
            final = e;
          }
          // The other ranks wait while rank 0 computes the figures (a longer bound).
          if (pg) pg.barrier(EVAL_TIMEOUT_SECONDS);
        }
      }
      if (this.startEpoch >= c.epochs && this.target) {
        final = await this.#evaluateShared();
        if (pg) pg.barrier(EVAL_TIMEOUT_SECONDS);
      }
    } finally {
      srcLoader.close();
      tgtLoader?.close();
    }
    return final;
  }

  /** Frees the model, optimizer state and memory. */
  dispose(): void {
    this.optimizer.dispose();
    this.memory?.dispose();
    this.model.dispose();
  }
}

/** A NaN or infinite loss. */
export class NonFiniteLossError extends Error {
  /** Makes the error for `epoch`. */
  constructor(epoch: number, value: number) {
    super(`the loss became ${value} in epoch ${epoch + 1}`);
    this.name = "NonFiniteLossError";
  }
}

/** The stride placement a run's weight file or `init` checkpoint declares; "3x3" when none. */
async function resolveResnetStride(config: TrainConfig): Promise<ResNetStride> {
  if (config.weights) return resnetStrideOf(await weightsMetadata(config.weights), config.weights);
  if (config.init) {
    const meta = await weightsMetadata(config.init);
    const c = meta.config ? JSON.parse(meta.config) as Partial<TrainConfig> : {};
    return c.resnetStride ?? "3x3";
  }
  return "3x3";
}

/**
 * Initializes the backbone (and the embedding) from a training checkpoint, e.g. a source-only
 * run: every `base.`, `feat.` and `featBn.` tensor of matching shape is copied; the classifier and
 * the memory are not.
 */
async function initBackboneFrom(model: EcnNet, path: string): Promise<void> {
  const { tensors, metadata } = await readSafetensors(path);
  if (metadata.format !== "ecn-checkpoint/1") {
    throw new Error(
      `--init ${path}: not an ECN training checkpoint (use --weights for weight files)`,
    );
  }
  const { rawToTensor } = await import("../nn/state_dict.ts");
  const own = model.stateDict();
  let copied = 0;
  const mismatched: string[] = [];
  noGrad(() => {
    for (const [k, raw] of tensors) {
      if (!k.startsWith("model.")) continue;
      const name = k.slice(6);
      if (name.startsWith("classifier.")) continue;
      const mine = own.get(name);
      if (!mine) continue;
      if (mine.shape.join(",") !== raw.shape.join(",")) {
        mismatched.push(`${name} [${raw.shape}] vs [${mine.shape}]`);
        continue;
      }
      using t = rawToTensor(raw, name);
      mine.copy_(t);
      copied++;
    }
  });
  if (mismatched.length > 0 || copied === 0) {
    throw new Error(
      `--init ${path}: the checkpoint does not fit this network (${model.arch}, ${model.numFeatures} ` +
        `features): ${copied} tensors matched; mismatched: ${mismatched.slice(0, 5).join("; ")}`,
    );
  }
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
