/**
 * Summaries of finished (or running) training runs, read from their run folders: the method
 * (source only, E, E+C, E+N, E+C+N), the final figures, the evaluation curve, the passes over the
 * target and the time, and a Markdown table of several runs with the gain of each over the
 * source-only run of the same source and target. It reads the files a run folder holds
 * (`config.json`, `log.jsonl`, `result.json`) and the file names of the target's training split
 * (for the passes); no tensors, no images.
 *
 * @module
 */
import { existsSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { loadReidDataset } from "../data/datasets.ts";
import { CONFIG_FILE, LOG_FILE, type LogRecord, RESULT_FILE } from "./run_folder.ts";

/** Rank-1/5/10, both mAPs (fractions in [0, 1]) of one evaluation. */
export interface RunFigures {
  /** 0-based epoch after which it was measured. */
  epoch: number;
  /** CMC at rank 1. */
  rank1: number;
  /** CMC at rank 5 (NaN when not measured). */
  rank5: number;
  /** CMC at rank 10 (NaN when not measured). */
  rank10: number;
  /** mAP, the reference's definition (area under the precision-recall curve). */
  mAP: number;
  /** mAP, the non-interpolated definition (torchreid / fast-reid). */
  mAPNonInterpolated: number;
}

/** What one run folder says about its run. */
export interface RunSummary {
  /** The run folder. */
  dir: string;
  /** Its last path component. */
  name: string;
  /** "source only", "E", "E+C", "E+N" or "E+C+N". */
  method: string;
  /** The source data set folder (config.json). */
  source: string;
  /** The target data set folder (config.json; "" when none). */
  target: string;
  /** The settings as config.json holds them. */
  config: Record<string, unknown>;
  /** Finished epochs (epoch lines of the log). */
  epochsDone: number;
  /** Epochs the run was set up for. */
  epochs: number;
  /** Training steps logged. */
  steps: number;
  /** Target images drawn (steps x the target batch; 0 when source-only). */
  targetImages: number;
  /**
   * Passes over the target's training split (target images / its size), or NaN when the target
   * folder is not readable here.
   */
  targetPasses: number;
  /** Seconds from the first logged step to the last record (training and evaluations). */
  seconds: number;
  /** The final evaluation (result.json), or null while the run has none. */
  final: RunFigures | null;
  /** Every evaluation of the log, in order (with `--eval-every`, and the final one). */
  curve: RunFigures[];
  /** True when result.json exists (the run finished). */
  finished: boolean;
}

function fail(file: string, what: string): never {
  throw new Error(`${file}: ${what}`);
}

function readJsonObject(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    fail(
      file,
      `cannot read it (${(e as Error).message}); is this a run folder of deno task train?`,
    );
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    fail(file, `not valid JSON: ${(e as Error).message}`);
  }
  if (v === null || typeof v !== "object" || Array.isArray(v)) fail(file, "expected a JSON object");
  return v as Record<string, unknown>;
}

/** The method name of a run's settings: "source only", "E", "E+C", "E+N" or "E+C+N". */
export function methodName(config: Record<string, unknown>): string {
  if (config.sourceOnly === true) return "source only";
  return "E" + (config.camera === false ? "" : "+C") + (config.neighborhood === false ? "" : "+N");
}

function figures(epoch: number, ev: Record<string, unknown>, where: string): RunFigures {
  const ranks = ev.cmcRanks as number[] | undefined;
  const cmc = ev.cmc as number[] | undefined;
  if (!Array.isArray(ranks) || !Array.isArray(cmc) || typeof ev.mAP !== "number") {
    fail(where, "expected an evaluation with cmcRanks, cmc and mAP");
  }
  const at = (k: number): number => {
    const i = ranks.indexOf(k);
    return i < 0 ? NaN : cmc[i];
  };
  return {
    epoch,
    rank1: at(1),
    rank5: at(5),
    rank10: at(10),
    mAP: ev.mAP as number,
    mAPNonInterpolated: typeof ev.mAPNonInterpolated === "number" ? ev.mAPNonInterpolated : NaN,
  };
}

/**
 * Counts the training images of a target folder (Market layout or MSMT17 lists, junk dropped),
 * or returns NaN when it cannot be read here.
 */
function targetTrainSize(target: string, cache: Map<string, number>): number {
  if (target === "") return NaN;
  const known = cache.get(target);
  if (known !== undefined) return known;
  let n = NaN;
  try {
    n = loadReidDataset(target).train.length;
  } catch {
    // the run may come from another machine; passes stay unknown
  }
  cache.set(target, n);
  return n;
}

/**
 * Reads one run folder. `sizes` caches the target sizes between calls. Throws an error naming
 * the file when config.json is missing or a file is not what `deno task train` writes.
 */
export function summarizeRun(dir: string, sizes: Map<string, number> = new Map()): RunSummary {
  const config = readJsonObject(join(dir, CONFIG_FILE));
  const logFile = join(dir, LOG_FILE);
  const records: LogRecord[] = [];
  if (existsSync(logFile)) {
    const lines = readFileSync(logFile, "utf8").split("\n");
    let last = lines.length - 1;
    while (last >= 0 && lines[last].trim() === "") last--;
    lines.forEach((line, i) => {
      if (line.trim() === "") return;
      try {
        records.push(JSON.parse(line) as LogRecord);
      } catch (e) {
        // a run killed mid-write may leave a partial last line; anything else is an error
        if (i !== last) fail(`${logFile} line ${i + 1}`, `not valid JSON: ${(e as Error).message}`);
      }
    });
  }
  const steps = records.filter((r) => r.kind === "step");
  const curve = records.filter((r) => r.kind === "eval" && r.eval).map((r, i) =>
    figures(r.epoch, r.eval as unknown as Record<string, unknown>, `${logFile} eval #${i + 1}`)
  );
  const resultFile = join(dir, RESULT_FILE);
  const finished = existsSync(resultFile);
  const epochsDone = records.filter((r) => r.kind === "epoch").length;
  const final = finished
    ? figures(Math.max(0, epochsDone - 1), readJsonObject(resultFile), resultFile)
    : null;
  const method = methodName(config);
  const targetBatch = typeof config.targetBatchSize === "number" ? config.targetBatchSize : 0;
  const targetImages = method === "source only" ? 0 : steps.length * targetBatch;
  const target = typeof config.target === "string" ? config.target : "";
  const passes = targetImages === 0 ? 0 : targetImages / targetTrainSize(target, sizes);
  // The log is appended in time order: its first step and its last record bound the run.
  const first = steps.length > 0 ? Date.parse(steps[0].time) : NaN;
  const last = records.length > 0 ? Date.parse(records[records.length - 1].time) : NaN;
  return {
    dir,
    name: basename(dir),
    method,
    source: typeof config.source === "string" ? config.source : "",
    target,
    config,
    epochsDone,
    epochs: typeof config.epochs === "number" ? config.epochs : NaN,
    steps: steps.length,
    targetImages,
    targetPasses: passes,
    seconds: (last - first) / 1000,
    final,
    curve,
    finished,
  };
}

const METHOD_ORDER = ["source only", "E", "E+C", "E+N", "E+C+N"];

function pct(x: number): string {
  return Number.isFinite(x) ? (100 * x).toFixed(1) : "";
}

function signed(x: number): string {
  if (!Number.isFinite(x)) return "";
  const s = (100 * x).toFixed(1);
  return x >= 0 ? `+${s}` : s;
}

function duration(s: number): string {
  if (!Number.isFinite(s)) return "";
  return s < 90 ? `${Math.round(s)} s` : `${(s / 60).toFixed(1)} min`;
}

/** A Markdown table with padded columns. */
function markdownTable(head: readonly string[], rows: readonly string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: readonly string[]): string =>
    `| ${cells.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
  return [line(head), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

/** What the tables sort and compare by: a method and its source and target folders. */
interface MethodPair {
  method: string;
  source: string;
  target: string;
}

/**
 * The source and target of a run by folder name: config.json records a path as it was given
 * (`../data/dukemtmc`, `/work/data/dukemtmc`), not the folder it was given from.
 */
function pairKey(r: MethodPair): string {
  return `${basename(r.source)}\n${basename(r.target)}`;
}

/** Orders by source and target folder, then the ablation order (source only, E, ... E+C+N). */
function byPairAndMethod(a: MethodPair, b: MethodPair): number {
  return pairKey(a).localeCompare(pairKey(b)) ||
    METHOD_ORDER.indexOf(a.method) - METHOD_ORDER.indexOf(b.method);
}

/** The first source-only item of each `key` (default: the source and target pair, {@link pairKey}). */
function sourceOnlyBaselines<T extends MethodPair>(
  sorted: readonly T[],
  key: (r: T) => string = pairKey,
): Map<string, T> {
  const baseline = new Map<string, T>();
  for (const r of sorted) {
    if (r.method === "source only" && !baseline.has(key(r))) baseline.set(key(r), r);
  }
  return baseline;
}

/** Options of {@link runsTable}. */
export interface RunsTableOptions {
  /** Add the rank-1 / mAP after each evaluation of the log (default false). */
  curve?: boolean;
}

/**
 * A Markdown table of runs: one row per run (sorted by source, target, then the ablation order
 * source only, E, E+C, E+N, E+C+N), with rank-1/5/10, both mAPs, the gain in rank-1 and mAP over
 * the source-only run of the same source and target (compared by folder name), of the same seed
 * when the table holds one, when there is one (final against final when both finished with as many epochs, otherwise against the source-only
 * evaluation after the same epoch), passes over the target and time. A run without result.json
 * shows its last evaluation, marked "(k/n epochs, running)".
 */
export function runsTable(runs: readonly RunSummary[], opts: RunsTableOptions = {}): string {
  const sorted = [...runs].sort((a, b) => byPairAndMethod(a, b) || a.name.localeCompare(b.name));
  const shown = (r: RunSummary): RunFigures | null => r.final ?? r.curve.at(-1) ?? null;
  const baseline = sourceOnlyBaselines(sorted);
  // A repeat with another seed is compared with the source-only run of its own seed when the
  // table holds one.
  const seedKey = (r: RunSummary) => `${pairKey(r)}\n${String(r.config.seed)}`;
  const sameSeed = sourceOnlyBaselines(sorted, seedKey);
  // The source-only figures to compare `f` with: its evaluation after the same epoch, or its
  // final one when both runs are finished and were set up for as many epochs.
  const against = (r: RunSummary, f: RunFigures): RunFigures | undefined => {
    const base = sameSeed.get(seedKey(r)) ?? baseline.get(pairKey(r));
    if (!base || r.method === "source only") return undefined;
    if (r.finished && base.finished && r.epochs === base.epochs && base.final) return base.final;
    return base.curve.find((c) => c.epoch === f.epoch);
  };
  const head = [
    "run",
    "method",
    "source -> target",
    "target passes",
    "rank-1",
    "rank-5",
    "rank-10",
    "mAP",
    "mAP (non-interp.)",
    "gain rank-1 / mAP",
    "time",
  ];
  if (opts.curve) head.push("rank-1 / mAP per evaluation (epoch)");
  const rows = sorted.map((r) => {
    const f = shown(r);
    const base = f ? against(r, f) : undefined;
    const gain = f && base ? `${signed(f.rank1 - base.rank1)} / ${signed(f.mAP - base.mAP)}` : "";
    const name = r.finished ? r.name : `${r.name} (${r.epochsDone}/${r.epochs} epochs, running)`;
    const row = [
      name,
      r.method,
      `${basename(r.source)} -> ${r.target === "" ? "-" : basename(r.target)}`,
      Number.isFinite(r.targetPasses) ? r.targetPasses.toFixed(1) : "",
      pct(f?.rank1 ?? NaN),
      pct(f?.rank5 ?? NaN),
      pct(f?.rank10 ?? NaN),
      pct(f?.mAP ?? NaN),
      pct(f?.mAPNonInterpolated ?? NaN),
      gain,
      duration(r.seconds),
    ];
    if (opts.curve) {
      row.push(r.curve.map((c) => `${pct(c.rank1)} / ${pct(c.mAP)} (${c.epoch + 1})`).join(", "));
    }
    return row;
  });
  return markdownTable(head, rows);
}

/**
 * Settings that do not change what a run learns, or only name where it wrote: runs that differ
 * only in these (and in `seed`) are repeats of one experiment.
 */
const RUN_ONLY_KEYS = new Set(["seed", "out", "workers", "evalEvery"]);

/** Settings a source-only run never reads (the target side of ECN). */
const TARGET_ONLY_KEYS = new Set([
  "camstyleDir",
  "camera",
  "neighborhood",
  "targetBatchSize",
  "beta",
  "knn",
  "alpha",
  "lambda",
  "neighborhoodFromEpoch",
]);

/** Settings holding a path: compared by their last component (see {@link seedGroups}). */
const PATH_KEYS = new Set(["source", "target", "camstyleDir", "weights", "init"]);

/**
 * The key of a run's experiment: its settings less {@link RUN_ONLY_KEYS} (and the target side for
 * a source-only run), paths reduced to their last component.
 */
function experimentKey(r: RunSummary): string {
  const sourceOnly = r.method === "source only";
  const entries = Object.entries(r.config)
    .filter(([k]) => !RUN_ONLY_KEYS.has(k) && !(sourceOnly && TARGET_ONLY_KEYS.has(k)))
    .map(([k, v]) => [k, PATH_KEYS.has(k) && typeof v === "string" ? basename(v) : v] as const)
    .sort(([a], [b]) => a.localeCompare(b));
  return JSON.stringify(entries);
}

/** Mean and sample standard deviation (NaN for fewer than 2 values) of some figures. */
export interface MeanSd {
  /** Arithmetic mean. */
  mean: number;
  /** Sample standard deviation (n - 1), NaN for a single value. */
  sd: number;
}

function meanSd(xs: readonly number[]): MeanSd {
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  const sd = xs.length < 2
    ? NaN
    : Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (xs.length - 1));
  return { mean, sd };
}

/** The finished runs of one experiment repeated with other seeds, and their figures' statistics. */
export interface SeedGroup {
  /** "source only", "E", "E+C", "E+N" or "E+C+N". */
  method: string;
  /** The source and target folders' last components. */
  source: string;
  /** See `source` ("" when none). */
  target: string;
  /** The finished runs, in seed order. */
  runs: RunSummary[];
  /** Their seeds (config.json), in the same order. */
  seeds: number[];
  /** Final rank-1 over the runs. */
  rank1: MeanSd;
  /** Final rank-5 over the runs. */
  rank5: MeanSd;
  /** Final rank-10 over the runs. */
  rank10: MeanSd;
  /** Final mAP (reference definition) over the runs. */
  mAP: MeanSd;
  /** Final non-interpolated mAP over the runs. */
  mAPNonInterpolated: MeanSd;
}

/**
 * Groups the finished runs by experiment: runs whose settings are equal but for the seed, the
 * output folder, the worker count and the evaluation interval (and, between source-only runs, the
 * target-side settings they never read) are repeats, and their final figures are summarised as
 * mean and standard deviation. Data folders, CamStyle folders and weight files are compared by
 * their last path component, since config.json records a path as it was given and not the folder
 * it was given from. Unfinished runs are left out. Groups come in the order of
 * {@link runsTable}.
 */
export function seedGroups(runs: readonly RunSummary[]): SeedGroup[] {
  const groups = new Map<string, RunSummary[]>();
  for (const r of runs) {
    if (!r.finished || !r.final) continue;
    const key = experimentKey(r);
    const g = groups.get(key);
    if (g) g.push(r);
    else groups.set(key, [r]);
  }
  const seedOf = (r: RunSummary): number => typeof r.config.seed === "number" ? r.config.seed : NaN;
  const out = [...groups.values()].map((g): SeedGroup => {
    g.sort((a, b) => seedOf(a) - seedOf(b) || a.name.localeCompare(b.name));
    const stat = (pick: (f: RunFigures) => number): MeanSd => meanSd(g.map((r) => pick(r.final!)));
    return {
      method: g[0].method,
      source: g[0].source === "" ? "" : basename(g[0].source),
      target: g[0].target === "" ? "" : basename(g[0].target),
      runs: g,
      seeds: g.map(seedOf),
      rank1: stat((f) => f.rank1),
      rank5: stat((f) => f.rank5),
      rank10: stat((f) => f.rank10),
      mAP: stat((f) => f.mAP),
      mAPNonInterpolated: stat((f) => f.mAPNonInterpolated),
    };
  });
  return out.sort((a, b) => byPairAndMethod(a, b) || a.runs[0].name.localeCompare(b.runs[0].name));
}

function pctSd(x: MeanSd): string {
  if (!Number.isFinite(x.mean)) return "";
  return Number.isFinite(x.sd) ? `${pct(x.mean)} ± ${pct(x.sd)}` : pct(x.mean);
}

/**
 * A Markdown table of {@link seedGroups}: one row per experiment with the runs and seeds it holds,
 * mean ± standard deviation of rank-1/5/10 and both mAPs over them, and the gain of the means over
 * the first source-only group of the same source and target.
 */
export function seedsTable(groups: readonly SeedGroup[]): string {
  const baseline = sourceOnlyBaselines(groups);
  const head = [
    "runs",
    "method",
    "source -> target",
    "seeds",
    "rank-1",
    "rank-5",
    "rank-10",
    "mAP",
    "mAP (non-interp.)",
    "gain rank-1 / mAP (means)",
  ];
  const rows = groups.map((g) => {
    const base = g.method === "source only" ? undefined : baseline.get(pairKey(g));
    const gain = base
      ? `${signed(g.rank1.mean - base.rank1.mean)} / ${signed(g.mAP.mean - base.mAP.mean)}`
      : "";
    return [
      g.runs.map((r) => r.name).join(", "),
      g.method,
      `${g.source} -> ${g.target === "" ? "-" : g.target}`,
      g.seeds.map((s) => Number.isFinite(s) ? String(s) : "?").join(", "),
      pctSd(g.rank1),
      pctSd(g.rank5),
      pctSd(g.rank10),
      pctSd(g.mAP),
      pctSd(g.mAPNonInterpolated),
      gain,
    ];
  });
  return markdownTable(head, rows);
}
