/**
 * Re-ID ranking metrics under the Market-1501 protocol: CMC, mAP (two definitions) and mINP.
 *
 * Lower distance = more similar. For each query, gallery items with the same id AND the same
 * camera are left out, and so are gallery items whose id is the junk id (default -1, as in the
 * official Market-1501 code; the ECN loader drops them anyway). A query with no valid match is
 * skipped and counted in `skippedQueries`.
 *
 * No row is sorted: every figure follows from the ranks of the positives among the valid gallery
 * items. Per query the few positives are sorted, and each valid negative is binned by how many
 * positives it beats (binary search); prefix sums of the bins give each positive's rank.
 *
 * Ties: the order is the one a *stable* sort of the valid row would give, i.e. equal distances
 * are ordered by gallery index. The ECN reference uses an unstable argsort plus scikit-learn's
 * curve, which merges tied scores into one threshold; on tied distances `mAP` here is the
 * trapezoid area over the per-item curve in stable order, so it can differ from the reference.
 * On ties-free distances every figure equals the reference.
 *
 * @module
 */

/** Identities and cameras of a set of images (query or gallery), one entry per image. */
export interface IdsCams {
  /** Person identity per image (0 = distractor, kept; the junk id is left out of the gallery). */
  ids: Int32Array;
  /** Camera per image (any integer coding; only equality matters). */
  cams: Int32Array;
}

/** Options for {@linkcode evaluateRanking} and {@linkcode RankingAccumulator}. */
export interface RankingOptions {
  /** CMC ranks to report (1-based, positive integers). Default `[1, 5, 10, 20]`. */
  cmcRanks?: number[];
  /** Gallery id that is always left out (junk). Default `-1`; `null` keeps every id. */
  junkId?: number | null;
  /** Also return per-query figures (`perQuery`). Default false. */
  perQuery?: boolean;
}

/** Per-query figures; skipped queries have rank 0 and NaN for the others. */
export interface PerQueryFigures {
  /** Rank (1-based) of the first correct match among the valid gallery items. */
  firstMatchRank: Int32Array;
  /** AP, reference definition (trapezoid area under scikit-learn's PR curve). */
  ap: Float64Array;
  /** AP, non-interpolated definition (mean precision at each correct match). */
  apNonInterpolated: Float64Array;
  /** Inverse negative penalty: positives / rank of the hardest positive. */
  inp: Float64Array;
}

/** The result of a ranking evaluation. All figures are fractions in [0, 1], not percents. */
export interface RankingResult {
  /** The CMC ranks, as given in the options. */
  cmcRanks: number[];
  /** CMC at `cmcRanks[i]`: fraction of valid queries whose first correct match is at or above it. */
  cmc: number[];
  /**
   * mAP, "reference" definition (ECN / open-reid): per query the area under scikit-learn's
   * precision_recall_curve by the trapezoid rule (`auc(recall, precision)`).
   */
  mAP: number;
  /** mAP, non-interpolated definition (torchreid / fast-reid): mean precision at each hit. */
  mAPNonInterpolated: number;
  /** Mean inverse negative penalty (Ye et al.): mean of positives / rank of hardest positive. */
  mINP: number;
  /** Queries with at least one valid match (the denominator of every mean). */
  validQueries: number;
  /** Queries without a valid match, left out of every figure. */
  skippedQueries: number;
  /** Per-query figures, when `perQuery` was asked for. */
  perQuery?: PerQueryFigures;
}

const DEFAULT_CMC_RANKS: readonly number[] = [1, 5, 10, 20];

function checkIdsCams(set: IdsCams, name: string, expected: number | undefined): number {
  if (!(set.ids instanceof Int32Array) || !(set.cams instanceof Int32Array)) {
    throw new TypeError(`${name}.ids and ${name}.cams must be Int32Array`);
  }
  if (set.ids.length !== set.cams.length) {
    throw new RangeError(
      `${name}.cams has length ${set.cams.length}, expected ${set.ids.length} ` +
        `(the length of ${name}.ids)`,
    );
  }
  if (expected !== undefined && set.ids.length !== expected) {
    throw new RangeError(`${name}.ids has length ${set.ids.length}, expected ${expected}`);
  }
  return set.ids.length;
}

/**
 * Accumulates ranking figures over blocks of query rows, so that a large problem (MSMT17:
 * 11,659 x 82,161) can be evaluated from distance chunks without holding the whole matrix.
 *
 * ```ts
 * const acc = new RankingAccumulator(gallery);
 * for (const [dist, queryBlock] of chunks) acc.addBlock(dist, queryBlock);
 * const result = acc.result();
 * ```
 */
export class RankingAccumulator {
  /** Number of gallery items (the row length of every block). */
  readonly numGallery: number;
  readonly #ranks: number[];
  readonly #junkId: number | null;
  readonly #gallery: IdsCams;
  // Gallery indices grouped by id: a query's positives and same-camera exclusions come from here.
  readonly #byId: Map<number, Int32Array>;
  // 1 = never a candidate (junk); per query the query's id group is set to 1 and reset after.
  readonly #mask: Uint8Array;
  #hits: Float64Array;
  #sumAp = 0;
  #sumApNi = 0;
  #sumInp = 0;
  #valid = 0;
  #skipped = 0;
  #perQuery: { first: number[]; ap: number[]; apNi: number[]; inp: number[] } | null;
  // Scratch buffers for the positives of one query, grown on demand.
  #posD = new Float64Array(64);
  #posG = new Int32Array(64);
  #bins = new Int32Array(65);

  /** `gallery`: ids and cams of the gallery (columns of every distance block). */
  constructor(gallery: IdsCams, opts: RankingOptions = {}) {
    const n = checkIdsCams(gallery, "gallery", undefined);
    if (n === 0) throw new RangeError("gallery is empty: need at least one gallery image");
    const ranks = opts.cmcRanks ?? [...DEFAULT_CMC_RANKS];
    if (ranks.length === 0) throw new RangeError("cmcRanks is empty: give at least one rank");
    for (const r of ranks) {
      if (!Number.isInteger(r) || r < 1) {
        throw new RangeError(`cmcRanks must hold positive integers, got ${r}`);
      }
    }
    this.numGallery = n;
    this.#ranks = [...ranks];
    this.#junkId = opts.junkId === undefined ? -1 : opts.junkId;
    this.#gallery = gallery;
    this.#hits = new Float64Array(ranks.length);
    this.#perQuery = opts.perQuery ? { first: [], ap: [], apNi: [], inp: [] } : null;
    this.#mask = new Uint8Array(n);
    const lists = new Map<number, number[]>();
    for (let g = 0; g < n; g++) {
      const id = gallery.ids[g];
      if (id === this.#junkId) {
        this.#mask[g] = 1;
        continue;
      }
      let list = lists.get(id);
      if (list === undefined) lists.set(id, list = []);
      list.push(g);
    }
    this.#byId = new Map();
    for (const [id, list] of lists) this.#byId.set(id, Int32Array.from(list));
  }

  /**
   * Adds one block of query rows: `dist` is row-major `query.ids.length x numGallery`.
   * Blocks may come in any order; figures are per query.
   */
  addBlock(dist: Float32Array, query: IdsCams): void {
    const nq = checkIdsCams(query, "query", undefined);
    const ng = this.numGallery;
    if (!(dist instanceof Float32Array)) throw new TypeError("dist must be a Float32Array");
    if (dist.length !== nq * ng) {
      throw new RangeError(
        `dist has length ${dist.length}, expected ${nq * ng} (${nq} query rows x ${ng} gallery)`,
      );
    }
    for (let q = 0; q < nq; q++) this.#addRow(dist, q * ng, query.ids[q], query.cams[q], q);
  }

  #skip(): void {
    this.#skipped++;
    if (this.#perQuery) {
      this.#perQuery.first.push(0);
      this.#perQuery.ap.push(NaN);
      this.#perQuery.apNi.push(NaN);
      this.#perQuery.inp.push(NaN);
    }
  }

  #addRow(dist: Float32Array, off: number, qid: number, qcam: number, row: number): void {
    const group = qid === this.#junkId ? undefined : this.#byId.get(qid);
    if (group === undefined) return this.#skip();
    const gcams = this.#gallery.cams;
    const mask = this.#mask;
    if (group.length > this.#posD.length) {
      this.#posD = new Float64Array(group.length * 2);
      this.#posG = new Int32Array(group.length * 2);
      this.#bins = new Int32Array(group.length * 2 + 1);
    }
    const posD = this.#posD, posG = this.#posG, bins = this.#bins;
    // Positives: same id, other camera. Same id + same camera: left out. Both masked in the scan.
    let np = 0;
    for (let k = 0; k < group.length; k++) {
      const g = group[k];
      mask[g] = 1;
      if (gcams[g] !== qcam) {
        const d = dist[off + g];
        if (d !== d) throw new RangeError(`dist[${row}, ${g}] is NaN`);
        // Insertion sort by (distance, gallery index): groups are small.
        let i = np++;
        while (i > 0 && (posD[i - 1] > d || (posD[i - 1] === d && posG[i - 1] > g))) {
          posD[i] = posD[i - 1];
          posG[i] = posG[i - 1];
          i--;
        }
        posD[i] = d;
        posG[i] = g;
      }
    }
    if (np === 0) {
      for (let k = 0; k < group.length; k++) mask[group[k]] = 0;
      return this.#skip();
    }
    bins.fill(0, 0, np + 1);
    const dMin = posD[0], dMax = posD[np - 1];
    const ng = this.numGallery;
    // bins[k] = valid negatives ranked after exactly k positives (stable order on ties).
    for (let g = 0; g < ng; g++) {
      if (mask[g] === 1) continue;
      const d = dist[off + g];
      if (d < dMin) {
        bins[0]++;
        continue;
      }
      if (d > dMax) continue; // behind every positive: changes no rank
      if (d !== d) throw new RangeError(`dist[${row}, ${g}] is NaN`);
      let lo = 0, hi = np;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (posD[mid] < d) lo = mid + 1;
        else hi = mid;
      }
      // Rare exact ties: positives at equal distance with a lower gallery index come first.
      while (lo < np && posD[lo] === d && posG[lo] < g) lo++;
      bins[lo]++;
    }
    for (let k = 0; k < group.length; k++) mask[group[k]] = 0;

    // Rank (1-based) of positive j = j + 1 + negatives ahead of it.
    let ahead = 0, ap = 0, apNi = 0, first = 0, last = 0;
    for (let j = 0; j < np; j++) {
      ahead += bins[j];
      const r = j + 1 + ahead;
      if (j === 0) first = r;
      last = r;
      const prec = (j + 1) / r;
      apNi += prec;
      // Trapezoid from the PR point just before this hit (rank r-1; recall j/np) to this one.
      // At rank 0 that point is the (recall 0, precision 1) end that scikit-learn appends.
      const prevPrec = r > 1 ? j / (r - 1) : 1;
      ap += (prevPrec + prec) / 2;
    }
    ap /= np;
    apNi /= np;
    const inp = np / last;
    this.#valid++;
    this.#sumAp += ap;
    this.#sumApNi += apNi;
    this.#sumInp += inp;
    for (let i = 0; i < this.#ranks.length; i++) if (first <= this.#ranks[i]) this.#hits[i]++;
    if (this.#perQuery) {
      this.#perQuery.first.push(first);
      this.#perQuery.ap.push(ap);
      this.#perQuery.apNi.push(apNi);
      this.#perQuery.inp.push(inp);
    }
  }

  /** The figures over every query added so far. Throws when no query had a valid match. */
  result(): RankingResult {
    const total = this.#valid + this.#skipped;
    if (total === 0) throw new RangeError("no query was added: the query set is empty");
    if (this.#valid === 0) {
      throw new RangeError(
        `no valid query: none of the ${total} queries has a gallery match with the same id ` +
          `in another camera`,
      );
    }
    const v = this.#valid;
    const out: RankingResult = {
      cmcRanks: [...this.#ranks],
      cmc: Array.from(this.#hits, (h) => h / v),
      mAP: this.#sumAp / v,
      mAPNonInterpolated: this.#sumApNi / v,
      mINP: this.#sumInp / v,
      validQueries: v,
      skippedQueries: this.#skipped,
    };
    if (this.#perQuery) {
      out.perQuery = {
        firstMatchRank: Int32Array.from(this.#perQuery.first),
        ap: Float64Array.from(this.#perQuery.ap),
        apNonInterpolated: Float64Array.from(this.#perQuery.apNi),
        inp: Float64Array.from(this.#perQuery.inp),
      };
    }
    return out;
  }
}

/**
 * Evaluates a full `numQuery x numGallery` row-major distance matrix (lower = more similar)
 * under the Market-1501 protocol. See {@linkcode RankingResult} for the figures (fractions).
 */
export function evaluateRanking(
  dist: Float32Array,
  numQuery: number,
  numGallery: number,
  query: IdsCams,
  gallery: IdsCams,
  opts: RankingOptions = {},
): RankingResult {
  for (const [name, v] of [["numQuery", numQuery], ["numGallery", numGallery]] as const) {
    if (!Number.isInteger(v) || v < 0) {
      throw new RangeError(`${name} must be a non-negative integer, got ${v}`);
    }
  }
  if (numQuery === 0) throw new RangeError("numQuery is 0: the query set is empty");
  if (numGallery === 0) throw new RangeError("numGallery is 0: the gallery is empty");
  checkIdsCams(query, "query", numQuery);
  checkIdsCams(gallery, "gallery", numGallery);
  if (!(dist instanceof Float32Array)) throw new TypeError("dist must be a Float32Array");
  if (dist.length !== numQuery * numGallery) {
    throw new RangeError(
      `dist has length ${dist.length}, expected numQuery*numGallery = ` +
        `${numQuery}*${numGallery} = ${numQuery * numGallery}`,
    );
  }
  const acc = new RankingAccumulator(gallery, opts);
  acc.addBlock(dist, query);
  return acc.result();
}
