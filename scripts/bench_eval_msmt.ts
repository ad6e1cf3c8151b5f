/**
 * Wall time and peak memory of `evaluateFeatures` on an MSMT17-sized random problem (11,659
 * queries x 82,161 gallery, 2,048-d L2-normalized features, ~3,060 ids, 15 cameras), with
 * distances in blocks of `--chunk` query rows, so the 11,659 x 82,161 matrix (3.6 GiB) is never
 * held. Features are made as in scripts/bench_eval.ts (identity centre plus noise), a block of
 * rows at a time straight into their arrays.
 *
 * Peak memory is the process's VmHWM from /proc/self/status, read before the evaluation (runtime
 * + features + generation) and after it; the features' own size is printed alongside.
 *
 * Run: deno run -A scripts/bench_eval_msmt.ts [--chunk 1024] [--scale 1] [--seed 0] [--threads N]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { evaluateFeatures, formatEvaluation } from "../src/eval/evaluate.ts";
import { getNumThreads, setNumThreads } from "../src/tensor/mod.ts";
import { makeProblem, type ProblemSize, residentMemory, scaleSize } from "./bench_eval.ts";
import { configureFromEnv } from "../src/cli/env.ts";

configureFromEnv();

/** MSMT17's test split: 11,659 queries, 82,161 gallery images, 3,060 ids, 15 cameras. */
const MSMT_SIZE: ProblemSize = {
  numQuery: 11659,
  numGallery: 82161,
  numIds: 3060,
  numCams: 15,
  dim: 2048,
};

const { values } = parseArgs({
  args: Deno.args,
  options: {
    chunk: { type: "string", default: "1024" },
    scale: { type: "string", default: "1" },
    seed: { type: "string", default: "0" },
    threads: { type: "string" },
  },
});
const chunk = Number(values.chunk);
if (!Number.isInteger(chunk) || chunk < 1) {
  throw new RangeError(`--chunk must be a positive integer, got ${values.chunk}`);
}
const size = scaleSize(MSMT_SIZE, Number(values.scale));
const threads = values.threads ? setNumThreads(Number(values.threads)) : getNumThreads();
const gib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB (${(b / 2 ** 30).toFixed(2)} GiB)`;

const atStart = residentMemory();
const t0 = performance.now();
const { query, gallery } = makeProblem(size, Number(values.seed));
const genSeconds = (performance.now() - t0) / 1000;
const featureBytes = query.features.byteLength + gallery.features.byteLength;
const before = residentMemory();

const t1 = performance.now();
const result = evaluateFeatures(query, gallery, { chunk });
const evalSeconds = (performance.now() - t1) / 1000;
const after = residentMemory();

const nq = size.numQuery, ng = size.numGallery;
console.log(
  `problem: ${nq} queries x ${ng} gallery, ${size.dim}-d, ${size.numIds} ids, ` +
    `${size.numCams} cameras; ${threads} torch threads; query chunk ${chunk}`,
);
console.log(`features (query + gallery, float32): ${gib(featureBytes)}`);
console.log(
  `one distance block: ${gib(Math.min(chunk, nq) * ng * 4)}; whole matrix would be ${
    gib(nq * ng * 4)
  }`,
);
console.log(`feature generation: ${genSeconds.toFixed(1)} s`);
console.log(`evaluateFeatures wall time: ${evalSeconds.toFixed(1)} s`);
console.log(
  `VmHWM (peak resident): at start ${gib(atStart.peak)}, before evaluation ${
    gib(before.peak)
  }, after evaluation ${gib(after.peak)} (evaluation added ${
    gib(after.peak - before.peak)
  } over runtime + features)`,
);
console.log(`VmRSS after evaluation: ${gib(after.current)}`);
console.log(formatEvaluation(result));
