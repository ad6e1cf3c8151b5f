/**
 * The rasteriser of the synthetic generator: float RGB images (HWC, SYNTH_HEIGHT x SYNTH_WIDTH),
 * antialiased shapes given by signed-distance functions painted in painter's order, and each
 * camera's textured background.
 *
 * @module
 */

import type { Camera } from "./cameras.ts";
import { type Rgb, shade } from "./color.ts";
import { type RandomSource, uni } from "../../util/random.ts";
import { SYNTH_HEIGHT, SYNTH_WIDTH } from "./spec.ts";

/** Image width in pixels. */
export const W = SYNTH_WIDTH;
/** Image height in pixels. */
export const H = SYNTH_HEIGHT;

/** A colour that varies over the image (pixel centre coordinates). */
export type ColorFn = (x: number, y: number) => Rgb;

/** Paints a shape given by its signed distance (pixels, < 0 inside) over a bounding box. */
export function paint(
  buf: Float32Array,
  x0: number,
  y0: number,
  x1: number,
  y1: number,
  sdf: (x: number, y: number) => number,
  color: Rgb | ColorFn,
): void {
  const xa = Math.max(0, Math.floor(x0) - 1), xb = Math.min(W - 1, Math.ceil(x1) + 1);
  const ya = Math.max(0, Math.floor(y0) - 1), yb = Math.min(H - 1, Math.ceil(y1) + 1);
  const fixed = typeof color === "function" ? null : color;
  for (let y = ya; y <= yb; y++) {
    for (let x = xa; x <= xb; x++) {
      const px = x + 0.5, py = y + 0.5;
      const a = 0.5 - sdf(px, py); // one-pixel antialiased edge
      if (a <= 0) continue;
      const cov = a >= 1 ? 1 : a;
      const c = fixed ?? (color as ColorFn)(px, py);
      const o = (y * W + x) * 3;
      buf[o] += (c[0] - buf[o]) * cov;
      buf[o + 1] += (c[1] - buf[o + 1]) * cov;
      buf[o + 2] += (c[2] - buf[o + 2]) * cov;
    }
  }
}

/** Signed distance to a segment from (ax, ay) to (bx, by), thickened by `rad`. */
export function capsule(ax: number, ay: number, bx: number, by: number, rad: number) {
  const dx = bx - ax, dy = by - ay;
  const len2 = dx * dx + dy * dy || 1;
  return (x: number, y: number): number => {
    const t = Math.max(0, Math.min(1, ((x - ax) * dx + (y - ay) * dy) / len2));
    const ex = x - ax - t * dx, ey = y - ay - t * dy;
    return Math.sqrt(ex * ex + ey * ey) - rad;
  };
}

/** Signed distance (approximate, in pixels) to an axis-aligned ellipse. */
export function ellipse(cx: number, cy: number, rx: number, ry: number) {
  const m = Math.min(rx, ry);
  return (x: number, y: number): number => {
    const u = (x - cx) / rx, v = (y - cy) / ry;
    return (Math.sqrt(u * u + v * v) - 1) * m;
  };
}

/** A vertical trapezoid from y0 (half-width w0) to y1 (half-width w1), centred at cx. */
export function trapezoid(cx: number, y0: number, w0: number, y1: number, w1: number) {
  return (x: number, y: number): number => {
    const t = Math.max(0, Math.min(1, (y - y0) / (y1 - y0)));
    const w = w0 + (w1 - w0) * t;
    return Math.max(Math.abs(x - cx) - w, y0 - y, y - y1);
  };
}

/** Fills `buf` with the camera's wall and ground, lit from its side. */
export function drawBackground(buf: Float32Array, cam: Camera, r: RandomSource): void {
  const ox = uni(r, 0, 100), oy = uni(r, 0, 100);
  const hz = cam.horizon * H + uni(r, -4, 4);
  const s = cam.texScale;
  // Blotch centres for the "blotches" texture (fixed count keeps the cost bounded).
  const blobs: number[] = [];
  for (let i = 0; i < 6; i++) blobs.push(uni(r, 0, W), uni(r, 0, hz), uni(r, 3, 10));
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const o = (y * W + x) * 3;
      let c: Rgb;
      if (y < hz) {
        let alt = false;
        const u = x + ox, v = y + oy;
        if (cam.texture === "bricks") {
          const row = Math.floor(v / (s * 0.5));
          const bx = (u + (row % 2) * s * 0.5) % s;
          alt = bx < 1 || v % (s * 0.5) < 1;
        } else if (cam.texture === "stripes") {
          alt = u % s < s * 0.45;
        } else if (cam.texture === "tiles") {
          alt = (Math.floor(u / s) + Math.floor(v / s)) % 2 === 0;
        } else {
          for (let i = 0; i < blobs.length; i += 3) {
            const dx = x - blobs[i], dy = y - blobs[i + 1];
            if (dx * dx + dy * dy < blobs[i + 2] * blobs[i + 2]) alt = true;
          }
        }
        c = alt ? cam.wall2 : cam.wall;
      } else {
        // Ground darkens towards the bottom; a faint perspective seam pattern.
        const d = (y - hz) / (H - hz + 1);
        const seam = Math.abs(((x - W / 2) / (0.3 + d) + ox) % (s * 2)) < 1 ? 0.85 : 1;
        c = shade(cam.ground, (1 - 0.25 * d) * seam);
      }
      const light = 1 + 0.15 * cam.lightDir * (x / W - 0.5);
      buf[o] = c[0] * light;
      buf[o + 1] = c[1] * light;
      buf[o + 2] = c[2] * light;
    }
  }
}
