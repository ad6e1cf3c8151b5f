/**
 * ECN training settings: the reference defaults, a quick preset for the embedded synthetic
 * data, JSON config files, and validation with clear messages.
 *
 * @module
 */
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ECN_ARCHS, type EcnArch } from "./ecn_net.ts";
import type { ResNetStride } from "../nn/resnet.ts";

/** Every setting of an ECN training run. */
export interface TrainConfig {
  /** Source data set root (labelled), Market-1501 layout or MSMT17 lists. */
  source: string;
  /** Target data set root (unlabelled for training; its query/gallery evaluate). */
  target: string;
  /** CamStyle folder of the target (default `{target}/bounding_box_train_camstyle`). */
  camstyleDir: string | null;
  /** Train on the source only (the baseline; no memory, no target loss). */
  sourceOnly: boolean;
  /** Camera-invariance: target images replaced by CamStyle copies. */
  camera: boolean;
  /** Neighborhood-invariance (from `neighborhoodFromEpoch`). */
  neighborhood: boolean;
  /** Backbone. */
  arch: EcnArch;
  /** Backbone weight file (ImageNet; torchvision layout, .pth or safetensors), or null. */
  weights: string | null;
  /**
   * ResNets: where downsampling bottlenecks stride, "3x3" (torchvision) or "1x1" (ResNet v1, the
   * converted Keras ResNet-50); null: what the weight file's (or `init` checkpoint's) metadata
   * says, else "3x3". Runs record the resolved value.
   */
  resnetStride: ResNetStride | null;
  /** Initialize the whole network's backbone from a training checkpoint (e.g. source-only). */
  init: string | null;
  /** Last frozen backbone stage ("layer2" for ResNets; "features.6" MobileNetV2; "none"). */
  freezeUntil: string | null;
  /** Width of the embedding after pool5 (4096 in the reference). */
  numFeatures: number;
  /** Dropout probability of both branches (0.5 in the reference). */
  dropout: number;
  /** Input height in pixels (256 in the reference). */
  height: number;
  /** Input width in pixels (128 in the reference). */
  width: number;
  /** Normalization (default ImageNet; a weight file's metadata overrides it). */
  mean: [number, number, number] | null;
  /** Per-channel standard deviation to go with `mean` (default ImageNet). */
  std: [number, number, number] | null;
  /** Random-erasing probability of the train transform (0.5 in the reference). */
  erasingProb: number;
  /** Source images per step (128 in the reference). */
  batchSize: number;
  /** Target images per step (128 in the reference). */
  targetBatchSize: number;
  /** Learning rate of the new layers (0.1 in the reference); see `backboneLrMult`. */
  lr: number;
  /** Learning-rate multiplier of the trainable backbone (0.1 in the reference). */
  backboneLrMult: number;
  /** SGD momentum (0.9 in the reference). */
  momentum: number;
  /** SGD weight decay (5e-4 in the reference). */
  weightDecay: number;
  /** Nesterov momentum (on in the reference). */
  nesterov: boolean;
  /** Training epochs (60 in the reference). */
  epochs: number;
  /** Multiply the learning rate by `gamma` every `stepSize` epochs (40 in the reference). */
  stepSize: number;
  /** Learning-rate factor applied every `stepSize` epochs (0.1 in the reference). */
  gamma: number;
  /** Memory temperature β (0.05 in the reference). */
  beta: number;
  /** Neighbours k of neighborhood-invariance (6 in the reference). */
  knn: number;
  /** Memory momentum per epoch: α = alpha × epoch (0.01 in the reference). */
  alpha: number;
  /** Weight λ of the target loss: (1 − λ)·source + λ·target (0.3 in the reference). */
  lambda: number;
  /** First (0-based) epoch with neighborhood-invariance (5 in the reference). */
  neighborhoodFromEpoch: number;
  /** Seed of the network's initialization and the loaders' shuffling, for repeatable runs. */
  seed: number;
  /** Loader worker threads (default: cores). */
  workers: number | null;
  /** Compute device: "cpu", "cuda" or "cuda:N". */
  device: string;
  /** Evaluate on the target every N epochs (0: only at the end). */
  evalEvery: number;
  /** Cap on steps per epoch (0: the whole source loader, as the reference). */
  maxStepsPerEpoch: number;
  /** Run folder (config, log, plot, checkpoint). */
  out: string;
}

/** The reference settings (ECN.md "Training defaults"). Data paths must be given. */
export const REFERENCE_CONFIG: Readonly<Omit<TrainConfig, "source" | "target" | "out">> = {
  camstyleDir: null,
  sourceOnly: false,
  camera: true,
  neighborhood: true,
  arch: "resnet50",
  weights: null,
  resnetStride: null,
  init: null,
  freezeUntil: null,
  numFeatures: 4096,
  dropout: 0.5,
  height: 256,
  width: 128,
  mean: null,
  std: null,
  erasingProb: 0.5,
  batchSize: 128,
  targetBatchSize: 128,
  lr: 0.1,
  backboneLrMult: 0.1,
  momentum: 0.9,
  weightDecay: 5e-4,
  nesterov: true,
  epochs: 60,
  stepSize: 40,
  gamma: 0.1,
  beta: 0.05,
  knn: 6,
  alpha: 0.01,
  lambda: 0.3,
  neighborhoodFromEpoch: 5,
  seed: 1,
  workers: null,
  device: "cpu",
  evalEvery: 0,
  maxStepsPerEpoch: 0,
};

/**
 * The quick preset of `deno task train` without data arguments: the embedded synthetic domains
 * (A labelled -> B unlabelled), ResNet-18 from scratch at 64x32, a few minutes on 2 CPU cores.
 * Without ImageNet weights nothing is frozen and the backbone learns at the full rate.
 */
export const QUICK_OVERRIDES: Readonly<Partial<TrainConfig>> = {
  arch: "resnet18",
  freezeUntil: "none",
  backboneLrMult: 1.0,
  numFeatures: 512,
  height: 64,
  width: 32,
  batchSize: 32,
  targetBatchSize: 32,
  epochs: 6,
  stepSize: 5,
  neighborhoodFromEpoch: 3,
  lr: 0.05,
};

/**
 * The paper's setting (ECN.md "Training defaults"): ImageNet ResNet-50, 256x128, 128 source + 128
 * target images per step, 60 epochs; every other setting is the reference default. Needs
 * `weights` (e.g. `deno task weights resnet50 --out FILE`), `source` and `target`.
 */
export const PAPER_OVERRIDES: Readonly<Partial<TrainConfig>> = {
  arch: "resnet50",
  height: 256,
  width: 128,
  batchSize: 128,
  targetBatchSize: 128,
  epochs: 60,
};

/**
 * The CPU-scale protocol of the README's Duke <-> Market tables, where ECN's gain shows on 2 CPU
 * cores in about an hour per run: ImageNet MobileNetV2 (features.0-6 frozen, the architecture's
 * default), 128x64, 1,024 features, 32 source + 64 target images per step, lr 0.01 for every layer,
 * 200 steps per epoch, 24 epochs with lr x0.1 from epoch 19, neighborhood-invariance from epoch 5
 * (index 4), an evaluation every 6 epochs. Needs `weights` (the MobileNetV2 ImageNet file), `source`
 * and `target`.
 */
export const CPU_OVERRIDES: Readonly<Partial<TrainConfig>> = {
  arch: "mobilenet_v2",
  height: 128,
  width: 64,
  numFeatures: 1024,
  batchSize: 32,
  targetBatchSize: 64,
  lr: 0.01,
  backboneLrMult: 1,
  maxStepsPerEpoch: 200,
  epochs: 24,
  stepSize: 18,
  neighborhoodFromEpoch: 4,
  evalEvery: 6,
};

/** The presets of `deno task train --preset NAME`. */
export const TRAIN_PRESETS: Readonly<Record<string, Readonly<Partial<TrainConfig>>>> = {
  quick: QUICK_OVERRIDES,
  paper: PAPER_OVERRIDES,
  cpu: CPU_OVERRIDES,
};

/** The ImageNet network each preset that starts from one needs `weights` for. */
const PRESET_WEIGHTS: Readonly<Record<string, string>> = {
  paper: "ResNet-50 (make it with `deno task weights resnet50 --out FILE`)",
  cpu: "MobileNetV2 (e.g. ../shared/weights/mobilenet_v2_imagenet.safetensors)",
};

/**
 * The settings of preset `name` (see {@link TRAIN_PRESETS}), or an error that names the preset
 * and what it lacks: an unknown name, no data sets (`data`: source and target were given) or no
 * ImageNet weights (`weights`: a weight file was given, or a run is resumed) for a preset that
 * starts from them.
 */
export function presetOverrides(
  name: string,
  given: { data: boolean; weights: boolean },
): Partial<TrainConfig> {
  const preset = TRAIN_PRESETS[name];
  if (!preset) {
    throw new Error(`--preset ${name}: expected one of ${Object.keys(TRAIN_PRESETS).join(", ")}`);
  }
  const net = PRESET_WEIGHTS[name];
  if (net !== undefined && !given.data) {
    throw new Error(`--preset ${name} needs --source and --target (data folders or names)`);
  }
  if (net !== undefined && !given.weights) {
    throw new Error(`--preset ${name} starts from ImageNet ${net}: give --weights FILE`);
  }
  return { ...preset };
}

/**
 * Folder names (under the data root, see {@link resolveDataset}) of the data sets known by name,
 * case-insensitively.
 */
export const KNOWN_DATASETS: Readonly<Record<string, string>> = {
  market: "market1501",
  market1501: "market1501",
  "market-1501": "market1501",
  duke: "dukemtmc",
  dukemtmc: "dukemtmc",
  "dukemtmc-reid": "dukemtmc",
  msmt17: "msmt17",
  cuhk03: "cuhk03",
};

/** The default folder of data sets given by name: `data/` beside this repository's folder. */
export function defaultDataRoot(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), "../../../data");
}

/**
 * A data set argument as a folder: an existing path as it is, else a known name (`DUKE`,
 * `market1501`, ...; see {@link KNOWN_DATASETS}) resolved under `dataRoot` (default
 * {@link defaultDataRoot}). Throws naming the argument when it is neither.
 */
export function resolveDataset(arg: string, dataRoot: string = defaultDataRoot()): string {
  if (existsSync(arg)) return arg;
  const folder = KNOWN_DATASETS[arg.toLowerCase()];
  const root = resolve(dataRoot);
  if (folder === undefined) {
    throw new Error(
      `data set ${JSON.stringify(arg)}: no such folder, and not a known name (` +
        `${Object.keys(KNOWN_DATASETS).join(", ")}; looked up under ${root})`,
    );
  }
  const path = join(root, folder);
  if (!existsSync(path)) {
    throw new Error(
      `data set ${arg}: expected it at ${path} (the data root ${root} has no ${folder})`,
    );
  }
  return path;
}

/**
 * A setting of a run that cannot work, found while building it (e.g. an `init` file that is not
 * a checkpoint); `setting` names it, so that a command can name its own flag instead.
 */
export class SettingError extends Error {
  /** The setting that was wrong. */
  readonly setting: keyof TrainConfig;
  /** What was wrong with it (the message without the setting's name). */
  readonly detail: string;
  /** Makes the error: the message is `setting detail`. */
  constructor(setting: keyof TrainConfig, detail: string) {
    super(`${setting} ${detail}`);
    this.name = "SettingError";
    this.setting = setting;
    this.detail = detail;
  }
}

const KEYS = new Set<string>([
  "source",
  "target",
  "out",
  ...Object.keys(REFERENCE_CONFIG),
]);

/** Throws, naming the setting, when `c` cannot work. */
export function validateConfig(c: TrainConfig): void {
  const bad = (key: string, want: string): never => {
    throw new Error(
      `config: '${key}' is ${JSON.stringify(c[key as keyof TrainConfig])}, expected ${want}`,
    );
  };
  if (!c.source) bad("source", "a data set folder");
  if (!c.target && !c.sourceOnly) bad("target", "a data set folder");
  if (!ECN_ARCHS.includes(c.arch)) bad("arch", `one of ${ECN_ARCHS.join(", ")}`);
  const posInt: Array<keyof TrainConfig> = [
    "numFeatures",
    "height",
    "width",
    "batchSize",
    "targetBatchSize",
    "epochs",
    "stepSize",
  ];
  for (const k of posInt) {
    const v = c[k] as number;
    if (!Number.isInteger(v) || v < 1) bad(k, "a positive integer");
  }
  for (const k of ["dropout", "erasingProb", "momentum", "alpha", "lambda", "gamma"] as const) {
    if (!(c[k] >= 0 && c[k] <= 1)) bad(k, "a number in [0, 1]");
  }
  for (const k of ["lr", "beta", "backboneLrMult"] as const) {
    if (!(c[k] > 0)) bad(k, "a positive number");
  }
  if (!(c.weightDecay >= 0)) bad("weightDecay", "a number >= 0");
  for (
    const k of ["knn", "neighborhoodFromEpoch", "evalEvery", "maxStepsPerEpoch", "seed"] as const
  ) {
    if (!Number.isInteger(c[k]) || c[k] < 0) bad(k, "an integer >= 0");
  }
  if (c.workers !== null && (!Number.isInteger(c.workers) || c.workers < 0)) {
    bad("workers", "an integer >= 0");
  }
  if (c.resnetStride !== null && c.resnetStride !== "3x3" && c.resnetStride !== "1x1") {
    bad("resnetStride", `null, "3x3" or "1x1"`);
  }
  if (!/^(cpu|cuda(:\d+)?)$/.test(c.device)) bad("device", `"cpu", "cuda" or "cuda:N"`);
  if (c.nesterov && c.momentum <= 0) bad("momentum", "> 0 with Nesterov");
}

/** Merges settings (later wins); unknown keys are refused with the list of known ones. */
export function mergeConfig(
  base: Partial<TrainConfig>,
  ...layers: Array<Record<string, unknown>>
): TrainConfig {
  const out: Record<string, unknown> = { ...REFERENCE_CONFIG, ...base };
  for (const layer of layers) {
    for (const [k, v] of Object.entries(layer)) {
      if (v === undefined) continue;
      if (!KEYS.has(k)) {
        throw new Error(`config: unknown setting '${k}'; known: ${[...KEYS].sort().join(", ")}`);
      }
      out[k] = v;
    }
  }
  return out as unknown as TrainConfig;
}

/** Reads a JSON config file (an object of settings). */
export function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (e) {
    throw new Error(`config file ${path}: cannot read it: ${(e as Error).message}`);
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new Error(`config file ${path}: not valid JSON: ${(e as Error).message}`);
  }
  if (v === null || typeof v !== "object" || Array.isArray(v)) {
    throw new Error(`config file ${path}: expected a JSON object of settings`);
  }
  return v as Record<string, unknown>;
}
