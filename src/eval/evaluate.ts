/**
 * Evaluation of query/gallery features with the Market-1501 protocol: chunked distances,
 * CMC / mAP (both definitions) / mINP, optional k-reciprocal re-ranking.
 *
 * @module
 */
import { distanceBlocks, distanceMatrix, type Metric } from "./distance.ts";
import type { FeatureSet } from "./features.ts";
import { RankingAccumulator, type RankingResult } from "./metrics.ts";
import { reRank, type ReRankOptions } from "./rerank.ts";
import type { DeviceLike } from "../tensor/dtype.ts";

/** Options of {@link evaluateFeatures}. */
export interface EvaluateOptions {
  /** Distance between features (default "euclidean", squared, as the reference). */
  metric?: Metric;
  /** Query rows per distance block (bounds memory: rows x gallery floats). */
  chunk?: number;
  /** Where distances are computed (default cpu). */
  device?: DeviceLike;
  /** k-reciprocal re-ranking (Zhong et al. 2017); `true` = k1 20, k2 6, λ 0.3. */
  rerank?: boolean | ReRankOptions;
  /** Also keep the top `keepTop` gallery indices per query (for reports). */
  keepTop?: number;
  /** CMC ranks to report (default `[1, 5, 10, 20]`). */
  cmcRanks?: number[];
}

/** Figures, plus the top gallery matches per query when asked for. */
export interface Evaluation extends RankingResult {
  /** numQuery x keepTop gallery indices, best first (when `keepTop` was given). */
  top?: Int32Array;
  /** Columns per query row of `top` (set only when `top` is). */
  keepTop?: number;
}

function topOfRows(
  dist: Float32Array,
  rows: number,
  cols: number,
  k: number,
  out: Int32Array,
  at: number,
) {
  for (let r = 0; r < rows; r++) {
    const best: Array<[number, number]> = [];
    const off = r * cols;
    for (let c = 0; c < cols; c++) {
      const d = dist[off + c];
      if (best.length < k || d < best[best.length - 1][0]) {
        let i = best.length < k ? best.length : best.length - 1;
        if (best.length < k) best.push([d, c]);
        while (i > 0 && best[i - 1][0] > d) {
          best[i] = best[i - 1];
          i--;
        }
        best[i] = [d, c];
      }
    }
    for (let j = 0; j < k; j++) out[(at + r) * k + j] = j < best.length ? best[j][1] : -1;
  }
}

/** Evaluates query features against gallery features. */
export function evaluateFeatures(
  query: FeatureSet,
  gallery: FeatureSet,
  opts: EvaluateOptions = {},
): Evaluation {
  if (query.ids.length === 0) throw new Error("evaluate: the query set is empty");
  if (gallery.ids.length === 0) throw new Error("evaluate: the gallery is empty");
  if (query.dim !== gallery.dim) {
    throw new Error(
      `evaluate: query features are ${query.dim}-d but gallery features are ${gallery.dim}-d`,
    );
  }
  const nq = query.ids.length, ng = gallery.ids.length;
  const k = opts.keepTop ?? 0;
  const top = k > 0 ? new Int32Array(nq * k) : undefined;
  const acc = new RankingAccumulator(gallery, { cmcRanks: opts.cmcRanks });
  const dOpts = { metric: opts.metric, chunk: opts.chunk, device: opts.device };
  if (opts.rerank) {
    const qg = distanceMatrix(query.features, gallery.features, query.dim, dOpts);
    const qq = distanceMatrix(query.features, query.features, query.dim, dOpts);
    const gg = distanceMatrix(gallery.features, gallery.features, query.dim, dOpts);
    const rr = reRank(qg, qq, gg, nq, ng, opts.rerank === true ? {} : opts.rerank);
    acc.addBlock(rr, query);
    if (top) topOfRows(rr, nq, ng, k, top, 0);
  } else {
    distanceBlocks(query.features, gallery.features, query.dim, (start, rows, dist) => {
      acc.addBlock(dist, {
        ids: query.ids.subarray(start, start + rows),
        cams: query.cams.subarray(start, start + rows),
      });
      if (top) topOfRows(dist, rows, ng, k, top, start);
    }, dOpts);
  }
  return { ...acc.result(), top, keepTop: k || undefined };
}

/** A one-line summary: `rank-1 75.1 rank-5 ... mAP 43.0 (reference AP) mAP(non-interp.) ...`. */
export function formatEvaluation(e: RankingResult): string {
  const pct = (x: number) => (100 * x).toFixed(1);
  const cmc = e.cmcRanks.map((r, i) => `rank-${r} ${pct(e.cmc[i])}`).join("  ");
  return `${cmc}  mAP ${pct(e.mAP)} (reference AP)  mAP ${pct(e.mAPNonInterpolated)} ` +
    `(non-interpolated)  mINP ${pct(e.mINP)}  [${e.validQueries} queries` +
    (e.skippedQueries ? `, ${e.skippedQueries} without a valid match skipped]` : "]");
}
