/**
 * k-reciprocal re-ranking (Zhong, Zheng, Cao, Li, "Re-ranking Person Re-identification with
 * k-reciprocal Encoding", CVPR 2017): the published `re_ranking(q_g_dist, q_q_dist, g_g_dist,
 * k1, k2, lambda_value)` that open-reid / ECN / person-re-ranking ship, on typed arrays.
 *
 * Faithful to the published code, including its details: the three blocks are assembled into one
 * (q+g) x (q+g) matrix, squared (`np.power(original_dist, 2)`: pass plain distances to get the
 * published behaviour on Euclidean distances), divided by each column's maximum and transposed;
 * V holds exp(-dist) weights over the k-reciprocal set expanded by the 2/3 rule (with
 * round-half-even(k1/2) for the candidates), then is averaged over the k2 nearest neighbours
 * (local query expansion); final = jaccard * (1 - lambda) + original * lambda. Arithmetic is
 * rounded to float32 where NumPy computes in float32, so results match NumPy closely.
 *
 * Memory: the inputs are q*g + q*q + g*g floats (about (q+g)^2 floats, 4 bytes each; Market-1501
 * with 3,368 + 15,913 images: 372 M floats, 1.5 GB), which the caller already holds. The
 * assembled matrix is never built: its entries are read from the blocks, and only the
 * max(k1+1, k2) nearest neighbours of every row are kept, plus the sparse V (O((q+g)·k1²)) and
 * the q*g output. Time and the caller's memory both grow as (q+g)^2, so problems with
 * (q+g)^2 above `maxElements` (default 4e8, i.e. Market-1501 and DukeMTMC-reID fit, MSMT17
 * does not) are refused.
 *
 * Ties: neighbours with equal (float32) distance are ordered by index, as a stable sort would.
 *
 * @module
 */

/** Options for {@linkcode reRank}; defaults are the paper's. */
export interface ReRankOptions {
  /** k-reciprocal neighbourhood size. Default 20. */
  k1?: number;
  /** Local query expansion size (1 = none). Default 6. */
  k2?: number;
  /** Weight of the original distance in the final one. Default 0.3. */
  lambda?: number;
  /** Largest accepted (q+g)^2; larger problems are refused. Default 4e8. */
  maxElements?: number;
}

/** Default refusal threshold for (q+g)^2 in {@linkcode reRank}. */
export const DEFAULT_RERANK_MAX_ELEMENTS = 4e8;

const f32 = Math.fround;

// NumPy's np.around: round half to even.
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function checkBlock(a: Float32Array, name: string, rows: number, cols: number): void {
  if (!(a instanceof Float32Array)) throw new TypeError(`${name} must be a Float32Array`);
  if (a.length !== rows * cols) {
    throw new RangeError(
      `${name} has length ${a.length}, expected ${rows}x${cols} = ${rows * cols}`,
    );
  }
}

/**
 * Re-ranks a query-gallery distance matrix. `qg`: numQuery x numGallery, `qq`: numQuery x
 * numQuery, `gg`: numGallery x numGallery, all row-major, lower = more similar. Returns the
 * re-ranked numQuery x numGallery distances.
 */
export function reRank(
  qg: Float32Array,
  qq: Float32Array,
  gg: Float32Array,
  numQuery: number,
  numGallery: number,
  opts: ReRankOptions = {},
): Float32Array {
  const k1 = opts.k1 ?? 20, k2 = opts.k2 ?? 6, lambda = opts.lambda ?? 0.3;
  const maxElements = opts.maxElements ?? DEFAULT_RERANK_MAX_ELEMENTS;
  for (const [name, v] of [["numQuery", numQuery], ["numGallery", numGallery]] as const) {
    if (!Number.isInteger(v) || v < 1) {
      throw new RangeError(`${name} must be a positive integer, got ${v}`);
    }
  }
  if (!Number.isInteger(k1) || k1 < 1) {
    throw new RangeError(`k1 must be an integer >= 1, got ${k1}`);
  }
  if (!Number.isInteger(k2) || k2 < 1) {
    throw new RangeError(`k2 must be an integer >= 1, got ${k2}`);
  }
  if (!(lambda >= 0 && lambda <= 1)) {
    throw new RangeError(`lambda must be in [0, 1], got ${lambda}`);
  }
  const q = numQuery, g = numGallery, n = q + g;
  if (n * n > maxElements) {
    throw new RangeError(
      `re-ranking ${q} queries x ${g} gallery needs (q+g)^2 = ${n * n} distances ` +
        `(${(n * n * 4 / 2 ** 30).toFixed(1)} GiB of float32 inputs), above maxElements = ` +
        `${maxElements}; raise maxElements if the machine has the memory and time`,
    );
  }
  checkBlock(qg, "qg (query-gallery distances)", q, g);
  checkBlock(qq, "qq (query-query distances)", q, q);
  checkBlock(gg, "gg (gallery-gallery distances)", g, g);

  // Column maxima of the squared assembled matrix D = [[qq, qg], [qg^T, gg]].
  const colMax = new Float32Array(n);
  const bump = (col: number, x: number, name: string, at: number) => {
    if (!Number.isFinite(x)) {
      throw new RangeError(`${name}[${at}] is ${x}: distances must be finite`);
    }
    const s = f32(x * x);
    if (s > colMax[col]) colMax[col] = s;
  };
  for (let j = 0; j < q; j++) for (let i = 0; i < q; i++) bump(i, qq[j * q + i], "qq", j * q + i);
  for (let r = 0; r < q; r++) {
    for (let c = 0; c < g; c++) {
      const x = qg[r * g + c];
      bump(q + c, x, "qg", r * g + c);
      bump(r, x, "qg", r * g + c);
    }
  }
  for (let a = 0; a < g; a++) {
    for (let b = 0; b < g; b++) bump(q + b, gg[a * g + b], "gg", a * g + b);
  }
  for (let i = 0; i < n; i++) {
    if (colMax[i] === 0) {
      throw new RangeError(`column ${i} of the assembled distance matrix is all zero`);
    }
  }
  // original[i][j] = D[j][i]^2 / colMax[i] (normalized by column, then transposed), in float32.
  const dAt = (j: number, i: number): number =>
    j < q
      ? (i < q ? qq[j * q + i] : qg[j * g + i - q])
      : (i < q ? qg[i * g + j - q] : gg[(j - q) * g + i - q]);
  const original = (i: number, j: number): number => {
    const x = dAt(j, i);
    return f32(f32(x * x) / colMax[i]);
  };

  // The K nearest neighbours of every row of `original` (initial_rank[:, :K]), sorted.
  const K = Math.min(Math.max(k1 + 1, k2), n);
  const topV = new Float32Array(n * K).fill(Infinity);
  const topI = new Int32Array(n * K).fill(-1);
  const worstSq = new Float32Array(n).fill(Infinity);
  // Neighbours of each row arrive in increasing index order (see the loops below), so a value
  // equal to the current worst never enters: ties keep the lower index, as a stable sort.
  const offer = (i: number, j: number, x: number) => {
    const s = f32(x * x);
    if (s >= worstSq[i] && topI[i * K + K - 1] >= 0) return;
    const v = f32(s / colMax[i]);
    const base = i * K;
    let p = K - 1;
    if (topI[base + p] >= 0 && v >= topV[base + p]) return;
    while (p > 0 && (topI[base + p - 1] < 0 || topV[base + p - 1] > v)) {
      topV[base + p] = topV[base + p - 1];
      topI[base + p] = topI[base + p - 1];
      p--;
    }
    topV[base + p] = v;
    topI[base + p] = j;
    if (topI[base + K - 1] >= 0) {
      const w = dAt(topI[base + K - 1], i);
      worstSq[i] = f32(w * w);
    }
  };
  // Row i of `original` is column i of D; feed each D entry to the row of its column.
  for (let j = 0; j < q; j++) for (let i = 0; i < q; i++) offer(i, j, qq[j * q + i]);
  for (let r = 0; r < q; r++) {
    for (let c = 0; c < g; c++) {
      const x = qg[r * g + c];
      offer(q + c, r, x); // D[r][q+c]
      offer(r, q + c, x); // D[q+c][r] = qg^T
    }
  }
  for (let a = 0; a < g; a++) for (let b = 0; b < g; b++) offer(q + b, q + a, gg[a * g + b]);

  const inTop = (row: number, len: number, x: number): boolean => {
    const base = row * K;
    for (let t = 0; t < len; t++) if (topI[base + t] === x) return true;
    return false;
  };
  const kRecip = (i: number, len: number): number[] => {
    const out: number[] = [];
    for (let t = 0; t < len; t++) {
      const f = topI[i * K + t];
      if (inTop(f, len, i)) out.push(f);
    }
    return out;
  };

  // V: sparse rows of exp(-original) weights over the expanded k-reciprocal set.
  const len1 = Math.min(k1 + 1, n);
  const len2 = Math.min(roundHalfEven(k1 / 2) + 1, n);
  let vCols: Int32Array[] = new Array(n);
  let vVals: Float32Array[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const recip = kRecip(i, len1);
    const recipSet = new Set(recip);
    const expansion = new Set(recip);
    for (const cand of recip) {
      const candRecip = kRecip(cand, len2);
      let common = 0;
      for (const x of candRecip) if (recipSet.has(x)) common++;
      if (common > 2 / 3 * candRecip.length) { for (const x of candRecip) expansion.add(x); }
    }
    const cols = Int32Array.from(expansion).sort();
    const vals = new Float32Array(cols.length);
    let sum = 0;
    for (let t = 0; t < cols.length; t++) {
      vals[t] = f32(Math.exp(-original(i, cols[t])));
      sum = f32(sum + vals[t]);
    }
    for (let t = 0; t < cols.length; t++) vals[t] = f32(vals[t] / sum);
    vCols[i] = cols;
    vVals[i] = vals;
  }

  // Local query expansion: V[i] = mean of V over the k2 nearest rows (float32 sums, as NumPy).
  if (k2 !== 1) {
    const m = Math.min(k2, n);
    const acc = new Float32Array(n);
    const seen = new Uint8Array(n);
    const qeCols: Int32Array[] = new Array(n);
    const qeVals: Float32Array[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const touched: number[] = [];
      for (let t = 0; t < m; t++) {
        const r = topI[i * K + t];
        const cols = vCols[r], vals = vVals[r];
        for (let u = 0; u < cols.length; u++) {
          const c = cols[u];
          if (!seen[c]) {
            seen[c] = 1;
            touched.push(c);
          }
          acc[c] = f32(acc[c] + vals[u]);
        }
      }
      const cols = Int32Array.from(touched).sort();
      const vals = new Float32Array(cols.length);
      for (let t = 0; t < cols.length; t++) {
        vals[t] = f32(acc[cols[t]] / m);
        acc[cols[t]] = 0;
        seen[cols[t]] = 0;
      }
      qeCols[i] = cols;
      qeVals[i] = vals;
    }
    vCols = qeCols;
    vVals = qeVals;
  }

  // Inverted index: for each column, the rows where V is non-zero (increasing row order).
  const colCount = new Int32Array(n + 1);
  for (let i = 0; i < n; i++) for (const c of vCols[i]) colCount[c + 1]++;
  for (let c = 0; c < n; c++) colCount[c + 1] += colCount[c];
  const invRow = new Int32Array(colCount[n]);
  const invVal = new Float32Array(colCount[n]);
  const fill = colCount.slice(0, n);
  for (let i = 0; i < n; i++) {
    const cols = vCols[i], vals = vVals[i];
    for (let t = 0; t < cols.length; t++) {
      const p = fill[cols[t]]++;
      invRow[p] = i;
      invVal[p] = vals[t];
    }
  }

  // Jaccard distance of each query to every gallery item, blended with the original distance.
  const out = new Float32Array(q * g);
  const tempMin = new Float32Array(n);
  const wJac = f32(1 - lambda), wOrig = f32(lambda);
  for (let i = 0; i < q; i++) {
    const cols = vCols[i], vals = vVals[i];
    for (let t = 0; t < cols.length; t++) {
      const c = cols[t], vi = vals[t];
      for (let p = colCount[c]; p < colCount[c + 1]; p++) {
        const r = invRow[p];
        tempMin[r] = f32(tempMin[r] + Math.min(vi, invVal[p]));
      }
    }
    for (let j = 0; j < g; j++) {
      const t = tempMin[q + j];
      const jac = f32(1 - f32(t / f32(2 - t)));
      const x = qg[i * g + j];
      const orig = f32(f32(x * x) / colMax[i]);
      out[i * g + j] = f32(f32(jac * wJac) + f32(orig * wOrig));
    }
    tempMin.fill(0);
  }
  return out;
}
