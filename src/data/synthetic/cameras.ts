/**
 * The camera model of the synthetic generator: each camera's exposure, tone curve, colour cast,
 * saturation, blur, noise and JPEG quality, its background scene, framing and the viewpoints it
 * sees people from. "daylight" cameras are bright and saturated; "dim" ones are dark, blurry and
 * noisy, each under its own lamp colour.
 *
 * @module
 */

import { hsv, type Rgb } from "./color.ts";
import { pick, type RandomSource, uni } from "../../util/random.ts";
import type { SyntheticDomainSpec } from "./spec.ts";

/** The wall texture of a camera's background. */
export type Texture = "bricks" | "stripes" | "blotches" | "tiles";

/** One camera: its image pipeline, its scene and how it frames people. */
export interface Camera {
  gain: number;
  gamma: number;
  contrast: number;
  saturation: number;
  cast: Rgb;
  blur: number;
  noise: number;
  quality: number;
  wall: Rgb;
  wall2: Rgb;
  ground: Rgb;
  horizon: number;
  texture: Texture;
  texScale: number;
  scale: number;
  dx: number;
  dy: number;
  frontProb: number;
  sideProb: number;
  lightDir: number;
}

/**
 * White-balance casts of the "dim" cameras (R, G, B gains): night CCTV under different lamps.
 * Camera c takes cast c (mod 4), so the target cameras differ among themselves mostly in colour
 * and brightness, which CamStyle's per-camera colour transfer can undo.
 */
const DIM_CASTS: readonly Rgb[] = [
  [0.62, 0.88, 1.45], // cold blue LED
  [1.35, 0.98, 0.55], // sodium amber
  [0.7, 1.18, 0.95], // green fluorescent
  [1.1, 0.7, 1.35], // violet
];

/** How far the dim casts go from neutral (0: none, 1: {@link DIM_CASTS} as written). */
const DIM_CAST_STRENGTH = 0.3;

/** Draws camera number `index` of a domain of the given style from `r`. */
export function makeCamera(
  r: RandomSource,
  style: SyntheticDomainSpec["style"],
  index: number,
): Camera {
  const dim = style === "dim";
  const wallV = dim ? uni(r, 0.3, 0.6) : uni(r, 0.45, 0.9);
  const wall = hsv(r(), uni(r, 0.05, 0.3), wallV);
  const castBase = DIM_CASTS[index % DIM_CASTS.length];
  return {
    gain: dim ? uni(r, 0.6, 0.85) : uni(r, 0.95, 1.2),
    gamma: dim ? uni(r, 1.1, 1.3) : uni(r, 0.8, 1.05),
    contrast: dim ? uni(r, 0.75, 0.9) : uni(r, 0.95, 1.2),
    saturation: dim ? uni(r, 0.6, 0.8) : uni(r, 0.9, 1.2),
    // Daylight: small white-balance errors; dim: a strong lamp-coloured cast per camera.
    cast: dim
      ? [0, 1, 2].map((k) =>
        (1 + DIM_CAST_STRENGTH * (castBase[k] - 1)) * uni(r, 0.96, 1.04)
      ) as Rgb
      : [uni(r, 0.85, 1.15), uni(r, 0.9, 1.1), uni(r, 0.8, 1.1)],
    blur: dim ? uni(r, 0.5, 0.8) : uni(r, 0, 0.45),
    noise: dim ? uni(r, 0.012, 0.022) : uni(r, 0.005, 0.015),
    quality: dim ? Math.floor(uni(r, 60, 80)) : Math.floor(uni(r, 85, 95)),
    wall,
    wall2: hsv(r(), uni(r, 0, 0.4), wallV * uni(r, 0.6, 0.9)),
    ground: hsv(r(), uni(r, 0, 0.25), dim ? uni(r, 0.2, 0.45) : uni(r, 0.35, 0.75)),
    horizon: uni(r, 0.55, 0.85),
    texture: pick(r, ["bricks", "stripes", "blotches", "tiles"] as const),
    texScale: uni(r, 5, 14),
    scale: uni(r, 0.9, 1.05),
    dx: uni(r, -4, 4),
    dy: uni(r, -6, 3),
    frontProb: uni(r, 0.1, 0.9),
    sideProb: uni(r, 0.1, 0.35),
    lightDir: uni(r, -1, 1),
  };
}
