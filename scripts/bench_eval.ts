/**
 * Benchmark of the re-ID metrics on a Market-1501-sized random problem (3,368 x 15,913,
 * 2,048-d features, ~750 ids, 6 cameras), against the reference way of computing them.
 *
 * `scripts/bench_eval_reference.py` (run with the oracle interpreter, /usr/bin/python3) makes
 * the features, computes the distance matrix with torch, saves it as raw float32 and times the
 * NumPy reference metrics; this script loads the same matrix, times `evaluateRanking` (whole
 * matrix, and fed in 512-row chunks) and prints both sides as a table.
 *
 * Run: deno run -A scripts/bench_eval.ts [--seed N]
 *
 * @module
 */

import { evaluateRanking, RankingAccumulator, type RankingResult } from "../src/eval/metrics.ts";
import { PYTHON } from "../tests/oracle/oracle.ts";

interface ReferenceOut {
  cmc: number[];
  mAP: number;
  mAPNonInterpolated: number;
  mINP: number;
  valid: number;
  skipped: number;
  distSeconds: number;
  metricsSeconds: number;
  torchThreads: number;
  nq: number;
  ng: number;
  dim: number;
}

function readRaw(path: string): ArrayBuffer {
  const bytes = Deno.readFileSync(path);
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const seedAt = Deno.args.indexOf("--seed");
const seed = seedAt >= 0 ? Deno.args[seedAt + 1] : "0";
const dir = Deno.makeTempDirSync({ prefix: "bench_eval_" });
try {
  const script = new URL("./bench_eval_reference.py", import.meta.url).pathname;
  const py = new Deno.Command(PYTHON, {
    args: [script, dir, "--seed", seed],
    stdout: "piped",
    stderr: "inherit",
  }).outputSync();
  if (!py.success) throw new Error(`${script} failed (interpreter ${PYTHON})`);
  const ref = JSON.parse(new TextDecoder().decode(py.stdout)) as ReferenceOut;
  const { nq, ng } = ref;

  const dist = new Float32Array(readRaw(`${dir}/dist.f32`));
  const i32 = (name: string) => new Int32Array(readRaw(`${dir}/${name}.i32`));
  const query = { ids: i32("qids"), cams: i32("qcams") };
  const gallery = { ids: i32("gids"), cams: i32("gcams") };

  const times: number[] = [];
  let res: RankingResult | undefined;
  for (let rep = 0; rep < 5; rep++) {
    const t0 = performance.now();
    res = evaluateRanking(dist, nq, ng, query, gallery);
    times.push((performance.now() - t0) / 1000);
  }
  const chunkTimes: number[] = [];
  let chunked: RankingResult | undefined;
  for (let rep = 0; rep < 3; rep++) {
    const t0 = performance.now();
    const acc = new RankingAccumulator(gallery);
    for (let s = 0; s < nq; s += 512) {
      const e = Math.min(nq, s + 512);
      acc.addBlock(dist.subarray(s * ng, e * ng), {
        ids: query.ids.subarray(s, e),
        cams: query.cams.subarray(s, e),
      });
    }
    chunked = acc.result();
    chunkTimes.push((performance.now() - t0) / 1000);
  }
  const r = res!;
  const pct = (x: number) => (100 * x).toFixed(4);
  const rows: [string, string, string][] = [
    ["problem", `${nq} x ${ng}, ${ref.dim}-d`, "same matrix"],
    [
      `distances (torch, ${ref.torchThreads} threads)`,
      "(lead's Tensor, later)",
      `${ref.distSeconds.toFixed(3)} s`,
    ],
    [
      "metrics time",
      `${median(times).toFixed(3)} s (median of 5; min ${Math.min(...times).toFixed(3)})`,
      `${ref.metricsSeconds.toFixed(3)} s (NumPy argsort + AP loop)`,
    ],
    ["metrics time, 512-row chunks", `${median(chunkTimes).toFixed(3)} s (median of 3)`, "-"],
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
  const w0 = Math.max(...rows.map((x) => x[0].length)),
    w1 = Math.max(...rows.map((x) => x[1].length));
  console.log(`${"".padEnd(w0)} | ${"TypeScript".padEnd(w1)} | Python reference`);
  console.log(`${"-".repeat(w0)}-|-${"-".repeat(w1)}-|-${"-".repeat(30)}`);
  for (const [a, b, c] of rows) console.log(`${a.padEnd(w0)} | ${b.padEnd(w1)} | ${c}`);
  const worst = Math.max(
    ...r.cmc.map((x, i) => Math.abs(x - ref.cmc[i])),
    Math.abs(r.mAP - ref.mAP),
    Math.abs(r.mAPNonInterpolated - ref.mAPNonInterpolated),
    Math.abs(r.mINP - ref.mINP),
  );
  const same = JSON.stringify(chunked) === JSON.stringify(r);
  console.log(
    `max |TS - reference| over all figures: ${worst.toExponential(2)}; chunked == full: ${same}`,
  );
} finally {
  Deno.removeSync(dir, { recursive: true });
}
