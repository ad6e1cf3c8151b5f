// The train and eval commands end to end on tiny synthetic domains: what they print (data set
// tables, log lines, progress bars on stderr), the files they write, the eval command's figures
// equal to the training run's own, and errors that name the flag or the environment variable.
import assert from "node:assert";
import { join } from "node:path";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import { generateSyntheticDomains } from "../src/data/synthetic/mod.ts";
import { writeSafetensors } from "../src/nn/safetensors.ts";
import { tinyDomain } from "./tiny_domains.ts";

const cli = (name: string) => fileURLToPath(new URL(`../src/cli/${name}.ts`, import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), "ecn-cli-"));
globalThis.addEventListener("unload", () => rmSync(tmp, { recursive: true, force: true }));

const data = await generateSyntheticDomains({
  outDir: join(tmp, "data"),
  domains: [tinyDomain("S", "daylight", 6), tinyDomain("T", "dim", 5)],
});
const run = join(tmp, "run");

async function command(
  name: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; out: string; err: string }> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", cli(name), ...args],
    env: { ECN_NUM_THREADS: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: r.code, out: dec.decode(r.stdout), err: dec.decode(r.stderr) };
}

const TRAIN = [
  "--quick",
  "--source",
  data.domains.S,
  "--target",
  data.domains.T,
  "--no-camera",
  "--features",
  "32",
  "--height",
  "32",
  "--width",
  "16",
  "--batch-size",
  "8",
  "--target-batch-size",
  "8",
  "--epochs",
  "1",
  "--max-steps",
  "2",
  "--workers",
  "0",
  "--out",
  run,
];

Deno.test("train: prints the settings, data sets, evaluation and run folder; bars on stderr", async () => {
  const r = await command("train", TRAIN);
  assert.strictEqual(r.code, 0, r.out + r.err);
  assert.match(r.out, /^ECN training \(.*\): resnet18, 32x16, E\+N, 1 epochs -> /m);
  assert.match(r.out, /^S dataset loaded \(market layout, .*\)\n {2}subset {3}\| # ids/m);
  assert.match(r.out, /^T dataset loaded/m);
  assert.match(r.out, /^epoch 1 target T: rank-1 /m);
  assert.match(r.out, /^final, target T: rank-1 /m);
  assert.match(
    r.out,
    /^run folder: .*\(config\.json, log\.jsonl, loss\.svg, checkpoint\.safetensors\)/m,
  );
  assert.match(r.err, /^epoch 1\/1 \[#{24}\] 2\/2 /m);
  assert.match(r.err, /^features \[#{24}\] /m);
  const result = JSON.parse(readFileSync(join(run, "result.json"), "utf8"));
  assert.ok(result.validQueries > 0);
});

Deno.test("eval: the checkpoint's figures equal the run's; eval.json and ranking.html", async () => {
  const r = await command("eval", [
    "--checkpoint",
    run,
    "--data",
    data.domains.T,
    "--workers",
    "0",
  ]);
  assert.strictEqual(r.code, 0, r.out + r.err);
  assert.match(r.out, /^T dataset loaded/m);
  assert.match(r.out, /checkpoint\.safetensors \(epoch 1\) on T\n\| figures/);
  assert.match(r.out, /^distances \+ metrics: \d+\.\d\d s$/m);
  assert.match(r.out, /^wrote .*\/eval\.json and .*\/ranking\.html$/m);
  assert.match(r.err, /^features \[#{24}\] /m);
  const e = JSON.parse(readFileSync(join(run, "eval.json"), "utf8"));
  const result = JSON.parse(readFileSync(join(run, "result.json"), "utf8"));
  assert.strictEqual(e.mAP, result.mAP);
  assert.deepStrictEqual(e.cmc, result.cmc);
  assert.deepStrictEqual([e.metric, e.rerank, e.feature], ["euclidean", false, "pool5"]);
  assert.ok(readFileSync(join(run, "ranking.html"), "utf8").includes("<table>"));
});

Deno.test("results: the run folder written by train, as one table row with its figures", async () => {
  const r = await command("results", [run, "--curve"]);
  assert.strictEqual(r.code, 0, r.out + r.err);
  const result = JSON.parse(readFileSync(join(run, "result.json"), "utf8"));
  const lines = r.out.trim().split("\n");
  assert.strictEqual(lines.length, 3, r.out); // header, rule, the run
  const row = lines[2];
  const cells = row.split("|").map((c) => c.trim());
  // run, method, source -> target, passes (2 steps x 8 of T's training images), rank-1, ..., mAP
  assert.deepStrictEqual(cells.slice(1, 4), ["run", "E+N", "S -> T"]);
  const tSize = readdirSync(join(data.domains.T, "bounding_box_train")).length;
  assert.strictEqual(cells[4], (16 / tSize).toFixed(1));
  assert.strictEqual(cells[5], (100 * result.cmc[0]).toFixed(1));
  assert.strictEqual(cells[8], (100 * result.mAP).toFixed(1));
  assert.match(cells[12], /^\d+\.\d \/ \d+\.\d \(1\)$/);
  const bad = await command("results", [tmp]);
  assert.strictEqual(bad.code, 1);
  assert.match(bad.err, /config\.json: cannot read it .*is this a run folder/);
  assert.strictEqual((await command("results", [])).code, 2);
  // --seeds: one group of one run; with --json the group names its run folders
  const seeds = await command("results", [run, "--seeds", "--json"]);
  assert.strictEqual(seeds.code, 0, seeds.err);
  const groups = JSON.parse(seeds.out);
  assert.deepStrictEqual([groups.length, groups[0].runs, groups[0].method], [1, [run], "E+N"]);
  assert.strictEqual(groups[0].rank1.mean, result.cmc[0]);
  const both = await command("results", [run, "--seeds", "--curve"]);
  assert.strictEqual(both.code, 2);
  assert.match(both.err, /--curve and --seeds do not go together/);
});

Deno.test("ECN_QUIET=1 draws no progress bars", async () => {
  const r = await command("eval", [
    "--checkpoint",
    run,
    "--data",
    data.domains.T,
    "--workers",
    "0",
    "--out",
    join(tmp, "quiet"),
  ], { ECN_QUIET: "1" });
  assert.strictEqual(r.code, 0, r.out + r.err);
  assert.strictEqual(r.err, "");
});

Deno.test("errors name the flag or the environment variable", async () => {
  const metric = await command("eval", ["--features", "x", "--metric", "manhattan"]);
  assert.strictEqual(metric.code, 1);
  assert.match(metric.err, /^eval: --metric must be euclidean or cosine, got 'manhattan'/m);
  const nproc = await command("train", [...TRAIN, "--nproc", "0"]);
  assert.strictEqual(nproc.code, 1);
  assert.match(nproc.err, /^train: --nproc must be a positive integer, got 0/m);
  const threads = await command("train", TRAIN, { ECN_NUM_THREADS: "many" });
  assert.strictEqual(threads.code, 1);
  assert.match(threads.err, /^train: ECN_NUM_THREADS must be a positive integer, got 'many'/m);
  const preset = await command("train", [
    "--preset",
    "cpu",
    "--source",
    data.domains.S,
    "--target",
    data.domains.T,
  ]);
  assert.strictEqual(preset.code, 1);
  assert.match(preset.err, /^train: --preset cpu starts from ImageNet MobileNetV2 .*--weights/m);
  // A weight file, not a training checkpoint: the library names its setting, the command its flag.
  const weights = join(tmp, "weights.safetensors");
  await writeSafetensors(
    weights,
    new Map([["x", { dtype: "float32", shape: [1], data: new Uint8Array(4) }]]),
  );
  const init = await command("train", [...TRAIN, "--init", weights]);
  assert.strictEqual(init.code, 1);
  assert.match(init.err, /^train: --init .*weights\.safetensors: not an ECN training checkpoint/m);
});
