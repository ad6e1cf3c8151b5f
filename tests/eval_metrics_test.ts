import assert from "node:assert";
import { mulberry32 as rng } from "../src/util/random.ts";
import { evaluateRanking, type IdsCams, RankingAccumulator } from "../src/eval/metrics.ts";
import { oracleTest, runOracleJson } from "./oracle/oracle.ts";

interface Problem {
  nq: number;
  ng: number;
  dist: Float32Array;
  query: IdsCams;
  gallery: IdsCams;
}

/**
 * Random Market-like problem: ids 1..nIds plus distractors (pid 0) and junk (-1) in the gallery,
 * and some query ids absent from the gallery. Positives lean closer so CMC is not trivial.
 * `ties`: quantize distances so that many are equal; otherwise every row is ties-free (its
 * values are a permutation of distinct float32 steps).
 */
function makeProblem(
  seed: number,
  nq: number,
  ng: number,
  nIds: number,
  nCams: number,
  ties = false,
): Problem {
  const r = rng(seed);
  const gIds = new Int32Array(ng), gCams = new Int32Array(ng);
  for (let g = 0; g < ng; g++) {
    const u = r();
    gIds[g] = u < 0.1 ? 0 : u < 0.15 ? -1 : 1 + Math.floor(r() * nIds);
    gCams[g] = Math.floor(r() * nCams);
  }
  const qIds = new Int32Array(nq), qCams = new Int32Array(nq);
  for (let q = 0; q < nq; q++) {
    // ~10% of queries use an id that has no gallery image: skipped.
    qIds[q] = r() < 0.1 ? nIds + 1 + q : 1 + Math.floor(r() * nIds);
    qCams[q] = Math.floor(r() * nCams);
  }
  const dist = new Float32Array(nq * ng);
  const raw = new Float64Array(ng);
  const order = new Int32Array(ng);
  for (let q = 0; q < nq; q++) {
    for (let g = 0; g < ng; g++) raw[g] = r() - (gIds[g] === qIds[q] ? 0.35 : 0);
    if (ties) {
      for (let g = 0; g < ng; g++) dist[q * ng + g] = Math.round(raw[g] * 8) / 8 + 1;
      continue;
    }
    for (let g = 0; g < ng; g++) order[g] = g;
    order.sort((a, b) => raw[a] - raw[b]);
    for (let k = 0; k < ng; k++) dist[q * ng + order[k]] = (k + 1) / (ng + 1);
  }
  return { nq, ng, dist, query: { ids: qIds, cams: qCams }, gallery: { ids: gIds, cams: gCams } };
}

interface OracleOut {
  cmc: number[];
  mAP: number;
  mAPNonInterpolated: number;
  mINP: number;
  valid: number;
  skipped: number;
  perQuery: {
    firstMatchRank: number[];
    ap: (number | null)[];
    apNonInterpolated: (number | null)[];
    inp: (number | null)[];
  };
}

function oracle(p: Problem, ranks: number[]): Promise<OracleOut> {
  return runOracleJson<OracleOut>("eval_reference.py", {
    dist: Array.from(p.dist),
    nq: p.nq,
    ng: p.ng,
    qids: Array.from(p.query.ids),
    qcams: Array.from(p.query.cams),
    gids: Array.from(p.gallery.ids),
    gcams: Array.from(p.gallery.cams),
    ranks,
    junk: -1,
  });
}

function close(a: number, b: number, tol: number, what: string): void {
  assert.ok(
    Math.abs(a - b) <= tol,
    `${what}: got ${a}, NumPy ${b} (|diff| ${Math.abs(a - b)} > ${tol})`,
  );
}

function closeArr(a: ArrayLike<number>, b: (number | null)[], tol: number, what: string): void {
  assert.deepStrictEqual(a.length, b.length, `${what}: length`);
  for (let i = 0; i < a.length; i++) {
    const want = b[i];
    if (want === null) assert.ok(Number.isNaN(a[i]), `${what}[${i}]: expected NaN (skipped query)`);
    else close(a[i], want, tol, `${what}[${i}]`);
  }
}

const SIZES: [number, number, number, number, number][] = [
  // seed, queries, gallery, ids, cams
  [1, 7, 50, 5, 2],
  [2, 40, 300, 25, 3],
  [3, 120, 900, 60, 6],
];

for (const [seed, nq, ng, nIds, nCams] of SIZES) {
  oracleTest(
    `metrics: parity with NumPy reference (${nq}x${ng}, ${nIds} ids, ${nCams} cams)`,
    async () => {
      const p = makeProblem(seed, nq, ng, nIds, nCams);
      const ranks = [1, 2, 5, 10, 20];
      const got = evaluateRanking(p.dist, nq, ng, p.query, p.gallery, {
        cmcRanks: ranks,
        perQuery: true,
      });
      const want = await oracle(p, ranks);
      assert.ok(got.skippedQueries > 0, "the problem should have skipped queries");
      assert.deepStrictEqual([got.validQueries, got.skippedQueries], [want.valid, want.skipped]);
      closeArr(got.cmc, want.cmc, 1e-6, "cmc");
      close(got.mAP, want.mAP, 1e-6, "mAP (reference)");
      close(got.mAPNonInterpolated, want.mAPNonInterpolated, 1e-6, "mAPNonInterpolated");
      close(got.mINP, want.mINP, 1e-6, "mINP");
      const pq = got.perQuery!;
      assert.deepStrictEqual(Array.from(pq.firstMatchRank), want.perQuery.firstMatchRank);
      closeArr(pq.ap, want.perQuery.ap, 1e-9, "per-query AP");
      closeArr(
        pq.apNonInterpolated,
        want.perQuery.apNonInterpolated,
        1e-9,
        "per-query AP (non-interp.)",
      );
      closeArr(pq.inp, want.perQuery.inp, 1e-9, "per-query INP");
      // The two AP definitions really differ (else the test could not tell them apart).
      assert.ok(
        Math.abs(got.mAP - got.mAPNonInterpolated) > 1e-4,
        "the two mAP definitions coincide",
      );
    },
  );
}

oracleTest("metrics: on ties, CMC / non-interpolated AP / INP follow a stable sort", async () => {
  const p = makeProblem(7, 60, 400, 30, 4, true);
  const got = evaluateRanking(p.dist, p.nq, p.ng, p.query, p.gallery, { perQuery: true });
  const want = await oracle(p, [1, 5, 10, 20]);
  closeArr(got.cmc, want.cmc, 1e-6, "cmc");
  close(got.mAPNonInterpolated, want.mAPNonInterpolated, 1e-6, "mAPNonInterpolated");
  close(got.mINP, want.mINP, 1e-6, "mINP");
  assert.deepStrictEqual(Array.from(got.perQuery!.firstMatchRank), want.perQuery.firstMatchRank);
});

Deno.test("metrics: hand-checked single query", () => {
  // Valid order by distance: g1(+) g0(-) g3(+) g4(-); g2 is same id + same camera (left out).
  const dist = new Float32Array([0.2, 0.1, 0.05, 0.3, 0.4]);
  const query = { ids: Int32Array.of(5), cams: Int32Array.of(0) };
  const gallery = { ids: Int32Array.of(1, 5, 5, 5, 2), cams: Int32Array.of(1, 1, 0, 2, 1) };
  const r = evaluateRanking(dist, 1, 5, query, gallery, { cmcRanks: [1, 2, 3] });
  assert.deepStrictEqual(r.cmc, [1, 1, 1]);
  close(r.mAPNonInterpolated, (1 + 2 / 3) / 2, 1e-12, "AP non-interp.");
  // Trapezoids: (0,1)->(0.5,1): 0.5; (0.5,0.5)->(1,2/3): 0.5*(0.5+2/3)/2.
  close(r.mAP, 0.5 + 0.5 * (0.5 + 2 / 3) / 2, 1e-12, "AP reference");
  close(r.mINP, 2 / 3, 1e-12, "INP");
});

Deno.test("metrics: chunked accumulation equals the full evaluation", () => {
  const p = makeProblem(11, 97, 500, 40, 5);
  const full = evaluateRanking(p.dist, p.nq, p.ng, p.query, p.gallery, { perQuery: true });
  const acc = new RankingAccumulator(p.gallery, { perQuery: true });
  for (let start = 0, size = 1; start < p.nq; start += size, size = size * 2 + 1) {
    const end = Math.min(p.nq, start + size);
    acc.addBlock(p.dist.subarray(start * p.ng, end * p.ng), {
      ids: p.query.ids.subarray(start, end),
      cams: p.query.cams.subarray(start, end),
    });
  }
  assert.deepStrictEqual(acc.result(), full);
});

Deno.test("metrics: junkId null keeps pid -1 as an ordinary id", () => {
  const dist = new Float32Array([0.1, 0.2]);
  const query = { ids: Int32Array.of(-1), cams: Int32Array.of(0) };
  const gallery = { ids: Int32Array.of(3, -1), cams: Int32Array.of(1, 1) };
  assert.throws(() => evaluateRanking(dist, 1, 2, query, gallery), /no valid query/);
  const r = evaluateRanking(dist, 1, 2, query, gallery, { junkId: null });
  assert.deepStrictEqual(r.cmc, [0, 1, 1, 1]);
});

Deno.test("metrics: errors name the argument and the expected size", () => {
  const q = { ids: Int32Array.of(1, 2), cams: Int32Array.of(0, 0) };
  const g = { ids: Int32Array.of(1, 2, 3), cams: Int32Array.of(1, 1, 1) };
  const d = new Float32Array(6);
  assert.throws(
    () => evaluateRanking(new Float32Array(5), 2, 3, q, g),
    /dist has length 5, expected .* = 6/,
  );
  assert.throws(
    () => evaluateRanking(d, 2, 3, { ids: q.ids, cams: Int32Array.of(0) }, g),
    /query\.cams has length 1, expected 2/,
  );
  assert.throws(() => evaluateRanking(d, 3, 2, q, g), /query\.ids has length 2, expected 3/);
  assert.throws(
    () =>
      evaluateRanking(new Float32Array(0), 0, 3, {
        ids: new Int32Array(0),
        cams: new Int32Array(0),
      }, g),
    /query set is empty/,
  );
  assert.throws(
    () =>
      evaluateRanking(new Float32Array(0), 2, 0, q, {
        ids: new Int32Array(0),
        cams: new Int32Array(0),
      }),
    /gallery is empty/,
  );
  assert.throws(
    () => evaluateRanking(d, 2, 3, { ids: Int32Array.of(7, 8), cams: q.cams }, g),
    /no valid query: none of the 2 queries/,
  );
  assert.throws(
    () => evaluateRanking(d, 2, 3, q, g, { cmcRanks: [0] }),
    /positive integers, got 0/,
  );
  assert.throws(
    () => evaluateRanking(Float32Array.of(NaN, 0, 0, 0, 0, 0), 2, 3, q, g),
    /dist\[0, 0\] is NaN/,
  );
  assert.throws(() => new RankingAccumulator(g).result(), /no query was added/);
});
