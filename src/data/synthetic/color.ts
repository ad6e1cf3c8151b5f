/**
 * Colours of the synthetic generator: linear RGB triples in [0, 1], built from HSV and shaded.
 *
 * @module
 */

/** A linear RGB colour, each channel nominally in [0, 1]. */
export type Rgb = [number, number, number];

/** HSV (each in [0, 1], hue wrapping) to RGB. */
export function hsv(h: number, s: number, v: number): Rgb {
  const i = Math.floor(((h % 1) + 1) % 1 * 6);
  const f = (((h % 1) + 1) % 1) * 6 - i;
  const p = v * (1 - s), q = v * (1 - f * s), t = v * (1 - (1 - f) * s);
  return ([[v, t, p], [q, v, p], [p, v, t], [p, q, v], [t, p, v], [v, p, q]] as Rgb[])[i % 6];
}

/** `c` scaled by `k` (darker below 1, brighter above). */
export function shade(c: Rgb, k: number): Rgb {
  return [c[0] * k, c[1] * k, c[2] * k];
}
