import { mulberry32 as rng } from "../src/util/random.ts";
import { reRank } from "../src/eval/rerank.ts";
import { oracleTest, runOracleJson } from "./oracle/oracle.ts";

function ok(cond: boolean, msg: string): void {
  if (!cond) throw new Error(msg);
}
function throws(fn: () => unknown, re: RegExp): void {
  try {
    fn();
  } catch (e) {
    const m = e instanceof Error ? e.message : String(e);
    if (!re.test(m)) throw new Error(`error message ${JSON.stringify(m)} does not match ${re}`);
    return;
  }
  throw new Error(`expected an error matching ${re}`);
}

/** Euclidean distances between random clustered features: ties-free in practice. */
function blocks(seed: number, q: number, g: number, dim = 8, clusters = 6) {
  const r = rng(seed);
  const centers = Array.from({ length: clusters }, () => Array.from({ length: dim }, () => r()));
  const feat = (): number[] => {
    const c = centers[Math.floor(r() * clusters)];
    return c.map((x) => x + 0.3 * (r() - 0.5));
  };
  const qf = Array.from({ length: q }, feat), gf = Array.from({ length: g }, feat);
  const d = (a: number[][], b: number[][]) => {
    const out = new Float32Array(a.length * b.length);
    for (let i = 0; i < a.length; i++) {
      for (let j = 0; j < b.length; j++) {
        let s = 0;
        for (let k = 0; k < dim; k++) s += (a[i][k] - b[j][k]) ** 2;
        out[i * b.length + j] = Math.sqrt(s);
      }
    }
    return out;
  };
  return { qg: d(qf, gf), qq: d(qf, qf), gg: d(gf, gf) };
}

const CASES: [number, number, number, number, number, number][] = [
  // seed, q, g, k1, k2, lambda
  [1, 10, 40, 20, 6, 0.3], // the paper's parameters
  [2, 10, 40, 5, 3, 0.5], // k1/2 = 2.5 rounds half to even (2)
  [3, 12, 30, 7, 1, 0.3], // no query expansion
  [4, 4, 12, 20, 6, 0.3], // k1+1 > q+g: neighbour lists are the whole set
  [5, 25, 60, 20, 6, 0.3],
];

for (const [seed, q, g, k1, k2, lambda] of CASES) {
  oracleTest(
    `rerank: parity with NumPy (${q}x${g}, k1=${k1}, k2=${k2}, lambda=${lambda})`,
    async () => {
      const b = blocks(seed, q, g);
      const got = reRank(b.qg, b.qq, b.gg, q, g, { k1, k2, lambda });
      const want = await runOracleJson<{ dist: number[] }>("rerank_reference.py", {
        qg: Array.from(b.qg),
        qq: Array.from(b.qq),
        gg: Array.from(b.gg),
        q,
        g,
        k1,
        k2,
        lambda,
      });
      ok(got.length === want.dist.length, `length ${got.length} vs ${want.dist.length}`);
      let worst = 0, overlapping = 0;
      for (let i = 0; i < got.length; i++) {
        worst = Math.max(worst, Math.abs(got[i] - want.dist[i]));
        // Jaccard distance < 1 (shared k-reciprocal neighbours) pulls the blend below 1-lambda.
        if (got[i] < (1 - lambda) * 0.95) overlapping++;
      }
      ok(worst <= 1e-5, `max |diff| ${worst} > 1e-5`);
      // The Jaccard part must matter, else the parity above would say little.
      ok(overlapping > 0, "no query shares neighbours with any gallery item");
    },
  );
}

Deno.test("rerank: refuses problems above maxElements, with the size", () => {
  const b = blocks(9, 3, 5);
  throws(
    () => reRank(b.qg, b.qq, b.gg, 3, 5, { maxElements: 63 }),
    /\(q\+g\)\^2 = 64 distances .* above maxElements = 63/,
  );
  ok(reRank(b.qg, b.qq, b.gg, 3, 5, { maxElements: 64 }).length === 15, "64 is accepted");
});

Deno.test("rerank: errors name the block and the expected shape", () => {
  const b = blocks(9, 3, 5);
  throws(
    () => reRank(b.qg.subarray(1), b.qq, b.gg, 3, 5),
    /qg .* has length 14, expected 3x5 = 15/,
  );
  throws(() => reRank(b.qg, b.qq, b.qq, 3, 5), /gg .* has length 9, expected 5x5 = 25/);
  throws(() => reRank(b.qg, b.qq, b.gg, 0, 5), /numQuery must be a positive integer/);
  throws(() => reRank(b.qg, b.qq, b.gg, 3, 5, { k1: 0 }), /k1 must be an integer >= 1/);
  throws(() => reRank(b.qg, b.qq, b.gg, 3, 5, { lambda: 2 }), /lambda must be in \[0, 1\]/);
  const bad = b.gg.slice();
  bad[7] = NaN;
  throws(() => reRank(b.qg, b.qq, bad, 3, 5), /gg\[7\] is NaN/);
});
