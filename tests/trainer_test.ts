// The ECN trainer end to end on tiny synthetic domains: a run writes its folder, resume continues
// exactly (2 epochs straight == 1 epoch + resume), a diverging loss stops with the last good
// checkpoint kept, and a checkpoint of another target set is refused. The trainer prints nothing
// (it reports events), and the eval command's evaluation of the run's checkpoint equals the
// trainer's own.
import "./native.ts";
import assert from "node:assert";
import { join } from "node:path";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { generateSyntheticDomains } from "../src/data/synthetic/mod.ts";
import { tinyDomain } from "./tiny_domains.ts";
import { generateCamStyle } from "../src/data/camstyle.ts";
import { loadReidDataset } from "../src/data/datasets.ts";
import { mergeConfig, QUICK_OVERRIDES, type TrainConfig } from "../src/reid/config.ts";
import { Trainer } from "../src/reid/trainer.ts";
import { evaluateSaved } from "../src/eval/saved.ts";
import { loadTrainedModel } from "../src/reid/pretrained.ts";
import { liveTensors } from "../src/tensor/mod.ts";

const tmp = mkdtempSync(join(tmpdir(), "ecn-trainer-"));
const data = await generateSyntheticDomains({
  outDir: join(tmp, "data"),
  domains: [tinyDomain("S", "daylight", 6), tinyDomain("T", "dim", 5), tinyDomain("U", "dim", 6)],
});
const camstyle = join(tmp, "T_camstyle");
await generateCamStyle(loadReidDataset(data.domains.T, { quiet: true }), camstyle);

function config(out: string, over: Partial<TrainConfig> = {}): TrainConfig {
  return mergeConfig(
    { ...QUICK_OVERRIDES },
    {
      source: data.domains.S,
      target: data.domains.T,
      camstyleDir: camstyle,
      out,
      numFeatures: 32,
      height: 32,
      width: 16,
      batchSize: 8,
      targetBatchSize: 8,
      epochs: 2,
      neighborhoodFromEpoch: 1,
      knn: 3,
      workers: 0,
      seed: 3,
    },
    over,
  );
}

async function paramsOf(run: string): Promise<{ params: number[]; memory: number[] }> {
  const t = await loadTrainedModel(run);
  const params = t.model.parameters().flatMap((p) => p.toNumbers());
  t.model.dispose();
  const { readSafetensors } = await import("../src/nn/safetensors.ts");
  const { toFloat32 } = await import("../src/nn/weights.ts");
  const f = await readSafetensors(join(run, "checkpoint.safetensors"));
  return { params, memory: Array.from(toFloat32(f.tensors.get("extra.memory")!)) };
}

Deno.test("a run writes its folder; 2 epochs straight equal 1 epoch + resume, bit for bit", async () => {
  const start = liveTensors();
  const straight = join(tmp, "straight");
  const a = await Trainer.create(config(straight));
  const result = await a.fit();
  a.dispose();
  assert.ok(result && result.validQueries > 0, "the target is evaluated at the end");
  for (
    const f of ["config.json", "log.jsonl", "loss.svg", "checkpoint.safetensors", "result.json"]
  ) {
    assert.ok(existsSync(join(straight, f)), `${f} written`);
  }
  const log = readFileSync(join(straight, "log.jsonl"), "utf8").trim().split("\n").map((l) =>
    JSON.parse(l)
  );
  assert.ok(log.some((r) => r.kind === "step" && typeof r.target === "number"));
  assert.ok(log.some((r) => r.kind === "eval"));

  const split = join(tmp, "split");
  const b1 = await Trainer.create(config(split, { epochs: 1 }));
  await b1.fit();
  b1.dispose();
  const b2 = await Trainer.create(config(split), { resume: split });
  assert.strictEqual(b2.startEpoch, 1);
  await b2.fit();
  b2.dispose();

  const x = await paramsOf(straight);
  const y = await paramsOf(split);
  assert.strictEqual(x.params.length, y.params.length);
  assert.ok(x.params.every((v, i) => v === y.params[i]), "parameters identical");
  assert.ok(x.memory.every((v, i) => v === y.memory[i]), "memory identical");
  assert.strictEqual(liveTensors(), start, "no tensor handle leaked");
});

Deno.test("the eval command's evaluation of the checkpoint equals the trainer's own", async () => {
  const run = join(tmp, "straight");
  const result = JSON.parse(readFileSync(join(run, "result.json"), "utf8"));
  const target = loadReidDataset(data.domains.T);
  const r = await evaluateSaved({ checkpoint: run, dataset: target, workers: 0 });
  assert.strictEqual(r.checkpointPath, join(run, "checkpoint.safetensors"));
  assert.match(r.title, /checkpoint\.safetensors \(epoch 2\) on T$/);
  assert.strictEqual(r.evaluation.validQueries, result.validQueries);
  assert.strictEqual(r.evaluation.mAP, result.mAP);
  assert.deepStrictEqual(r.evaluation.cmc, result.cmc);
  assert.strictEqual(r.query.ids.length, target.query.length);
  assert.ok(r.evaluation.top && r.evaluation.keepTop === 30, "top matches kept for the report");
});

Deno.test("the trainer prints nothing: it reports data sets, steps, epochs and evaluations as events", async () => {
  const cfg = config(join(tmp, "events"), { epochs: 1, maxStepsPerEpoch: 2, workers: 1 });
  const out = join(tmp, "events.json");
  const child = join(tmp, "events_child.ts");
  const src = (p: string) => JSON.stringify(new URL(p, import.meta.url).href);
  Deno.writeTextFileSync(
    child,
    `import ${src("./native.ts")};
import { Trainer } from ${src("../src/reid/trainer.ts")};
const events = [];
const t = await Trainer.create(JSON.parse(Deno.args[0]), {
  onEvent: (e) => events.push(e.kind === "features" ? \`features \${e.done}/\${e.total}\` : e.kind),
});
await t.fit();
t.dispose();
Deno.writeTextFileSync(Deno.args[1], JSON.stringify(events));
`,
  );
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", child, JSON.stringify(cfg), out],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(r.stdout), stderr = new TextDecoder().decode(r.stderr);
  assert.strictEqual(r.code, 0, stderr);
  assert.strictEqual(stdout, "", "nothing on stdout");
  assert.strictEqual(stderr, "", "nothing on stderr");
  const events: string[] = JSON.parse(readFileSync(out, "utf8"));
  const target = loadReidDataset(data.domains.T);
  const total = target.query.length + target.gallery.length;
  const features = events.filter((e) => e.startsWith("features"));
  assert.deepStrictEqual(events.filter((e) => !e.startsWith("features")), [
    "dataset",
    "dataset",
    "epochStart",
    "step",
    "step",
    "epochEnd",
    "checkpoint",
    "evaluation",
  ]);
  assert.strictEqual(features[0], `features 0/${total}`);
  assert.strictEqual(features.at(-1), `features ${total}/${total}`);
  assert.ok(events.indexOf(features[0]) > events.indexOf("checkpoint"));
  assert.ok(events.indexOf(features.at(-1)!) < events.indexOf("evaluation"));
});

Deno.test("a checkpoint of another target set is refused on resume", async () => {
  const run = join(tmp, "straight");
  await assert.rejects(
    Trainer.create(config(join(tmp, "other"), { target: data.domains.U, camera: false }), {
      resume: run,
    }).then((t) => t.dispose()),
    /refusing to resume: .*does not fit this run's \[24, 32\]/,
  );
});

Deno.test("a diverging loss stops the run and keeps the last good checkpoint", async () => {
  const run = join(tmp, "diverge");
  const good = await Trainer.create(config(run, { epochs: 1, camera: false }));
  await good.fit();
  good.dispose();
  const before = readFileSync(join(run, "checkpoint.safetensors"));
  const t = await Trainer.create(config(run, { epochs: 4, lr: 1e30, camera: false }), {
    resume: run,
  });
  try {
    await assert.rejects(
      t.fit(),
      /the loss became (NaN|-?Infinity) in epoch \d+: stopping; the last good checkpoint is kept at/,
    );
  } finally {
    t.dispose();
  }
  assert.ok(
    readFileSync(join(run, "checkpoint.safetensors")).equals(before),
    "checkpoint unchanged",
  );
});

Deno.test("missing CamStyle images are reported before training, with the expected pattern", async () => {
  await assert.rejects(
    Trainer.create(config(join(tmp, "nocam"), { camstyleDir: join(tmp, "nowhere") })),
    /CamStyle images missing: \d+ of \d+ expected files matching .*_fake_\{c\}to\{c'\}\.jpg/,
  );
});

globalThis.addEventListener("unload", () => rmSync(tmp, { recursive: true, force: true }));
