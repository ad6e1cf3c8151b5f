/**
 * Reports of an evaluation: a terminal table, a JSON file of every figure, and an HTML page
 * showing sample queries with their top gallery matches (correct green, wrong red, images
 * embedded so the page stands alone).
 *
 * @module
 */
import { mkdirSync } from "node:fs";
import { extname, join } from "node:path";
import type { Metric } from "./distance.ts";
import type { Evaluation } from "./evaluate.ts";
import type { FeatureSet } from "./features.ts";

/** The figures as a Markdown-style table (percent). */
export function evaluationTable(e: Evaluation, title = "evaluation"): string {
  const pct = (x: number) => (100 * x).toFixed(1);
  const rows: Array<[string, string]> = [
    ...e.cmcRanks.map((r, i) => [`rank-${r}`, pct(e.cmc[i])] as [string, string]),
    ["mAP (reference: trapezoid AP, ECN/open-reid)", pct(e.mAP)],
    ["mAP (non-interpolated, torchreid/fast-reid)", pct(e.mAPNonInterpolated)],
    ["mINP", pct(e.mINP)],
    ["valid queries", String(e.validQueries)],
    ["queries without a valid match (skipped)", String(e.skippedQueries)],
  ];
  const w = Math.max(...rows.map((r) => r[0].length));
  return [
    `| ${title.padEnd(w)} | %     |`,
    `| ${"-".repeat(w)} | ----- |`,
    ...rows.map(([k, v]) => `| ${k.padEnd(w)} | ${v.padStart(5)} |`),
  ].join("\n");
}

function dataUri(path: string): string {
  try {
    const bytes = Deno.readFileSync(path);
    const ext = extname(path).toLowerCase();
    const mime = ext === ".png" ? "image/png" : "image/jpeg";
    let bin = "";
    for (let i = 0; i < bytes.length; i += 0x8000) {
      bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    }
    return `data:${mime};base64,${btoa(bin)}`;
  } catch {
    return "";
  }
}

function esc(s: string): string {
  return s.replace(
    /[&<>"]/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]!),
  );
}

/**
 * An HTML page with `samples` evenly spaced queries and their top matches (needs `e.top`).
 * Same-identity same-camera gallery images are left out, as the protocol does.
 */
export function rankingHtml(
  e: Evaluation,
  query: FeatureSet,
  gallery: FeatureSet,
  opts: { samples?: number; title?: string } = {},
): string {
  if (!e.top || !e.keepTop) {
    throw new Error("rankingHtml: the evaluation kept no top matches (keepTop)");
  }
  const k = e.keepTop;
  const n = query.ids.length;
  const samples = Math.min(opts.samples ?? 20, n);
  const rows: string[] = [];
  for (let s = 0; s < samples; s++) {
    const q = Math.floor((s * n) / samples);
    const cells: string[] = [];
    let shown = 0;
    for (let j = 0; j < k && shown < 10; j++) {
      const g = e.top[q * k + j];
      if (g < 0) break;
      if (gallery.ids[g] === query.ids[q] && gallery.cams[g] === query.cams[q]) continue;
      if (gallery.ids[g] === -1) continue;
      const ok = gallery.ids[g] === query.ids[q];
      shown++;
      cells.push(
        `<td class="${ok ? "hit" : "miss"}"><img src="${dataUri(gallery.names[g] ?? "")}" ` +
          `title="${esc(gallery.names[g] ?? String(g))}"><br>${shown}. id ${gallery.ids[g]} c${
            gallery.cams[g] + 1
          }</td>`,
      );
    }
    rows.push(
      `<tr><td class="query"><img src="${dataUri(query.names[q] ?? "")}" title="${
        esc(query.names[q] ?? String(q))
      }"><br>query id ${query.ids[q]} c${query.cams[q] + 1}</td>${cells.join("")}</tr>`,
    );
  }
  const pct = (x: number) => (100 * x).toFixed(1);
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>${esc(opts.title ?? "ECN ranking")}</title>
<style>
body { font-family: sans-serif; margin: 16px; }
table { border-collapse: separate; border-spacing: 6px; }
td { text-align: center; font-size: 11px; vertical-align: top; padding: 2px; }
img { width: 64px; height: 128px; object-fit: cover; display: block; margin: auto; }
td.hit img { outline: 4px solid #2ca02c; }
td.miss img { outline: 4px solid #d62728; }
td.query img { outline: 4px solid #1f77b4; }
</style></head><body>
<h1>${esc(opts.title ?? "ECN ranking")}</h1>
<p>rank-1 ${pct(e.cmc[0])}%, mAP ${pct(e.mAP)}% (reference AP), ${pct(e.mAPNonInterpolated)}%
(non-interpolated), ${e.validQueries} queries. Each row: a query (blue) and its top ${
    Math.min(10, k)
  } gallery images, correct matches green, wrong red (same identity and camera left out).</p>
<table>
${rows.join("\n")}
</table></body></html>
`;
}

/** What {@link writeEvaluationReports} records besides the figures. */
export interface ReportInfo {
  /** What was evaluated on what. */
  title: string;
  /** The distance used. */
  metric: Metric;
  /** Whether the distances were re-ranked. */
  rerank: boolean;
  /** Which feature (pool5 or embedding). */
  feature: string;
  /** Seconds of distances and metrics. */
  seconds: number;
  /** Queries shown in ranking.html (default 20). */
  samples?: number;
}

/**
 * Writes `dir`/eval.json (every figure but the per-query data, with `info`) and `dir`/ranking.html
 * (sample queries and their top matches; needs `e.top`). Returns both paths.
 */
export function writeEvaluationReports(
  dir: string,
  e: Evaluation,
  query: FeatureSet,
  gallery: FeatureSet,
  info: ReportInfo,
): { json: string; html: string } {
  mkdirSync(dir, { recursive: true });
  const { top: _t, perQuery: _p, ...figures } = e;
  const json = join(dir, "eval.json");
  Deno.writeTextFileSync(
    json,
    JSON.stringify(
      {
        title: info.title,
        metric: info.metric,
        rerank: info.rerank,
        feature: info.feature,
        ...figures,
        seconds: info.seconds,
      },
      null,
      2,
    ) + "\n",
  );
  const html = join(dir, "ranking.html");
  Deno.writeTextFileSync(
    html,
    rankingHtml(e, query, gallery, { samples: info.samples ?? 20, title: info.title }),
  );
  return { json, html };
}
