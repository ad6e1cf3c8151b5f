// Run summaries (deno task results): the method named from the settings, the figures of
// result.json or of the last evaluation while a run is going, passes over the target, the gain
// over the source-only run of the same pair, the ablation order, repeats with other seeds as
// mean ± standard deviation, and errors naming the file.
import assert from "node:assert";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  methodName,
  runsTable,
  seedGroups,
  seedsTable,
  summarizeRun,
} from "../src/reid/run_summary.ts";

const tmp = mkdtempSync(join(tmpdir(), "ecn-results-"));
globalThis.addEventListener("unload", () => rmSync(tmp, { recursive: true, force: true }));

// A target folder in the Market layout: 10 training images of 2 ids (one junk image dropped).
const target = join(tmp, "tgt");
for (const split of ["bounding_box_train", "query", "bounding_box_test"]) {
  mkdirSync(join(target, split), { recursive: true });
}
for (let i = 0; i < 10; i++) {
  writeFileSync(join(target, "bounding_box_train", `000${i % 2 + 1}_c1s1_00000${i}_00.jpg`), "");
}
writeFileSync(join(target, "bounding_box_train", "-1_c1s1_000000_00.jpg"), "");
writeFileSync(join(target, "query", "0001_c1s1_000100_00.jpg"), "");
writeFileSync(join(target, "bounding_box_test", "0001_c2s1_000100_00.jpg"), "");

function evaluation(rank1: number, mAP: number) {
  return {
    cmcRanks: [1, 5, 10, 20],
    cmc: [rank1, rank1 + 0.1, rank1 + 0.2, rank1 + 0.3],
    mAP,
    mAPNonInterpolated: mAP + 0.01,
  };
}

/** Writes a run folder: `steps` step lines per epoch, evaluations at `evals` (0-based epochs). */
function writeRun(
  name: string,
  settings: Record<string, unknown>,
  epochs: number,
  evals: Map<number, [number, number]>,
  opts: { finished?: boolean; tail?: string } = {},
): string {
  const dir = join(tmp, name);
  mkdirSync(dir, { recursive: true });
  const config = {
    source: "/data/duke",
    target,
    sourceOnly: false,
    camera: true,
    neighborhood: true,
    targetBatchSize: 4,
    epochs: 4,
    ...settings,
  };
  writeFileSync(join(dir, "config.json"), JSON.stringify(config));
  const lines: string[] = [];
  let t = Date.parse("2026-01-01T00:00:00Z");
  const at = () => new Date(t += 30_000).toISOString();
  let last: [number, number] | undefined;
  for (let epoch = 0; epoch < epochs; epoch++) {
    for (let step = 1; step <= 5; step++) {
      lines.push(JSON.stringify({ kind: "step", epoch, step, loss: 1, time: at() }));
    }
    lines.push(JSON.stringify({ kind: "epoch", epoch, loss: 1, time: at() }));
    const e = evals.get(epoch);
    if (e) {
      last = e;
      lines.push(JSON.stringify({ kind: "eval", epoch, eval: evaluation(...e), time: at() }));
    }
  }
  writeFileSync(join(dir, "log.jsonl"), lines.join("\n") + "\n" + (opts.tail ?? ""));
  if (opts.finished !== false && last) {
    writeFileSync(join(dir, "result.json"), JSON.stringify(evaluation(...last)));
  }
  return dir;
}

Deno.test("methodName: the ablation names of the paper", () => {
  assert.strictEqual(methodName({ sourceOnly: true, camera: true }), "source only");
  assert.strictEqual(methodName({ camera: false, neighborhood: false }), "E");
  assert.strictEqual(methodName({ camera: true, neighborhood: false }), "E+C");
  assert.strictEqual(methodName({ camera: false, neighborhood: true }), "E+N");
  assert.strictEqual(methodName({ camera: true, neighborhood: true }), "E+C+N");
});

Deno.test("summarizeRun: figures, curve, passes and time of a finished run", () => {
  const dir = writeRun("ecn", {}, 4, new Map([[1, [0.2, 0.1]], [3, [0.4, 0.2]]]));
  const s = summarizeRun(dir);
  assert.strictEqual(s.method, "E+C+N");
  assert.strictEqual(s.steps, 20);
  assert.strictEqual(s.targetImages, 80);
  assert.strictEqual(s.targetPasses, 8); // 80 images over 10 (the junk image is not counted)
  assert.strictEqual(s.epochsDone, 4);
  assert.ok(s.finished);
  assert.deepStrictEqual(s.curve.map((c) => [c.epoch, c.rank1, c.mAP]), [[1, 0.2, 0.1], [
    3,
    0.4,
    0.2,
  ]]);
  assert.strictEqual(s.final?.rank1, 0.4);
  assert.strictEqual(s.final?.rank10, 0.6000000000000001);
  // first step to last record: 4 epochs x (5 steps + 1 epoch line) + 2 evaluations - 1, x 30 s
  assert.strictEqual(s.seconds, (4 * 6 + 2 - 1) * 30);
});

Deno.test("runsTable: ablation order, gain over source only, a running run, unknown target", () => {
  const none = new Map<number, [number, number]>();
  const runs = [
    writeRun("ecn", {}, 4, new Map([[3, [0.4, 0.2]]])),
    writeRun("en", { camera: false }, 2, new Map([[1, [0.3, 0.15]]]), { finished: false }),
    writeRun("src", { sourceOnly: true }, 4, new Map([[1, [0.25, 0.1]], [3, [0.3, 0.12]]])),
    writeRun("e", { camera: false, neighborhood: false }, 4, new Map([[3, [0.35, 0.13]]])),
    writeRun("elsewhere", { target: join(tmp, "absent") }, 1, none, { finished: false }),
    writeRun("short", { epochs: 2 }, 2, new Map([[1, [0.3, 0.11]]])),
    writeRun("late", {}, 3, new Map([[2, [0.3, 0.11]]]), { finished: false }),
    // the same source folder given by another path: compared with the same source-only run
    writeRun("moved", { source: "../data/duke" }, 4, new Map([[3, [0.34, 0.14]]])),
  ].map((d) => summarizeRun(d));
  const table = runsTable(runs).split("\n");
  assert.strictEqual(table.length, 10);
  const rows = table.slice(2).map((l) => l.split("|").map((c) => c.trim()).slice(1, -1));
  // source only first, then E, E+N, E+C+N; the other target sorts on its own
  assert.deepStrictEqual(rows.map((r) => r[1]), [
    "E+C+N",
    "source only",
    "E",
    "E+N",
    "E+C+N",
    "E+C+N",
    "E+C+N",
    "E+C+N",
  ]);
  const byName = new Map(rows.map((r) => [r[0], r]));
  assert.deepStrictEqual(byName.get("src")!.slice(4, 10), [
    "30.0",
    "40.0",
    "50.0",
    "12.0",
    "13.0",
    "",
  ]);
  assert.strictEqual(byName.get("ecn")![9], "+10.0 / +8.0");
  assert.strictEqual(byName.get("e")![9], "+5.0 / +1.0");
  assert.strictEqual(byName.get("moved")![9], "+4.0 / +2.0");
  assert.strictEqual(byName.get("src")![3], "0.0");
  // running: the last evaluation, its epochs said
  const running = rows.find((r) => r[0].startsWith("en "))!;
  assert.strictEqual(running[0], "en (2/4 epochs, running)");
  assert.strictEqual(running[4], "30.0");
  // against the source-only evaluation after the same epoch, not its final figures
  assert.strictEqual(running[9], "+5.0 / +5.0");
  assert.strictEqual(rows.find((r) => r[0].startsWith("late "))![9], "");
  // finished, but set up for fewer epochs than the source-only run: the same epoch too
  assert.strictEqual(byName.get("short")![9], "+5.0 / +1.0");
  // a target that is not here: passes unknown, no figures yet, no baseline
  const away = rows.find((r) => r[0].startsWith("elsewhere"))!;
  assert.deepStrictEqual([away[3], away[4], away[9]], ["", "", ""]);
  const curve = runsTable(runs, { curve: true });
  assert.match(curve, /\| 40\.0 \/ 20\.0 \(4\) +\|/);
});

Deno.test("summarizeRun: a partial last log line is skipped; a bad line elsewhere names it", () => {
  const partial = writeRun("partial", {}, 1, new Map(), { finished: false, tail: '{"kind":"st' });
  assert.strictEqual(summarizeRun(partial).steps, 5);
  const bad = writeRun("bad", {}, 1, new Map(), { finished: false });
  const log = join(bad, "log.jsonl");
  writeFileSync(
    log,
    '{"kind":"step","epoch":0,"time":"x"}\nnot json\n{"kind":"epoch","epoch":0}\n',
  );
  assert.throws(() => summarizeRun(bad), /log\.jsonl line 2: not valid JSON/);
  assert.throws(() => summarizeRun(join(tmp, "tgt")), /tgt\/config\.json: cannot read it/);
  writeFileSync(join(bad, "config.json"), "[1]");
  assert.throws(() => summarizeRun(bad), /config\.json: expected a JSON object/);
  writeFileSync(join(partial, "result.json"), '{"cmc":[0.1]}');
  assert.throws(() => summarizeRun(partial), /result\.json: expected an evaluation/);
});

Deno.test("seedGroups: repeats differ only in seed, folder, workers; statistics and gain", () => {
  const evals = (r1: number, m: number) => new Map<number, [number, number]>([[3, [r1, m]]]);
  const runs = [
    writeRun("ecn_s2", { seed: 2, out: "/x/ecn_s2", workers: 1 }, 4, evals(0.42, 0.2)),
    writeRun(
      "ecn_s1",
      { seed: 1, out: "/x/ecn_s1", workers: 2, evalEvery: 6 },
      4,
      evals(0.4, 0.16),
    ),
    // the same data folder given by another path: still a repeat
    writeRun("ecn_s3", { seed: 3, source: "../elsewhere/duke" }, 4, evals(0.44, 0.18)),
    // another setting: its own experiment
    writeRun("ecn_lr", { seed: 1, lr: 0.1 }, 4, evals(0.3, 0.1)),
    // unfinished: left out
    writeRun("ecn_s4", { seed: 4 }, 2, evals(0.9, 0.9), { finished: false }),
    // source-only repeats that differ in target-side settings they never read
    writeRun("src_s1", { seed: 1, sourceOnly: true, camstyleDir: "/c" }, 4, evals(0.3, 0.1)),
    writeRun("src_s2", { seed: 2, sourceOnly: true, lambda: 0.5 }, 4, evals(0.34, 0.12)),
  ].map((d) => summarizeRun(d));
  const groups = seedGroups(runs);
  assert.deepStrictEqual(groups.map((g) => [g.method, g.runs.map((r) => r.name), g.seeds]), [
    ["source only", ["src_s1", "src_s2"], [1, 2]],
    ["E+C+N", ["ecn_lr"], [1]], // groups of one method sort by their first run's name
    ["E+C+N", ["ecn_s1", "ecn_s2", "ecn_s3"], [1, 2, 3]],
  ]);
  const ecn = groups[2];
  assert.ok(Math.abs(ecn.rank1.mean - 0.42) < 1e-12);
  assert.ok(Math.abs(ecn.rank1.sd - 0.02) < 1e-12); // sample sd of 0.40, 0.42, 0.44
  assert.ok(Math.abs(ecn.mAP.mean - 0.18) < 1e-12);
  assert.ok(Number.isNaN(groups[1].rank1.sd));
  assert.deepStrictEqual([ecn.source, ecn.target], ["duke", "tgt"]);

  const rows = seedsTable(groups).split("\n").slice(2).map((l) =>
    l.split("|").map((c) => c.trim()).slice(1, -1)
  );
  assert.deepStrictEqual(rows[2], [
    "ecn_s1, ecn_s2, ecn_s3",
    "E+C+N",
    "duke -> tgt",
    "1, 2, 3",
    "42.0 ± 2.0",
    "52.0 ± 2.0",
    "62.0 ± 2.0",
    "18.0 ± 2.0",
    "19.0 ± 2.0",
    "+10.0 / +7.0", // against the source-only means 32.0 / 11.0
  ]);
  assert.strictEqual(rows[0][4], "32.0 ± 2.8");
  assert.strictEqual(rows[0][9], "");
  assert.deepStrictEqual([rows[1][4], rows[1][9]], ["30.0", "-2.0 / -1.0"]);
});

Deno.test("runsTable: a repeat with another seed gains over the source-only run of its seed", () => {
  const evals = (r1: number, m: number) => new Map<number, [number, number]>([[3, [r1, m]]]);
  const runs = [
    writeRun("gain_src_s1", { seed: 1, sourceOnly: true }, 4, evals(0.3, 0.1)),
    writeRun("gain_src_s2", { seed: 2, sourceOnly: true }, 4, evals(0.34, 0.12)),
    writeRun("gain_ecn_s1", { seed: 1 }, 4, evals(0.4, 0.16)),
    writeRun("gain_ecn_s2", { seed: 2 }, 4, evals(0.42, 0.2)),
    // no source-only run of seed 3: compared with the first one of the pair
    writeRun("gain_ecn_s3", { seed: 3 }, 4, evals(0.44, 0.18)),
  ].map((d) => summarizeRun(d));
  const gains = runsTable(runs).split("\n").slice(2).map((l) => {
    const cells = l.split("|").map((c) => c.trim());
    return [cells[1], cells[10]];
  });
  assert.deepStrictEqual(gains, [
    ["gain_src_s1", ""],
    ["gain_src_s2", ""],
    ["gain_ecn_s1", "+10.0 / +6.0"],
    ["gain_ecn_s2", "+8.0 / +8.0"],
    ["gain_ecn_s3", "+14.0 / +8.0"],
  ]);
});
