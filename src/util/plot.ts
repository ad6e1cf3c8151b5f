/**
 * A dependency-free SVG line plot of training losses per step.
 *
 * @module
 */
import { writeFileSync } from "node:fs";

/** A point series: step records with loss fields. */
export interface LossPoint {
  loss?: number;
  source?: number;
  target?: number | null;
}

const SERIES: Array<[keyof LossPoint, string]> = [
  ["loss", "#1f77b4"],
  ["source", "#ff7f0e"],
  ["target", "#2ca02c"],
];

/** Renders the loss curves of `points` (in step order) as an SVG document. */
export function lossPlotSvg(points: readonly LossPoint[], title = "ECN training losses"): string {
  const W = 720, H = 360, L = 56, R = 110, T = 34, B = 40;
  const vals = points.flatMap((p) =>
    SERIES.map(([k]) => p[k]).filter((v): v is number => typeof v === "number" && isFinite(v))
  );
  // A loop, not Math.max(...vals): spreading a long run's values overflows the call stack.
  let top = -Infinity;
  for (const v of vals) if (v > top) top = v;
  const max = top > 0 ? top * 1.05 : 1;
  const n = Math.max(points.length - 1, 1);
  const x = (i: number) => L + (i / n) * (W - L - R);
  const y = (v: number) => T + (1 - v / max) * (H - T - B);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="20" text-anchor="middle" font-size="14">${title}</text>`,
    `<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="black"/>`,
    `<line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="black"/>`,
    `<text x="${(L + W - R) / 2}" y="${H - 8}" text-anchor="middle">step</text>`,
  ];
  for (let i = 0; i <= 4; i++) {
    const v = (max * i) / 4;
    parts.push(
      `<text x="${L - 6}" y="${y(v) + 4}" text-anchor="end">${v.toFixed(2)}</text>`,
      `<line x1="${L}" y1="${y(v)}" x2="${W - R}" y2="${y(v)}" stroke="#ddd"/>`,
    );
  }
  SERIES.forEach(([k, color], si) => {
    const pts = points
      .map((p, i) => [i, p[k]] as const)
      .filter((e): e is readonly [number, number] => typeof e[1] === "number" && isFinite(e[1]))
      .map(([i, v]) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`);
    if (pts.length === 0) return;
    parts.push(
      `<polyline fill="none" stroke="${color}" stroke-width="1.5" points="${pts.join(" ")}"/>`,
      `<line x1="${W - R + 10}" y1="${T + 14 + si * 18}" x2="${W - R + 30}" y2="${
        T + 14 + si * 18
      }" stroke="${color}" stroke-width="2"/>`,
      `<text x="${W - R + 36}" y="${T + 18 + si * 18}">${k}</text>`,
    );
  });
  parts.push("</svg>");
  return parts.join("\n") + "\n";
}

/** Writes the loss plot to `path`. */
export function writeLossPlot(path: string, points: readonly LossPoint[]): void {
  writeFileSync(path, lossPlotSvg(points));
}
