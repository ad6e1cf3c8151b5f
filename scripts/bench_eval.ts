/**
 * Benchmark of the whole re-ID evaluation on a Market-1501-sized random problem (3,368 queries x
 * 15,913 gallery, 2,048-d L2-normalized features, ~750 ids, 6 cameras), against the reference
 * way of doing it.
 *
 * This script makes the features (an identity centre plus noise, so that the figures are neither
 * 0 nor 1), writes them as raw float32 for `scripts/bench_eval_reference.py` (run with the oracle
 * interpreter, /usr/bin/python3), which times open-reid's torch distance matrix (`addmm_`) and the
 * NumPy metrics (argsort per query, sklearn-style AP, CMC) with the same number of torch threads.
 * Here it times the project's `distanceBlocks` (libtorch, CPU), `evaluateRanking` on the whole
 * matrix, and `evaluateFeatures` (distances in query blocks + metrics, the way the CLI evaluates),
 * and prints both sides as a table with medians over `--rounds`.
 *
 * Run: deno run -A scripts/bench_eval.ts [--scale 1] [--rounds 3] [--seed 0] [--threads N]
 * (`--scale 0.05` shrinks the problem for a smoke run.)
 *
 * @module
 */
import { median } from "./bench_common.ts";
import { configureFromEnv } from "../src/cli/env.ts";
import { parseArgs } from "node:util";
import { distanceBlocks, distanceMatrix } from "../src/eval/distance.ts";
import { evaluateFeatures } from "../src/eval/evaluate.ts";
import type { FeatureSet } from "../src/eval/features.ts";
import { evaluateRanking, type RankingResult } from "../src/eval/metrics.ts";
import {
  cat,
  getNumThreads,
  manualSeed,
  noGrad,
  normalize,
  randn,
  scope,
  setNumThreads,
  type Tensor,
  tensor,
  zeros,
} from "../src/tensor/mod.ts";
import { PYTHON } from "../tests/oracle/oracle.ts";
import { mulberry32 as prng } from "../src/util/random.ts";

/** Sizes of a random evaluation problem. */
export interface ProblemSize {
  numQuery: number;
  numGallery: number;
  numIds: number;
  numCams: number;
  dim: number;
}

/** Market-1501's test split: 3,368 queries, 15,913 gallery images, 750 ids, 6 cameras. */
export const MARKET_SIZE: ProblemSize = {
  numQuery: 3368,
  numGallery: 15913,
  numIds: 750,
  numCams: 6,
  dim: 2048,
};

/** `size` with query, gallery and id counts multiplied by `scale` (cameras and dim kept). */
export function scaleSize(size: ProblemSize, scale: number): ProblemSize {
  if (!(scale > 0 && scale <= 1)) throw new RangeError(`--scale must be in (0, 1], got ${scale}`);
  const s = (n: number, min: number) => Math.max(min, Math.round(n * scale));
  return {
    ...size,
    numQuery: s(size.numQuery, 1),
    numGallery: s(size.numGallery, 2),
    numIds: s(size.numIds, 2),
  };
}

/**
 * Features of one set, generated `chunk` rows at a time straight into the result (no full-size
 * temporaries): row i is centres[ids[i]] + 4·noise, L2-normalized; id 0 (a distractor) has a zero
 * centre, so distractors are pure noise. `centres` is (numIds + 1) x dim.
 */
function fillFeatures(
  centres: Tensor,
  ids: Int32Array,
  dim: number,
  chunk: number,
): Float32Array {
  const out = new Float32Array(ids.length * dim);
  for (let s = 0; s < ids.length; s += chunk) {
    const e = Math.min(ids.length, s + chunk);
    const rows = scope(() => {
      const idx = tensor(ids.subarray(s, e)).to({ dtype: "int64" });
      const f = centres.indexSelect(0, idx).add(randn([e - s, dim], { std: 4 }));
      return normalize(f).toArray() as Float32Array;
    });
    out.set(rows, s * dim);
  }
  return out;
}

/**
 * A random query/gallery problem with Market-like labels: ids uniform in 1..numIds, 15% of the
 * gallery distractors (id 0), cameras uniform in 0..numCams-1; features as in `fillFeatures`.
 * Deterministic for a given seed (libtorch's generator for the features).
 */
export function makeProblem(
  size: ProblemSize,
  seed = 0,
  chunk = 4096,
): { query: FeatureSet; gallery: FeatureSet } {
  const rnd = prng(seed);
  const labels = (n: number, distractors: number) => {
    const ids = new Int32Array(n), cams = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      ids[i] = rnd() < distractors ? 0 : 1 + Math.floor(rnd() * size.numIds);
      cams[i] = Math.floor(rnd() * size.numCams);
    }
    return { ids, cams };
  };
  const q = labels(size.numQuery, 0), g = labels(size.numGallery, 0.15);
  manualSeed(seed);
  return noGrad(() =>
    scope(() => {
      const centres = cat([zeros([1, size.dim]), randn([size.numIds, size.dim])]);
      const set = (l: { ids: Int32Array; cams: Int32Array }): FeatureSet => ({
        features: fillFeatures(centres, l.ids, size.dim, chunk),
        dim: size.dim,
        names: [],
        ids: l.ids,
        cams: l.cams,
      });
      return { query: set(q), gallery: set(g) };
    })
  );
}

/** The process's peak and current resident memory in bytes (VmHWM / VmRSS, Linux). */
export function residentMemory(): { peak: number; current: number } {
  const status = Deno.readTextFileSync("/proc/self/status");
  const kb = (key: string) => {
    const m = status.match(new RegExp(`^${key}:\\s+(\\d+) kB`, "m"));
    if (!m) throw new Error(`/proc/self/status has no ${key} line (Linux only)`);
    return Number(m[1]) * 1024;
  };
  return { peak: kb("VmHWM"), current: kb("VmRSS") };
}

export { median };

interface ReferenceOut {
  cmc: number[];
  mAP: number;
  mAPNonInterpolated: number;
  mINP: number;
  valid: number;
  skipped: number;
  distSeconds: number[];
  metricsSeconds: number[];
  torchThreads: number;
  /** open-reid's own cmc + mean_ap with sklearn, where scikit-learn is installed. */
  openReidMetricsSeconds?: number[];
  openReidMAP?: number;
}

function writeRaw(path: string, a: Float32Array | Int32Array) {
  Deno.writeFileSync(path, new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
}

function seconds(fn: () => void): number {
  const t0 = performance.now();
  fn();
  return (performance.now() - t0) / 1000;
}

function main() {
  configureFromEnv();
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      scale: { type: "string", default: "1" },
      rounds: { type: "string", default: "3" },
      seed: { type: "string", default: "0" },
      threads: { type: "string" },
    },
  });
  const rounds = Number(values.rounds), seed = Number(values.seed);
  if (!Number.isInteger(rounds) || rounds < 1) {
    throw new RangeError(`--rounds must be a positive integer, got ${values.rounds}`);
  }
  const size = scaleSize(MARKET_SIZE, Number(values.scale));
  const threads = values.threads ? setNumThreads(Number(values.threads)) : getNumThreads();
  const { query, gallery } = makeProblem(size, seed);
  const nq = size.numQuery, ng = size.numGallery, dim = size.dim;

  const dir = Deno.makeTempDirSync({ prefix: "bench_eval_" });
  let ref: ReferenceOut;
  try {
    writeRaw(`${dir}/qf.f32`, query.features);
    writeRaw(`${dir}/gf.f32`, gallery.features);
    writeRaw(`${dir}/qids.i32`, query.ids);
    writeRaw(`${dir}/qcams.i32`, query.cams);
    writeRaw(`${dir}/gids.i32`, gallery.ids);
    writeRaw(`${dir}/gcams.i32`, gallery.cams);
    const script = new URL("./bench_eval_reference.py", import.meta.url).pathname;
    const py = new Deno.Command(PYTHON, {
      args: [
        script,
        dir,
        `${nq}`,
        `${ng}`,
        `${dim}`,
        "--threads",
        `${threads}`,
        "--rounds",
        `${rounds}`,
      ],
      stdout: "piped",
      stderr: "inherit",
    }).outputSync();
    if (!py.success) throw new Error(`${script} failed (interpreter ${PYTHON})`);
    ref = JSON.parse(new TextDecoder().decode(py.stdout)) as ReferenceOut;
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }

  // Warm-up on a slice, so libtorch's first-call costs are not in round 1.
  evaluateFeatures(
    { ...query, features: query.features.subarray(0, dim), ids: query.ids.subarray(0, 1) },
    gallery,
  );
  const distT: number[] = [], metricsT: number[] = [], wholeT: number[] = [];
  let whole: RankingResult | undefined, fromMatrix: RankingResult | undefined;
  for (let r = 0; r < rounds; r++) {
    // Distances alone: the blocks evaluateFeatures consumes (1,024 query rows, copied out).
    distT.push(seconds(() => distanceBlocks(query.features, gallery.features, dim, () => {})));
    const dist = distanceMatrix(query.features, gallery.features, dim);
    metricsT.push(seconds(() => fromMatrix = evaluateRanking(dist, nq, ng, query, gallery)));
    wholeT.push(seconds(() => whole = evaluateFeatures(query, gallery)));
  }
  const r = whole!;

  const pyDist = median(ref.distSeconds), pyMetrics = median(ref.metricsSeconds);
  const pyTotal = median(ref.distSeconds.map((d, i) => d + ref.metricsSeconds[i]));
  const tsDist = median(distT), tsMetrics = median(metricsT), tsWhole = median(wholeT);
  const s = (x: number) => `${x.toFixed(3)} s`;
  const pct = (x: number) => (100 * x).toFixed(4);
  const rows: [string, string, string][] = [
    ["problem", `${nq} x ${ng}, ${dim}-d, ${size.numIds} ids`, "same features"],
    ["torch threads", `${threads}`, `${ref.torchThreads}`],
    ["distances", s(tsDist) + " (distanceBlocks)", s(pyDist) + " (open-reid addmm_)"],
    ["metrics", s(tsMetrics) + " (evaluateRanking)", s(pyMetrics) + " (NumPy argsort + AP)"],
    ["total", s(tsWhole) + " (evaluateFeatures)", s(pyTotal) + " (distances + metrics)"],
    ["speed-up, metrics", `${(pyMetrics / tsMetrics).toFixed(1)}x`, "1x"],
    ["speed-up, whole evaluation", `${(pyTotal / tsWhole).toFixed(1)}x`, "1x"],
    ...(ref.openReidMetricsSeconds
      ? (() => {
        const orM = median(ref.openReidMetricsSeconds!);
        const orT = median(ref.distSeconds.map((d, i) => d + ref.openReidMetricsSeconds![i]));
        return [
          ["open-reid metrics (sklearn AP)", "", s(orM) + " (cmc + mean_ap, as ECN runs them)"],
          ["open-reid total", "", s(orT) + " (distances + open-reid metrics)"],
          ["speed-up vs open-reid, whole", `${(orT / tsWhole).toFixed(1)}x`, "1x"],
          ["mAP, open-reid with sklearn (%)", pct(r.mAP), pct(ref.openReidMAP!)],
        ] as [string, string, string][];
      })()
      : [["open-reid metrics (sklearn AP)", "", "scikit-learn not installed"] as [
        string,
        string,
        string,
      ]]),
    [
      "valid / skipped queries",
      `${r.validQueries} / ${r.skippedQueries}`,
      `${ref.valid} / ${ref.skipped}`,
    ],
    ...r.cmcRanks.map((k, i): [string, string, string] => [
      `rank-${k} (%)`,
      pct(r.cmc[i]),
      pct(ref.cmc[i]),
    ]),
    ["mAP reference, sklearn auc (%)", pct(r.mAP), pct(ref.mAP)],
    ["mAP non-interpolated (%)", pct(r.mAPNonInterpolated), pct(ref.mAPNonInterpolated)],
    ["mINP (%)", pct(r.mINP), pct(ref.mINP)],
  ];
  const w0 = Math.max(...rows.map((x) => x[0].length));
  const w1 = Math.max(...rows.map((x) => x[1].length));
  console.log(`times: medians of ${rounds} round(s)`);
  console.log(`${"".padEnd(w0)} | ${"this project".padEnd(w1)} | Python reference`);
  console.log(`${"-".repeat(w0)}-|-${"-".repeat(w1)}-|-${"-".repeat(36)}`);
  for (const [a, b, c] of rows) console.log(`${a.padEnd(w0)} | ${b.padEnd(w1)} | ${c}`);
  const worst = Math.max(
    ...r.cmc.map((x, i) => Math.abs(x - ref.cmc[i])),
    Math.abs(r.mAP - ref.mAP),
    Math.abs(r.mAPNonInterpolated - ref.mAPNonInterpolated),
    Math.abs(r.mINP - ref.mINP),
  );
  const same = JSON.stringify(fromMatrix) === JSON.stringify(r);
  console.log(
    `max |project - reference| over all figures: ${worst.toExponential(2)}; ` +
      `evaluateFeatures == evaluateRanking(whole matrix): ${same}`,
  );
}

if (import.meta.main) main();
