// The loss plot takes runs of any length: the maximum is found without spreading the values into
// Math.max (which overflows the call stack past about 125,000 arguments).
import assert from "node:assert";
import { lossPlotSvg } from "../src/util/plot.ts";

Deno.test("lossPlotSvg: 300,000 steps, and degenerate series", () => {
  const points = Array.from({ length: 300_000 }, (_, i) => ({
    loss: 5 / (1 + i / 1000),
    source: 2,
    target: i % 2 ? null : 1,
  }));
  const svg = lossPlotSvg(points);
  assert.ok(svg.startsWith("<svg") && svg.trimEnd().endsWith("</svg>"));
  // The y axis tops out at 1.05 x the largest value (5).
  assert.ok(svg.includes(">5.25</text>"), "top tick at 1.05 x max");
  for (const pts of [[], [{ loss: 0 }], [{ loss: NaN }, { loss: Infinity }]]) {
    const s = lossPlotSvg(pts);
    assert.ok(!s.includes("NaN"), `NaN coordinates for ${JSON.stringify(pts)}`);
  }
});
