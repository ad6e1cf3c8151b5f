/**
 * `deno task eval`: evaluates a trained checkpoint (or an ImageNet weight file, or a features
 * file) on a data set's query/gallery with the Market-1501 protocol. Prints a table, writes
 * eval.json with every figure, ranking.html with sample queries and their top-10 matches, and
 * (optionally) the features as safetensors. Run with `--help`.
 */
import { parseArgs } from "node:util";
import { join, resolve } from "node:path";
import { mkdirSync } from "node:fs";
import { loadReidDataset } from "../data/datasets.ts";
import { testTransformConfig, type TransformConfig } from "../data/transforms.ts";
import { evaluateFeatures } from "../eval/evaluate.ts";
import {
  extractFeatures,
  type FeatureExtractor,
  type FeatureSet,
  loadFeatures,
  saveFeatures,
} from "../eval/features.ts";
import { evaluationTable, rankingHtml } from "../eval/report.ts";
import { Progress } from "../util/progress.ts";
import { type EcnArch, EcnNet } from "../reid/ecn_net.ts";
import { loadTrainedModel } from "../reid/pretrained.ts";
import { resolveDataset } from "../reid/config.ts";
import { weightsNormalization } from "../nn/mobilenet.ts";
import { resnetStrideOf } from "../nn/resnet.ts";
import { weightsMetadata } from "../nn/weights.ts";
import { setNumThreads } from "../tensor/mod.ts";

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
  if (values.threads) setNumThreads(Number(values.threads));
  const metric = (values.metric ?? "euclidean") as "euclidean" | "cosine";
  if (metric !== "euclidean" && metric !== "cosine") {
    throw new Error(`--metric must be euclidean or cosine, got '${values.metric}'`);
  }
  const kind = (values.feature ?? "pool5") as "pool5" | "embedding";
  if (kind !== "pool5" && kind !== "embedding") {
    throw new Error(`--feature must be pool5 or embedding, got '${values.feature}'`);
  }
  const device = values.device ?? "cpu";
  let query: FeatureSet, gallery: FeatureSet;
  let out = values.out;
  let title = "";
  if (values.features) {
    ({ query, gallery } = await loadFeatures(values.features));
    out ??= "runs/eval";
    title = values.features;
  } else {
    if (!values.data) throw new Error("--data DIR is needed to extract features");
    const ds = loadReidDataset(resolveDataset(values.data));
    if (ds.query.length === 0) throw new Error(`${values.data}: the query set is empty`);
    if (ds.gallery.length === 0) throw new Error(`${values.data}: the gallery is empty`);
    let model: FeatureExtractor & { dispose(): void };
    let transform: TransformConfig;
    const size = (h: number, w: number) => ({
      height: values.height ? Number(values.height) : h,
      width: values.width ? Number(values.width) : w,
    });
    if (values.checkpoint) {
      const t = await loadTrainedModel(values.checkpoint);
      model = t.model;
      transform = testTransformConfig({
        ...size(t.config.height, t.config.width),
        mean: t.config.mean ?? undefined,
        std: t.config.std ?? undefined,
      });
      out ??= t.path.replace(/\/[^/]*$/, "");
      title = `${t.path} (epoch ${t.epoch}) on ${ds.name}`;
    } else {
      const arch = (values.arch ?? "resnet50") as EcnArch;
      const resnetStride = resnetStrideOf(await weightsMetadata(values.weights!), values.weights);
      const net = new EcnNet({ arch, numSourceIds: 1, freezeUntil: "none", resnetStride });
      await net.loadBackboneWeights(values.weights!);
      net.eval();
      model = net;
      const norm = await weightsNormalization(values.weights!);
      transform = testTransformConfig({ ...size(256, 128), mean: norm.mean, std: norm.std });
      out ??= "runs/eval";
      title = `${values.weights} (${arch}, ImageNet) on ${ds.name}`;
    }
    try {
      const total = ds.query.length + ds.gallery.length;
      const progress = new Progress("features", total);
      const common = {
        transform,
        kind,
        flip: values.flip,
        device,
        batchSize: values["batch-size"] ? Number(values["batch-size"]) : 128,
        workers: values.workers ? Number(values.workers) : undefined,
      };
      query = await extractFeatures(model, ds.query, {
        ...common,
        onProgress: (d) => progress.update(d),
      });
      gallery = await extractFeatures(model, ds.gallery, {
        ...common,
        onProgress: (d) => progress.update(ds.query.length + d),
      });
      progress.done();
    } finally {
      model.dispose();
    }
    if (values["save-features"]) {
      await saveFeatures(values["save-features"], { query, gallery }, { source: title });
      console.log(`features written to ${values["save-features"]}`);
    }
  }
  const t0 = performance.now();
  const e = evaluateFeatures(query, gallery, {
    metric,
    rerank: values.rerank,
    keepTop: 30,
    device,
  });
  const secs = (performance.now() - t0) / 1000;
  console.log(`\n${title}${values.rerank ? " (re-ranked)" : ""}`);
  console.log(evaluationTable(e, values.rerank ? "re-ranked" : "figures"));
  console.log(`distances + metrics: ${secs.toFixed(2)} s`);
  mkdirSync(out!, { recursive: true });
  const { top: _t, perQuery: _p, ...figures } = e;
  const jsonPath = join(out!, "eval.json");
  Deno.writeTextFileSync(
    jsonPath,
    JSON.stringify(
      { title, metric, rerank: !!values.rerank, feature: kind, ...figures, seconds: secs },
      null,
      2,
    ) + "\n",
  );
  const htmlPath = join(out!, "ranking.html");
  Deno.writeTextFileSync(
    htmlPath,
    rankingHtml(e, query, gallery, {
      samples: values.samples ? Number(values.samples) : 20,
      title,
    }),
  );
  console.log(`wrote ${resolve(jsonPath)} and ${resolve(htmlPath)}`);
}

if (import.meta.main) {
  try {
    await main();
  } catch (e) {
    console.error(`eval: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
