/**
 * `deno task eval`: evaluates a trained checkpoint (or an ImageNet weight file, or a features
 * file) on a data set's query/gallery with the Market-1501 protocol. Prints a table, writes
 * eval.json with every figure, ranking.html with sample queries and their top-10 matches, and
 * (optionally) the features as safetensors. Run with `--help`.
 */
import { parseArgs } from "node:util";
import { dirname, resolve } from "node:path";
import { loadReidDataset } from "../data/datasets.ts";
import { evaluationTable, writeEvaluationReports } from "../eval/report.ts";
import { evaluateSaved } from "../eval/saved.ts";
import type { EcnArch } from "../reid/ecn_net.ts";
import { setNumThreads } from "../tensor/mod.ts";
import { configureFromEnv, quietFromEnv, resolveDatasetArg } from "./env.ts";
import { Progress } from "./progress.ts";

const HELP = `deno task eval [options]

Input (one of):
  --checkpoint RUN|FILE   a training run folder or checkpoint (its settings give size and normalization)
  --weights FILE --arch A an ImageNet backbone weight file (pool5 features, no training)
  --features FILE         a features file (safetensors: query.features/ids/cams, gallery.*)
Data (with --checkpoint or --weights):
  --data DIR|NAME         data set root (Market-1501 layout) whose query/gallery are evaluated;
                          a name (MARKET, DUKE, ...) is looked up under $ECN_DATA_ROOT or ../data
Options:
  --feature pool5|embedding  which feature (default pool5, L2-normalized)
  --flip                  average with horizontally flipped images
  --metric euclidean|cosine  (default euclidean: squared distance of normalized features)
  --rerank                k-reciprocal re-ranking (k1 20, k2 6, lambda 0.3)
  --out DIR               where eval.json and ranking.html go (default: the run folder or runs/eval)
  --save-features FILE    also write the features (safetensors)
  --samples N             queries shown in ranking.html (default 20)
  --batch-size N --workers N --device cpu|cuda[:N] --threads N --height H --width W
`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      help: { type: "boolean" },
      checkpoint: { type: "string" },
      weights: { type: "string" },
      arch: { type: "string" },
      features: { type: "string" },
      data: { type: "string" },
      feature: { type: "string" },
      flip: { type: "boolean" },
      metric: { type: "string" },
      rerank: { type: "boolean" },
      out: { type: "string" },
      "save-features": { type: "string" },
      samples: { type: "string" },
      "batch-size": { type: "string" },
      workers: { type: "string" },
      device: { type: "string" },
      threads: { type: "string" },
      height: { type: "string" },
      width: { type: "string" },
    },
  });
  if (values.help) return console.log(HELP);
  const given = [values.checkpoint, values.weights, values.features].filter(Boolean).length;
  if (given !== 1) {
    throw new Error(`give exactly one of --checkpoint, --weights or --features\n\n${HELP}`);
  }
  configureFromEnv();
  if (values.threads) setNumThreads(Number(values.threads));
  const metric = (values.metric ?? "euclidean") as "euclidean" | "cosine";
  if (metric !== "euclidean" && metric !== "cosine") {
    throw new Error(`--metric must be euclidean or cosine, got '${values.metric}'`);
  }
  const kind = (values.feature ?? "pool5") as "pool5" | "embedding";
  if (kind !== "pool5" && kind !== "embedding") {
    throw new Error(`--feature must be pool5 or embedding, got '${values.feature}'`);
  }
  let dataset;
  if (!values.features) {
    if (!values.data) throw new Error("--data DIR is needed to extract features");
    dataset = loadReidDataset(resolveDatasetArg(values.data));
    console.log(dataset.summaryTable());
    if (dataset.query.length === 0) throw new Error(`${values.data}: the query set is empty`);
    if (dataset.gallery.length === 0) throw new Error(`${values.data}: the gallery is empty`);
  }
  let progress: Progress | null = null;
  const r = await evaluateSaved({
    checkpoint: values.checkpoint,
    weights: values.weights,
    arch: values.arch as EcnArch | undefined,
    features: values.features,
    dataset,
    kind,
    flip: values.flip,
    metric,
    rerank: values.rerank,
    device: values.device ?? "cpu",
    batchSize: values["batch-size"] ? Number(values["batch-size"]) : undefined,
    workers: values.workers ? Number(values.workers) : undefined,
    height: values.height ? Number(values.height) : undefined,
    width: values.width ? Number(values.width) : undefined,
    keepTop: 30,
    saveFeatures: values["save-features"],
    onProgress: (done, total) => {
      progress ??= new Progress("features", total, { quiet: quietFromEnv() });
      if (done > 0) progress.update(done);
      if (done === total) progress.done();
    },
  });
  if (values["save-features"]) console.log(`features written to ${values["save-features"]}`);
  console.log(`\n${r.title}${values.rerank ? " (re-ranked)" : ""}`);
  console.log(evaluationTable(r.evaluation, values.rerank ? "re-ranked" : "figures"));
  console.log(`distances + metrics: ${r.metricSeconds.toFixed(2)} s`);
  const out = values.out ?? (r.checkpointPath ? dirname(r.checkpointPath) : "runs/eval");
  const { json, html } = writeEvaluationReports(out, r.evaluation, r.query, r.gallery, {
    title: r.title,
    metric,
    rerank: !!values.rerank,
    feature: kind,
    seconds: r.metricSeconds,
    samples: values.samples ? Number(values.samples) : undefined,
  });
  console.log(`wrote ${resolve(json)} and ${resolve(html)}`);
}

if (import.meta.main) {
  try {
    await main();
  } catch (e) {
    console.error(`eval: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
