/**
 * The ECN trainer: source cross-entropy plus the target invariance losses through the exemplar
 * memory (src/reid/step.ts), SGD with the reference's groups and step schedule, a checkpoint every
 * epoch, exact resume, and evaluation on the target's query/gallery; the run's files are written
 * by src/reid/run_folder.ts. It prints nothing: what happens is reported as {@link TrainerEvent}s
 * (the train command draws them as progress bars and log lines).
 *
 * @module
 */
import { CamStyleIndex } from "../data/camstyle.ts";
import { loadReidDataset, type ReidDataset, type ReidItem } from "../data/datasets.ts";
import { type Batch, DataLoader, type LoaderItem, type LoaderOptions } from "../data/loader.ts";
import {
  testTransformConfig,
  trainTransformConfig,
  type TransformConfig,
} from "../data/transforms.ts";
import { evaluateFeatures, type Evaluation } from "../eval/evaluate.ts";
import { evaluateModel } from "../eval/evaluate_model.ts";
import { extractFeatures } from "../eval/features.ts";
import { weightsNormalization } from "../nn/mobilenet.ts";
import { StepSchedule } from "../optim/schedule.ts";
import { SGD } from "../optim/sgd.ts";
import { manualSeed, tensor } from "../tensor/mod.ts";
import { type TrainConfig, validateConfig } from "./config.ts";
import { EcnNet } from "./ecn_net.ts";
import { ExemplarMemory } from "./memory.ts";
import { initBackboneFrom, resolveResnetStride } from "./pretrained.ts";
import { type LogRecord, restoreRun, RunFolder } from "./run_folder.ts";
import type { TrainerEvent, TrainerOptions } from "./trainer_events.ts";
import { ecnStep, NonFiniteLossError, type StepLosses } from "./step.ts";
import { DistError, type ProcessGroup } from "../dist/group.ts";
import { type BatchSource, ShardedLoader } from "../dist/sampler.ts";

/** How long the other ranks wait for rank 0's evaluation (seconds). */
const EVAL_TIMEOUT_SECONDS = 6 * 3600;

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
  /** The learning rate per epoch: `lr × gamma^⌊epoch / stepSize⌋`, times each group's lrMult. */
  readonly schedule: StepSchedule;
  /** The run folder (config, log, plot, checkpoint, result). */
  readonly run: RunFolder;
  /** The next epoch to run (after a resume: the one after the checkpoint's). */
  startEpoch = 0;
  /** Target batches consumed so far (for exact resume of the restarting target loader). */
  targetBatchesSeen = 0;
  readonly #emit: (event: TrainerEvent) => void;
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
      emit: (event: TrainerEvent) => void;
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
    this.schedule = new StepSchedule({
      baseLr: config.lr,
      gamma: config.gamma,
      stepSize: config.stepSize,
    });
    this.run = new RunFolder(config.out);
    this.#emit = parts.emit;
  }

  /**
   * Loads the data sets, builds the network (seeded), the optimizer and the memory, and, with
   * `resume`, restores everything from the run's checkpoint. Refuses a checkpoint whose memory
   * does not fit the target data set.
   */
  static async create(config: TrainConfig, opts: TrainerOptions = {}): Promise<Trainer> {
    validateConfig(config);
    if (opts.group && opts.group.worldSize > 1 && config.device !== "cpu") {
      throw new DistError(
        `data-parallel training over Gloo needs device "cpu" (got ${config.device}); ` +
          "this build has no NCCL path for CUDA tensors",
      );
    }
    const emit = opts.onEvent ?? (() => {});
    const source = loadReidDataset(config.source);
    emit({ kind: "dataset", role: "source", dataset: source });
    const target = config.target ? loadReidDataset(config.target) : null;
    if (target) emit({ kind: "dataset", role: "target", dataset: target });
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
      emit,
    });
    if (opts.resume) {
      const { file, position } = await restoreRun(opts.resume, t);
      t.startEpoch = position.epochsDone;
      t.targetBatchesSeen = position.targetBatchesSeen;
      t.#checkpointWorld = position.worldSize;
      emit({ kind: "resumed", path: file, epoch: t.startEpoch });
    }
    if (opts.group) {
      t.#group = opts.group;
      // Every rank starts from rank 0's parameters, buffers and memory (as DDP at construction).
      t.#group.broadcast([...model.parameters(), ...model.namedBuffers().map(([, b]) => b)], 0);
      if (memory) t.#group.broadcast([memory.keys], 0);
    }
    // Group rates as `fit` sets them each epoch, so `step` alone trains with the right ones.
    t.schedule.apply(t.optimizer, t.startEpoch);
    return t;
  }

  /** Saves the run's checkpoint atomically (the previous one stays until the rename). */
  async saveCheckpoint(epochsDone: number): Promise<string> {
    return await this.run.saveCheckpoint(this, {
      epochsDone,
      targetBatchesSeen: this.targetBatchesSeen,
      worldSize: this.#group?.worldSize ?? 1,
    }, this.config);
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
    const r = await evaluateModel(this.model, dataset, {
      transform: this.testTransform,
      batchSize: 128,
      device: this.config.device,
      flip: opts.flip,
      workers: this.config.workers ?? undefined,
      keepTop: opts.keepTop,
      rerank: opts.rerank,
      onProgress: (done, total) => this.#emit({ kind: "features", done, total }),
    });
    return r.evaluation;
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
    this.#emit({ kind: "features", done: 0, total: mine.length });
    const f = await extractFeatures(this.model, mine, {
      transform: this.testTransform,
      batchSize: 128,
      device: this.config.device,
      workers: this.config.workers ?? undefined,
      onProgress: (done, total) => this.#emit({ kind: "features", done, total }),
    });
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

  /** The source loader and (unless source-only) the target loader, CamStyle images mapped in. */
  #loaders(): { src: BatchSource; tgt: BatchSource | null } {
    const c = this.config;
    const workers = c.workers ?? undefined;
    const src = this.#loader(loaderItems(this.source.train), {
      batchSize: c.batchSize,
      transform: this.trainTransform,
      shuffle: true,
      dropLast: true,
      seed: c.seed,
      workers,
    });
    if (!this.memory || !this.target) return { src, tgt: null };
    const cams = c.camera
      ? new CamStyleIndex(this.target, { dir: c.camstyleDir ?? undefined })
      : null;
    const byIndex = this.target.train;
    const tgt = this.#loader(loaderItems(this.target.train), {
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
    return { src, tgt };
  }

  /**
   * The target stream positioned where the run stopped: the pass in progress, its consumed
   * batches skipped (exact resume).
   */
  async #targetStream(tgtLoader: BatchSource): Promise<AsyncIterator<Batch>> {
    const c = this.config;
    const perPass = tgtLoader.batchesPerEpoch;
    const world = this.#group?.worldSize ?? 1;
    if (this.#checkpointWorld !== world && this.targetBatchesSeen > 0) {
      // Resumed with another number of processes: global batches had another size, so the
      // target stream restarts at the pass after the one in progress.
      const old = Math.max(
        1,
        Math.floor(this.target!.train.length / (c.targetBatchSize * this.#checkpointWorld)),
      );
      this.targetBatchesSeen = Math.ceil(this.targetBatchesSeen / old) * perPass;
      this.#emit({ kind: "worldSizeChanged", from: this.#checkpointWorld, to: world });
    }
    const target = tgtLoader.restarting(Math.floor(this.targetBatchesSeen / perPass));
    for (let skip = this.targetBatchesSeen % perPass; skip > 0; skip--) {
      tgtLoader.recycle((await target.next()).value as Batch);
    }
    return target;
  }

  /**
   * Runs the remaining epochs; returns the final target evaluation (null when source-only without
   * target, and on ranks other than 0).
   */
  async fit(): Promise<Evaluation | null> {
    const c = this.config;
    const pg = this.#group;
    if (this.#isRank0) this.run.writeConfig(c);
    const { src: srcLoader, tgt: tgtLoader } = this.#loaders();
    let final: Evaluation | null = null;
    try {
      const target = tgtLoader ? await this.#targetStream(tgtLoader) : null;
      const stepsPerEpoch = c.maxStepsPerEpoch > 0
        ? Math.min(c.maxStepsPerEpoch, srcLoader.batchesPerEpoch)
        : srcLoader.batchesPerEpoch;
      if (stepsPerEpoch === 0) {
        throw new Error(
          `the source training set has ${this.source.train.length} images, fewer than one batch of ${c.batchSize}`,
        );
      }
      for (let epoch = this.startEpoch; epoch < c.epochs; epoch++) {
        const lr = this.schedule.apply(this.optimizer, epoch);
        this.model.train();
        this.#emit({ kind: "epochStart", epoch, epochs: c.epochs, steps: stepsPerEpoch });
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
              const kept = this.run.hasCheckpoint()
                ? `the last good checkpoint is kept at ${this.run.checkpointPath}`
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
          const record: LogRecord = {
            kind: "step",
            epoch,
            step,
            lr,
            ...losses,
            imagesPerSecond: images / ((performance.now() - t0) / 1000),
            time: new Date().toISOString(),
          };
          if (this.#isRank0) this.run.append(record);
          this.#emit({ kind: "step", record, losses });
        }
        const secs = (performance.now() - t0) / 1000;
        const record: LogRecord = {
          kind: "epoch",
          epoch,
          lr,
          loss: sums.loss / step,
          source: sums.source / step,
          target: this.memory ? sums.target / step : null,
          accuracy: sums.accuracy / step,
          imagesPerSecond: images / secs,
          time: new Date().toISOString(),
        };
        if (this.#isRank0) this.run.append(record);
        this.#emit({ kind: "epochEnd", record });
        if (this.#isRank0) {
          const path = await this.saveCheckpoint(epoch + 1);
          this.run.writeLossPlot();
          this.#emit({ kind: "checkpoint", path, epochsDone: epoch + 1 });
        }
        const last = epoch === c.epochs - 1;
        if (this.target && (last || (c.evalEvery > 0 && (epoch + 1) % c.evalEvery === 0))) {
          const e = await this.#evaluateShared();
          if (e) {
            const { top: _t, perQuery: _p, ...figures } = e;
            this.run.append({ kind: "eval", epoch, eval: figures, time: new Date().toISOString() });
            this.#emit({ kind: "evaluation", epoch, dataset: this.target.name, evaluation: e });
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
    if (final && this.#isRank0) this.run.writeResult(final);
    return final;
  }

  /** Frees the model, optimizer state and memory. */
  dispose(): void {
    this.optimizer.dispose();
    this.memory?.dispose();
    this.model.dispose();
  }
}
