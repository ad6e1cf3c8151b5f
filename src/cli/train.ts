/**
 * `deno task train`: ECN training.
 *
 * Without data arguments it runs the quick preset on the embedded synthetic data (domain A
 * labelled -> domain B unlabelled; generated once under data/synthetic) and prints the target
 * evaluation. With `--source` / `--target` it uses the reference settings. Run with `--help`.
 */
import { parseArgs } from "node:util";
import { dirname, join, resolve } from "node:path";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { prepareSynthetic } from "../data/synthetic/prepare.ts";
import { formatEvaluation } from "../eval/evaluate.ts";
import {
  mergeConfig,
  presetOverrides,
  QUICK_OVERRIDES,
  readConfigFile,
  SettingError,
  type TrainConfig,
} from "../reid/config.ts";
import { CONFIG_FILE } from "../reid/run_folder.ts";
import { Trainer } from "../reid/trainer.ts";
import type { TrainerEvent } from "../reid/trainer_events.ts";
import { ProcessGroup } from "../dist/group.ts";
import { CHILD_MARK, distEnvFrom, launch, LaunchOptionError } from "../dist/launch.ts";
import { setNumThreads, torchVersion } from "../tensor/mod.ts";
import {
  configureFromEnv,
  glooInterfaceFromEnv,
  quietFromEnv,
  resolveDatasetArg,
  runtimeFromEnv,
} from "./env.ts";
import { Progress } from "./progress.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

const HELP = `deno task train [options]

Data (without --source: the embedded synthetic domains, quick preset):
  --source DIR|NAME       labelled source data set (Market-1501 layout or MSMT17 lists); a name
                          (DUKE, MARKET, MSMT17, ...) is looked up under $ECN_DATA_ROOT or ../data
  --target DIR|NAME       unlabelled target data set (its query/gallery evaluate)
  --camstyle DIR          the target's CamStyle images (default TARGET/bounding_box_train_camstyle)
  --data-dir DIR          where the synthetic data is generated (default data/synthetic)
Method (ablations: --source-only, E = --no-camera --no-neighborhood, E+C, E+N, E+C+N):
  --source-only           source cross-entropy only (the baseline)
  --no-camera             without camera-invariance (no CamStyle images needed)
  --no-neighborhood       without neighborhood-invariance
  --beta N --knn N --alpha N --lambda N --neighborhood-from EPOCH
Network:
  --arch NAME             resnet18|34|50|101|152, mobilenet_v2 (default resnet50)
  --weights FILE          ImageNet backbone weights (.pth or .safetensors, torchvision layout)
  --init CKPT             initialize the backbone from a training checkpoint (e.g. --source-only)
  --freeze STAGE          last frozen stage: layer2 (default), layer1, none, features.6, ...
  --features N --dropout P --height H --width W --erasing P
Optimization:
  --epochs N --batch-size N --target-batch-size N --lr LR --backbone-lr-mult M
  --momentum M --weight-decay WD --no-nesterov --step-size N --gamma G --max-steps N
Run:
  --config FILE           JSON settings (flags override it)
  --out DIR               run folder (default runs/<time>)
  --resume RUN|CKPT       continue a run exactly where its last checkpoint left it
  --eval-every N          evaluate on the target every N epochs (default: at the end)
  --seed N --workers N --device cpu|cuda[:N] --threads N
  --quick                 the quick preset's settings with your data (= --preset quick)
  --preset paper          the paper's setting: ResNet-50 (needs --weights, e.g. from
                          \`deno task weights resnet50 --out FILE\`), 256x128, 128+128, 60 epochs,
                          every other setting the reference default
  --preset cpu            the README's CPU-scale protocol: MobileNetV2 (needs --weights, e.g.
                          ../shared/weights/mobilenet_v2_imagenet.safetensors), 128x64, 32+64,
                          lr 0.01, 24 epochs of 200 steps; under an hour on 2 cores
Several processes (data parallel on c10d/Gloo, CPU; batch sizes are per process):
  --nproc N               start N processes on this machine; rank 0 logs, checkpoints, evaluates
  --nnodes N --node-rank K --master-addr ADDR --master-port PORT
                          several machines: the same command on each, K = 0..N-1
  --dist-timeout SECONDS  bound on the rendezvous and on each collective (default 300)
  Without --nproc, RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT (as torchrun sets them)
  make this process one rank of a group.
`;

const NUM: Record<string, keyof TrainConfig> = {
  beta: "beta",
  knn: "knn",
  alpha: "alpha",
  lambda: "lambda",
  "neighborhood-from": "neighborhoodFromEpoch",
  features: "numFeatures",
  dropout: "dropout",
  height: "height",
  width: "width",
  erasing: "erasingProb",
  epochs: "epochs",
  "batch-size": "batchSize",
  "target-batch-size": "targetBatchSize",
  lr: "lr",
  "backbone-lr-mult": "backboneLrMult",
  momentum: "momentum",
  "weight-decay": "weightDecay",
  "step-size": "stepSize",
  gamma: "gamma",
  "max-steps": "maxStepsPerEpoch",
  "eval-every": "evalEvery",
  seed: "seed",
  workers: "workers",
};

/** Parses the flags into settings (numbers checked, names of bad flags given). */
export function parseTrainArgs(args: string[]): {
  layer: Record<string, unknown>;
  values: Record<string, string | boolean | undefined>;
} {
  const options: Record<string, { type: "string" | "boolean" }> = {
    help: { type: "boolean" },
    quick: { type: "boolean" },
    preset: { type: "string" },
    source: { type: "string" },
    target: { type: "string" },
    camstyle: { type: "string" },
    "data-dir": { type: "string" },
    "source-only": { type: "boolean" },
    "no-camera": { type: "boolean" },
    "no-neighborhood": { type: "boolean" },
    "no-nesterov": { type: "boolean" },
    arch: { type: "string" },
    weights: { type: "string" },
    init: { type: "string" },
    freeze: { type: "string" },
    config: { type: "string" },
    out: { type: "string" },
    resume: { type: "string" },
    device: { type: "string" },
    threads: { type: "string" },
    nproc: { type: "string" },
    nnodes: { type: "string" },
    "node-rank": { type: "string" },
    "master-addr": { type: "string" },
    "master-port": { type: "string" },
    "dist-timeout": { type: "string" },
  };
  for (const k of Object.keys(NUM)) options[k] = { type: "string" };
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({ args, options, allowPositionals: false }).values as typeof values;
  } catch (e) {
    throw new Error(`${(e as Error).message}\n\n${HELP}`);
  }
  const layer: Record<string, unknown> = {};
  for (const [flag, key] of Object.entries(NUM)) {
    const v = values[flag];
    if (v === undefined) continue;
    const n = Number(v);
    if (v === "" || !Number.isFinite(n)) throw new Error(`--${flag} expects a number, got '${v}'`);
    layer[key] = n;
  }
  if (values.source) layer.source = values.source;
  if (values.target) layer.target = values.target;
  if (values.camstyle) layer.camstyleDir = values.camstyle;
  if (values.arch) layer.arch = values.arch;
  if (values.weights) layer.weights = values.weights;
  if (values.init) layer.init = values.init;
  if (values.freeze) layer.freezeUntil = values.freeze;
  if (values.out) layer.out = values.out;
  if (values.device) layer.device = values.device;
  if (values["source-only"]) layer.sourceOnly = true;
  if (values["no-camera"]) layer.camera = false;
  if (values["no-neighborhood"]) layer.neighborhood = false;
  if (values["no-nesterov"]) layer.nesterov = false;
  return { layer, values };
}

/** The flags (or variables) of the settings and launcher options the library's errors name. */
const FLAGS: Record<string, string> = {
  ...Object.fromEntries(Object.entries(NUM).map(([flag, key]) => [key, `--${flag}`])),
  source: "--source",
  target: "--target",
  camstyleDir: "--camstyle",
  arch: "--arch",
  weights: "--weights",
  init: "--init",
  freezeUntil: "--freeze",
  out: "--out",
  device: "--device",
  nproc: "--nproc",
  nnodes: "--nnodes",
  nodeRank: "--node-rank",
  masterAddr: "--master-addr",
  masterPort: "--master-port",
  threadsPerProcess: "ECN_NUM_THREADS",
};

/** An error's message, with the setting or launcher option it names given as this command's flag. */
export function flagMessage(e: unknown): string {
  if (e instanceof SettingError || e instanceof LaunchOptionError) {
    const name = e instanceof SettingError ? e.setting : e.option;
    return `${FLAGS[name] ?? name} ${e.detail}`;
  }
  return e instanceof Error ? e.message : String(e);
}

/**
 * Draws the trainer's events: data set summaries and log lines on stdout, progress bars on
 * stderr (none with `quiet`).
 */
export function renderTrainerEvents(quiet: boolean): (e: TrainerEvent) => void {
  let bar: Progress | null = null;
  return (e) => {
    switch (e.kind) {
      case "dataset":
        console.log(e.dataset.summaryTable());
        break;
      case "resumed":
        console.log(`resumed from ${e.path} at epoch ${e.epoch}`);
        break;
      case "worldSizeChanged":
        console.log(
          `resume: the checkpoint was written by ${e.from} process(es), this run ` +
            `has ${e.to}: the target stream continues at its next pass`,
        );
        break;
      case "epochStart":
        bar = new Progress(`epoch ${e.epoch + 1}/${e.epochs}`, e.steps, { quiet });
        break;
      case "step": {
        const l = e.losses;
        bar?.update(e.record.step!, {
          loss: l.loss.toFixed(3),
          src: l.source.toFixed(3),
          ...(l.target !== null ? { tgt: l.target.toFixed(3) } : {}),
          acc: (100 * l.accuracy).toFixed(0) + "%",
          "img/s": e.record.imagesPerSecond!.toFixed(1),
        });
        break;
      }
      case "epochEnd":
        bar?.done();
        bar = null;
        break;
      case "features":
        if (e.done === 0) bar = new Progress("features", e.total, { quiet });
        else bar?.update(e.done);
        if (e.done === e.total) {
          bar?.done();
          bar = null;
        }
        break;
      case "evaluation":
        console.log(
          `epoch ${e.epoch + 1} target ${e.dataset}: ${formatEvaluation(e.evaluation)}`,
        );
        break;
    }
  };
}

async function main(): Promise<void> {
  const { layer, values } = parseTrainArgs(Deno.args);
  if (values.help) {
    console.log(HELP);
    return;
  }
  configureFromEnv();
  if (values.threads) setNumThreads(Number(values.threads));
  const file = values.config ? readConfigFile(values.config as string) : {};
  const quick = !layer.source && !file.source && !values.resume;
  let base: Partial<TrainConfig> = {};
  if (quick || values.quick) base = { ...QUICK_OVERRIDES };
  if (values.preset) {
    base = {
      ...base,
      ...presetOverrides(values.preset as string, {
        data: !quick,
        weights: Boolean(layer.weights || file.weights || values.resume),
      }),
    };
  }
  if (quick) {
    const d = await prepareSynthetic(
      resolve((values["data-dir"] as string | undefined) ?? join(ROOT, "data/synthetic")),
      {
        camStyle: layer.camera !== false && file.camera !== false && !layer.sourceOnly &&
          !file.sourceOnly,
        onEvent: (e) =>
          console.log(
            e.kind === "generated"
              ? `synthetic data: wrote ${e.images} images to ${e.root}`
              : `synthetic data: generating CamStyle copies of ${e.domain} in ${e.dir}`,
          ),
      },
    );
    base = { ...base, source: d.source, target: d.target, camstyleDir: d.camstyle };
  }
  let resumeConfig: Record<string, unknown> = {};
  if (values.resume) {
    const cfgPath = join(values.resume as string, CONFIG_FILE);
    if (existsSync(cfgPath)) resumeConfig = readConfigFile(cfgPath);
    else {
      throw new Error(
        `--resume ${values.resume}: expected a run folder with config.json and checkpoint.safetensors`,
      );
    }
  }
  const stamp = new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19);
  const config = mergeConfig(
    { out: join(ROOT, "runs", stamp), ...base },
    resumeConfig,
    file,
    layer,
  );
  config.source = resolveDatasetArg(config.source);
  if (config.target) config.target = resolveDatasetArg(config.target);
  const int = (flag: string): number | undefined => {
    const v = values[flag] as string | undefined;
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(v)) throw new Error(`--${flag} expects a non-negative integer, got '${v}'`);
    return Number(v);
  };
  if (values.nproc !== undefined && !Deno.env.get(CHILD_MARK)) {
    // The launcher: the same command in N processes, all writing to this run folder.
    const code = await launch({
      nproc: int("nproc")!,
      nnodes: int("nnodes"),
      nodeRank: int("node-rank"),
      masterAddr: values["master-addr"] as string | undefined,
      masterPort: int("master-port"),
      threadsPerProcess: runtimeFromEnv().numThreads,
      script: fileURLToPath(import.meta.url),
      args: values.out === undefined ? [...Deno.args, "--out", config.out] : Deno.args,
      log: (l) => console.error(l),
    });
    if (code !== 0) throw new Error(`a process of the run failed (status ${code}); see above`);
    return;
  }
  for (const f of ["nnodes", "node-rank", "master-addr", "master-port"]) {
    if (values[f] !== undefined && !Deno.env.get(CHILD_MARK)) {
      throw new Error(`--${f} goes with --nproc (or use the torchrun environment variables)`);
    }
  }
  const dist = distEnvFrom(Deno.env.toObject());
  const timeout = values["dist-timeout"] === undefined ? undefined : Number(values["dist-timeout"]);
  if (timeout !== undefined && !(timeout > 0)) {
    throw new Error(`--dist-timeout expects seconds > 0, got '${values["dist-timeout"]}'`);
  }
  const group = dist && dist.worldSize > 1
    ? ProcessGroup.init({
      ...dist,
      timeoutSeconds: timeout,
      socketInterface: glooInterfaceFromEnv(),
    })
    : undefined;
  const rank0 = !group || group.rank === 0;
  if (!rank0) console.log = () => {};
  console.log(
    `ECN training (${torchVersion()}): ${config.arch}, ${config.height}x${config.width}, ` +
      `${
        config.sourceOnly
          ? "source only"
          : `E${config.camera ? "+C" : ""}${config.neighborhood ? "+N" : ""}`
      }, ` +
      `${config.epochs} epochs -> ${config.out}`,
  );
  const trainer = await Trainer.create(config, {
    resume: values.resume as string | undefined,
    group,
    onEvent: rank0 ? renderTrainerEvents(quietFromEnv()) : undefined,
  });
  try {
    const result = await trainer.fit();
    if (result) {
      console.log(`\nfinal, target ${trainer.target!.name}: ${formatEvaluation(result)}`);
    }
    console.log(
      `run folder: ${config.out} (config.json, log.jsonl, loss.svg, checkpoint.safetensors)`,
    );
  } finally {
    trainer.dispose();
    group?.destroy();
  }
}

if (import.meta.main) {
  try {
    await main();
  } catch (e) {
    console.error(`train: ${flagMessage(e)}`);
    Deno.exit(1);
  }
}
