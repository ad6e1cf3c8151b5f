// Distances on libtorch in blocks, feature files, evaluation from features and the reports.
import "./native.ts";
import assert from "node:assert";
import { join } from "node:path";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { distanceBlocks, distanceMatrix } from "../src/eval/distance.ts";
import { evaluateFeatures } from "../src/eval/evaluate.ts";
import { type FeatureSet, loadFeatures, saveFeatures } from "../src/eval/features.ts";
import { evaluateRanking } from "../src/eval/metrics.ts";
import { evaluationTable, rankingHtml } from "../src/eval/report.ts";
import { writeSafetensors } from "../src/nn/safetensors.ts";
import { prng } from "./op_harness.ts";

const rnd = prng(11);

function randomSet(n: number, dim: number, ids: number, cams: number): FeatureSet {
  const f = new Float32Array(n * dim);
  for (let i = 0; i < f.length; i++) f[i] = rnd() * 2 - 1;
  return {
    features: f,
    dim,
    names: Array.from({ length: n }, (_, i) => `img${i}.jpg`),
    ids: Int32Array.from({ length: n }, () => Math.floor(rnd() * ids)),
    cams: Int32Array.from({ length: n }, () => Math.floor(rnd() * cams)),
  };
}

function naive(q: FeatureSet, g: FeatureSet, metric: "euclidean" | "cosine"): Float64Array {
  const nq = q.ids.length, ng = g.ids.length, d = q.dim;
  const out = new Float64Array(nq * ng);
  for (let i = 0; i < nq; i++) {
    for (let j = 0; j < ng; j++) {
      let dot = 0, a = 0, b = 0, sq = 0;
      for (let k = 0; k < d; k++) {
        const x = q.features[i * d + k], y = g.features[j * d + k];
        dot += x * y;
        a += x * x;
        b += y * y;
        sq += (x - y) ** 2;
      }
      out[i * ng + j] = metric === "euclidean" ? sq : 1 - dot / Math.sqrt(a * b);
    }
  }
  return out;
}

Deno.test("block distances equal a direct computation (squared Euclidean and cosine)", () => {
  const q = randomSet(23, 7, 5, 3), g = randomSet(31, 7, 5, 3);
  for (const metric of ["euclidean", "cosine"] as const) {
    const want = naive(q, g, metric);
    const got = new Float32Array(want.length);
    let calls = 0;
    distanceBlocks(q.features, g.features, 7, (start, rows, d) => {
      calls++;
      assert.strictEqual(d.length, rows * 31);
      got.set(d, start * 31);
    }, { metric, chunk: 5 });
    assert.strictEqual(calls, 5);
    for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i] - want[i]) < 1e-4, metric);
  }
  assert.throws(
    () => distanceMatrix(new Float32Array(6), new Float32Array(8), 4),
    /not a multiple/,
  );
});

Deno.test("evaluation in chunks equals the metrics on the whole matrix; top matches are kept", () => {
  const q = randomSet(40, 8, 6, 3), g = randomSet(90, 8, 6, 3);
  const full = distanceMatrix(q.features, g.features, 8);
  const want = evaluateRanking(full, 40, 90, q, g);
  const got = evaluateFeatures(q, g, { chunk: 7, keepTop: 5 });
  assert.deepStrictEqual(got.cmc, want.cmc);
  assert.strictEqual(got.mAP, want.mAP);
  assert.strictEqual(got.mAPNonInterpolated, want.mAPNonInterpolated);
  assert.strictEqual(got.mINP, want.mINP);
  for (let i = 0; i < 40; i++) {
    const row = Array.from(full.subarray(i * 90, (i + 1) * 90));
    const best = row.map((d, j) => [d, j]).sort((a, b) => a[0] - b[0]).slice(0, 5).map((e) => e[1]);
    assert.deepStrictEqual(Array.from(got.top!.subarray(i * 5, i * 5 + 5)), best);
  }
  const rr = evaluateFeatures(q, g, { rerank: true });
  assert.ok(rr.validQueries === want.validQueries && rr.mAP > 0);
});

Deno.test("bad inputs: different dimensions, empty sets", () => {
  const q = randomSet(4, 8, 2, 2), g = randomSet(5, 6, 2, 2);
  assert.throws(
    () => evaluateFeatures(q, g),
    /query features are 8-d but gallery features are 6-d/,
  );
  const empty = { ...randomSet(0, 8, 2, 2), features: new Float32Array(0) };
  assert.throws(() => evaluateFeatures(empty, randomSet(5, 8, 2, 2)), /query set is empty/);
  assert.throws(() => evaluateFeatures(q, { ...empty }), /gallery is empty/);
});

Deno.test("feature files round-trip; a file without labels is refused", async () => {
  const dir = mkdtempSync(join(tmpdir(), "ecn-feat-"));
  try {
    const q = randomSet(6, 4, 3, 2), g = randomSet(9, 4, 3, 2);
    const path = join(dir, "f.safetensors");
    await saveFeatures(path, { query: q, gallery: g }, { note: "test" });
    const back = await loadFeatures(path);
    assert.deepStrictEqual(back.query, q);
    assert.deepStrictEqual(back.gallery, g);
    const bad = join(dir, "bad.safetensors");
    const raw = (a: Float32Array, shape: number[]) => ({
      dtype: "float32" as const,
      shape,
      data: new Uint8Array(a.buffer),
    });
    await writeSafetensors(
      bad,
      new Map([
        ["query.features", raw(q.features, [6, 4])],
        ["gallery.features", raw(g.features, [9, 4])],
      ]),
    );
    await assert.rejects(
      loadFeatures(bad),
      /'query.ids' is missing: a features file needs identities/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

Deno.test("reports: the table names both AP definitions; the page marks hits and misses", () => {
  const q = randomSet(5, 4, 2, 2), g = randomSet(12, 4, 2, 2);
  const e = evaluateFeatures(q, g, { keepTop: 12 });
  const table = evaluationTable(e);
  assert.match(table, /mAP \(reference: trapezoid AP/);
  assert.match(table, /mAP \(non-interpolated/);
  const html = rankingHtml(e, q, g, { samples: 5 });
  assert.match(html, /<td class="query">/);
  assert.ok(/class="hit"/.test(html) || /class="miss"/.test(html));
  assert.throws(() => rankingHtml({ ...e, top: undefined }, q, g), /kept no top matches/);
});
