/**
 * A deterministic procedural pedestrian generator that writes re-ID domains in the Market-1501
 * layout, so the whole pipeline (loading, CamStyle, ECN training, evaluation) can be exercised
 * without the real data sets.
 *
 * Identities differ by body shape, clothing colours and patterns, carried items and hair; each
 * domain has several cameras that differ in illumination, colour cast, blur, noise, background,
 * scale/offset and viewpoint. The default pair: "A" (daylight cameras) and "B" (dim, low-contrast,
 * desaturated, blurry, noisy night cameras, each under its own lamp colour: blue, amber, green,
 * violet; people of the same population with other body proportions). A model trained on A loses
 * most of its accuracy on B (the domain gap ECN is meant to close), while B's identities stay
 * distinguishable and its cameras differ mostly in colour and brightness, which CamStyle's
 * per-camera colour transfer can undo.
 *
 * @module
 */

import { encodeJpeg, encodePng, type RgbImage } from "./image.ts";

/** Bumped whenever the output for the same options changes. */
export const SYNTH_VERSION = 2;

/** Image size written (height x width), as the Market-1501 crops. */
export const SYNTH_HEIGHT = 128;
/** Image width written. */
export const SYNTH_WIDTH = 64;

/** One domain to generate. */
export interface SyntheticDomainSpec {
  /** Folder name under outDir (letters, digits, `-`, `_`). */
  name: string;
  /** Camera style: "daylight" (bright, saturated) or "dim" (dark, lamp-coloured, noisy). */
  style: "daylight" | "dim";
  /** Number of cameras (2..9). */
  numCams: number;
  /** Training identities. */
  trainIds: number;
  /** Test identities (disjoint from the training ones). */
  testIds: number;
  /** Images per training identity (spread over 2..4 of its cameras). */
  imagesPerTrainId: number;
  /** pid-0 distractor images added to the gallery. */
  distractors: number;
  /** pid -1 junk images (background or badly cropped) added to the gallery. */
  junk: number;
}

/** The default domain pair. */
export const DEFAULT_DOMAINS: readonly SyntheticDomainSpec[] = [
  {
    name: "A",
    style: "daylight",
    numCams: 6,
    trainIds: 100,
    testIds: 50,
    imagesPerTrainId: 8,
    distractors: 20,
    junk: 10,
  },
  {
    name: "B",
    style: "dim",
    numCams: 4,
    trainIds: 100,
    testIds: 50,
    imagesPerTrainId: 8,
    distractors: 20,
    junk: 10,
  },
];

/** Options of {@link generateSyntheticDomains}. */
export interface SyntheticOptions {
  /** Folder that receives one sub-folder per domain and `manifest.json`. */
  outDir: string;
  /** PRNG seed; the same seed and options give byte-identical files. Default 1. */
  seed?: number;
  /** Domains; default {@link DEFAULT_DOMAINS}. */
  domains?: readonly SyntheticDomainSpec[];
  /**
   * "png" (default, lossless) or "jpg"
   * (then each camera also has its own JPEG quality).
   */
  format?: "jpg" | "png";
  /** Regenerate even when a matching manifest exists. */
  force?: boolean;
}

/** Result of {@link generateSyntheticDomains}. */
export interface SyntheticResult {
  /** The output folder. */
  root: string;
  /** Domain name -> its data set root (Market-1501 layout). */
  domains: Record<string, string>;
  /** False when a matching manifest was found and nothing was written. */
  generated: boolean;
  /** Images written (0 when skipped). */
  images: number;
}

// ---------------------------------------------------------------------------------------
// PRNG

/** mulberry32: a small, fast 32-bit PRNG; returns floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Mixes integers into one seed, so each image's randomness does not depend on visiting order. */
function hashSeed(...xs: number[]): number {
  let h = 0x811c9dc5;
  for (const x of xs) {
    h = Math.imul(h ^ (x | 0), 0x01000193);
    h ^= h >>> 13;
    h = Math.imul(h, 0x5bd1e995);
    h ^= h >>> 15;
  }
  return h >>> 0;
}

type Rng = () => number;
type Rgb = [number, number, number];

const uni = (r: Rng, a: number, b: number): number => a + (b - a) * r();
const pick = <T>(r: Rng, xs: readonly T[]): T =>
  xs[Math.min(xs.length - 1, Math.floor(r() * xs.length))];
function gauss(r: Rng): number {
  const u = Math.max(1e-12, r());
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
}

function hsv(h: number, s: number, v: number): Rgb {
  const i = Math.floor(((h % 1) + 1) % 1 * 6);
  const f = (((h % 1) + 1) % 1) * 6 - i;
  const p = v * (1 - s), q = v * (1 - f * s), t = v * (1 - (1 - f) * s);
  return ([[v, t, p], [q, v, p], [p, v, t], [p, q, v], [t, p, v], [v, p, q]] as Rgb[])[i % 6];
}

// ---------------------------------------------------------------------------------------
// Identities and cameras

type Pattern = "plain" | "stripes" | "checks" | "logo";

interface Identity {
  heightFrac: number;
  shoulder: number;
  hip: number;
  headR: number;
  legFrac: number;
  skin: Rgb;
  hair: Rgb;
  hairLong: boolean;
  upper: Rgb;
  upper2: Rgb;
  pattern: Pattern;
  period: number;
  shortSleeves: boolean;
  lower: Rgb;
  lowerKind: "pants" | "shorts" | "skirt";
  shoes: Rgb;
  carry: "none" | "bag" | "backpack";
  carryColor: Rgb;
  bagSide: number;
}

function clothColor(r: Rng): Rgb {
  // One population for both domains: saturated, fairly bright clothes and a few neutrals. The
  // domain gap comes from the cameras, so identities stay distinguishable in both domains.
  if (r() < 0.2) return hsv(0, 0, uni(r, 0.15, 0.95));
  return hsv(r(), uni(r, 0.45, 0.95), uni(r, 0.45, 0.95));
}

function makeIdentity(r: Rng, style: SyntheticDomainSpec["style"]): Identity {
  const dim = style === "dim";
  const patterns: Pattern[] = dim
    ? ["plain", "plain", "stripes", "checks", "checks", "logo"]
    : ["plain", "plain", "plain", "stripes", "checks", "logo"];
  const skinTone = uni(r, 0.25, 0.9);
  return {
    heightFrac: dim ? uni(r, 0.84, 0.95) : uni(r, 0.78, 0.9),
    shoulder: dim ? uni(r, 0.085, 0.115) : uni(r, 0.1, 0.15),
    hip: uni(r, 0.07, 0.105),
    headR: uni(r, 0.055, 0.075),
    legFrac: uni(r, 0.43, 0.5),
    skin: [0.35 + 0.6 * skinTone, 0.22 + 0.55 * skinTone, 0.15 + 0.45 * skinTone],
    hair: r() < 0.7 ? hsv(uni(r, 0.02, 0.1), uni(r, 0.3, 0.8), uni(r, 0.05, 0.45)) : hsv(
      uni(r, 0.05, 0.14),
      uni(r, 0.2, 0.7),
      uni(r, 0.5, 0.9),
    ),
    hairLong: r() < 0.35,
    upper: clothColor(r),
    upper2: clothColor(r),
    pattern: pick(r, patterns),
    period: Math.floor(uni(r, 3, 8)),
    shortSleeves: r() < 0.4,
    lower: clothColor(r),
    lowerKind: pick(r, ["pants", "pants", "pants", "shorts", "skirt"] as const),
    shoes: r() < 0.5 ? hsv(0, 0, uni(r, 0.05, 0.3)) : clothColor(r),
    carry: pick(
      r,
      dim ? ["none", "bag", "backpack", "backpack"] : ["none", "none", "bag", "backpack"],
    ),
    carryColor: clothColor(r),
    bagSide: r() < 0.5 ? -1 : 1,
  };
}

type Texture = "bricks" | "stripes" | "blotches" | "tiles";

interface Camera {
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

function makeCamera(r: Rng, style: SyntheticDomainSpec["style"], index: number): Camera {
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

// ---------------------------------------------------------------------------------------
// Rendering (float RGB, planar-free HWC, painter's algorithm over signed-distance shapes)

const W = SYNTH_WIDTH;
const H = SYNTH_HEIGHT;

type ColorFn = (x: number, y: number) => Rgb;

/** Paints a shape given by its signed distance (pixels, < 0 inside) over a bounding box. */
function paint(
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

function capsule(ax: number, ay: number, bx: number, by: number, rad: number) {
  const dx = bx - ax, dy = by - ay;
  const len2 = dx * dx + dy * dy || 1;
  return (x: number, y: number): number => {
    const t = Math.max(0, Math.min(1, ((x - ax) * dx + (y - ay) * dy) / len2));
    const ex = x - ax - t * dx, ey = y - ay - t * dy;
    return Math.sqrt(ex * ex + ey * ey) - rad;
  };
}

function ellipse(cx: number, cy: number, rx: number, ry: number) {
  const m = Math.min(rx, ry);
  return (x: number, y: number): number => {
    const u = (x - cx) / rx, v = (y - cy) / ry;
    return (Math.sqrt(u * u + v * v) - 1) * m;
  };
}

/** A vertical trapezoid from y0 (half-width w0) to y1 (half-width w1), centred at cx. */
function trapezoid(cx: number, y0: number, w0: number, y1: number, w1: number) {
  return (x: number, y: number): number => {
    const t = Math.max(0, Math.min(1, (y - y0) / (y1 - y0)));
    const w = w0 + (w1 - w0) * t;
    return Math.max(Math.abs(x - cx) - w, y0 - y, y - y1);
  };
}

function shade(c: Rgb, k: number): Rgb {
  return [c[0] * k, c[1] * k, c[2] * k];
}

function drawBackground(buf: Float32Array, cam: Camera, r: Rng): void {
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

type View = "front" | "back" | "side";

function drawPerson(
  buf: Float32Array,
  p: Identity,
  cam: Camera,
  view: View,
  r: Rng,
  crop: { scale: number; dx: number; dy: number },
): void {
  const Hp = p.heightFrac * cam.scale * crop.scale * H;
  const footY = H - 3 + cam.dy + crop.dy;
  const top = footY - Hp;
  const cx = W / 2 + cam.dx + crop.dx;
  const headR = p.headR * Hp;
  const headCy = top + headR;
  const shoulderY = top + 2.2 * headR;
  const hipY = footY - p.legFrac * Hp;
  const side = view === "side";
  const sw = p.shoulder * Hp * (side ? 0.55 : 1);
  const hw = p.hip * Hp * (side ? 0.6 : 1);
  const limb = Math.max(1.2, 0.032 * Hp);
  const legR = Math.max(1.5, hw * 0.42);
  const phase = uni(r, 0, 2 * Math.PI);
  const stride = side ? 0.12 * Hp * Math.sin(phase) : 0.015 * Hp * Math.sin(phase);
  const light = cam.lightDir;
  // Cylinder shading across the body, brighter on the lit side.
  const body = (c: Rgb, halfW: number): ColorFn => (x) => {
    const u = Math.max(-1, Math.min(1, (x - cx) / (halfW + 1)));
    return shade(c, 0.78 + 0.22 * Math.cos(u * 1.3) + 0.08 * light * u);
  };

  // Shadow on the ground.
  paint(
    buf,
    cx - sw * 1.6,
    footY - 3,
    cx + sw * 1.6,
    footY + 3,
    ellipse(cx, footY, sw * 1.5, 2.2),
    (
      x,
      y,
    ) => {
      const o = (Math.min(H - 1, Math.floor(y)) * W + Math.min(W - 1, Math.floor(x))) * 3;
      return [buf[o] * 0.6, buf[o + 1] * 0.6, buf[o + 2] * 0.6];
    },
  );

  // Long hair and backpack body sit behind the torso in front view.
  if (p.hairLong && view !== "back") {
    paint(
      buf,
      cx - headR * 1.2,
      headCy,
      cx + headR * 1.2,
      shoulderY + headR * 1.5,
      trapezoid(
        cx + (side ? -headR * 0.4 : 0),
        headCy,
        headR * 1.0,
        shoulderY + headR,
        headR * 1.1,
      ),
      p.hair,
    );
  }
  if (p.carry === "backpack" && side) {
    const bx = cx - sw - 0.05 * Hp;
    paint(
      buf,
      bx - 0.06 * Hp,
      shoulderY,
      bx + 0.06 * Hp,
      hipY,
      trapezoid(bx, shoulderY + 2, 0.05 * Hp, hipY - 3, 0.055 * Hp),
      shade(p.carryColor, 0.85),
    );
  }

  // Legs, shoes.
  const legXs = side ? [cx + stride * 0.5, cx - stride * 0.5] : [cx - hw * 0.5, cx + hw * 0.5];
  const legColor = p.lowerKind === "pants" ? p.lower : p.skin;
  for (let i = 0; i < 2; i++) {
    const fx = legXs[i] + (side ? 0 : (i === 0 ? -1 : 1) * stride * 0.3);
    const hx = side ? cx : legXs[i];
    const knee = hipY + (footY - 2 - hipY) * 0.5;
    paint(
      buf,
      Math.min(hx, fx) - legR,
      hipY,
      Math.max(hx, fx) + legR,
      footY,
      capsule(hx, hipY, fx, footY - 2.5, legR),
      body(legColor, hw),
    );
    if (p.lowerKind === "shorts") {
      paint(
        buf,
        Math.min(hx, fx) - legR - 1,
        hipY,
        Math.max(hx, fx) + legR + 1,
        knee,
        capsule(hx, hipY, hx + (fx - hx) * 0.4, hipY + (knee - hipY) * 0.6, legR + 0.6),
        body(p.lower, hw),
      );
    }
    const shoeX = fx + (side ? 1.5 : 0);
    paint(
      buf,
      shoeX - 4,
      footY - 4,
      shoeX + 4,
      footY + 1,
      ellipse(shoeX, footY - 1.5, side ? 3.2 : 2.4, 1.8),
      p.shoes,
    );
  }
  if (p.lowerKind === "skirt") {
    const skirtEnd = hipY + (footY - hipY) * 0.45;
    paint(
      buf,
      cx - hw * 2,
      hipY - 2,
      cx + hw * 2,
      skirtEnd,
      trapezoid(cx, hipY - 2, hw * 1.05, skirtEnd, hw * 1.6),
      body(p.lower, hw * 1.5),
    );
  } else {
    // Pelvis joins the legs.
    paint(
      buf,
      cx - hw - 1,
      hipY - 3,
      cx + hw + 1,
      hipY + legR,
      trapezoid(cx, hipY - 3, hw, hipY + legR * 0.8, hw * 0.95),
      body(p.lower, hw),
    );
  }

  // Arms behind/alongside the torso.
  const swing = (side ? 0.1 : 0.02) * Hp * Math.sin(phase + Math.PI);
  const handY = hipY + 0.04 * Hp;
  const armX = [cx - sw + limb * 0.6, cx + sw - limb * 0.6];
  const sleeve = (ax: number, hx: number): void => {
    const arm = capsule(ax, shoulderY + limb, hx, handY - limb, limb);
    const elbowY = shoulderY + (handY - shoulderY) * 0.45;
    paint(
      buf,
      Math.min(ax, hx) - limb - 1,
      shoulderY,
      Math.max(ax, hx) + limb + 1,
      handY,
      arm,
      (_x, y) => p.shortSleeves && y > elbowY ? p.skin : shade(p.upper, 0.9),
    );
    paint(
      buf,
      hx - limb - 1,
      handY - limb * 2,
      hx + limb + 1,
      handY + 1,
      ellipse(hx, handY - limb * 0.5, limb * 1.05, limb * 1.2),
      p.skin,
    );
  };
  if (side) sleeve(cx - swing * 0.5, cx - swing - limb);
  else {
    sleeve(armX[0], armX[0] - limb * 0.8 + swing * 0.2);
    sleeve(armX[1], armX[1] + limb * 0.8 - swing * 0.2);
  }

  // Torso with its pattern.
  const torsoLen = hipY - shoulderY;
  const upperFn: ColorFn = (x, y) => {
    let c = p.upper;
    const v = y - shoulderY;
    if (p.pattern === "stripes") {
      if (Math.floor(v / p.period) % 2 === 1) c = p.upper2;
    } else if (p.pattern === "checks") {
      if ((Math.floor(v / p.period) + Math.floor((x - cx + 50) / p.period)) % 2 === 1) c = p.upper2;
    } else if (p.pattern === "logo" && view === "front") {
      const dx = x - (cx + sw * 0.15), dy = v - torsoLen * 0.35;
      if (dx * dx + dy * dy < (sw * 0.45) ** 2) c = p.upper2;
    }
    return body(c, sw)(x, y);
  };
  paint(
    buf,
    cx - sw - 1,
    shoulderY - 2,
    cx + sw + 1,
    hipY + 1,
    trapezoid(cx, shoulderY - 1, sw, hipY, hw * 1.05),
    upperFn,
  );
  if (side) sleeve(cx + swing * 0.5, cx + swing + limb);

  // Carried items in front of the torso.
  if (p.carry === "backpack" && view === "back") {
    paint(
      buf,
      cx - sw,
      shoulderY,
      cx + sw,
      hipY,
      trapezoid(cx, shoulderY + 2, sw * 0.75, hipY - 4, sw * 0.8),
      body(p.carryColor, sw * 0.8),
    );
  } else if (p.carry === "backpack" && view === "front") {
    for (const sx of [-1, 1]) {
      const x = cx + sx * sw * 0.55;
      paint(
        buf,
        x - 2,
        shoulderY - 1,
        x + 2,
        hipY - torsoLen * 0.3,
        capsule(x, shoulderY, x + sx * 0.5, hipY - torsoLen * 0.35, 0.9),
        shade(p.carryColor, 0.8),
      );
    }
  } else if (p.carry === "bag") {
    const bs = view === "back" ? -p.bagSide : p.bagSide;
    const bx = side ? cx + 0.02 * Hp : cx + bs * (sw + 0.02 * Hp);
    const by = hipY - 0.02 * Hp;
    paint(
      buf,
      cx - sw,
      shoulderY,
      cx + sw,
      by,
      capsule(cx - bs * sw * 0.6, shoulderY + 1, bx, by - 0.04 * Hp, 0.7),
      shade(p.carryColor, 0.7),
    );
    paint(
      buf,
      bx - 0.06 * Hp,
      by - 0.05 * Hp,
      bx + 0.06 * Hp,
      by + 0.06 * Hp,
      trapezoid(bx, by - 0.045 * Hp, 0.045 * Hp, by + 0.05 * Hp, 0.05 * Hp),
      body(p.carryColor, 0.05 * Hp),
    );
  }

  // Neck, head, hair.
  paint(
    buf,
    cx - 2,
    headCy,
    cx + 2,
    shoulderY + 1,
    capsule(cx, headCy + headR * 0.5, cx, shoulderY, headR * 0.35),
    shade(p.skin, 0.85),
  );
  const rx = headR * (side ? 0.9 : 0.82);
  paint(
    buf,
    cx - rx - 1,
    headCy - headR - 1,
    cx + rx + 1,
    headCy + headR + 1,
    ellipse(cx, headCy, rx, headR),
    view === "back" ? p.hair : body(p.skin, rx),
  );
  if (view !== "back") {
    // Hair cap: the head ellipse above a line (front) or on the back half (side).
    const head = ellipse(cx, headCy - headR * 0.05, rx * 1.05, headR * 1.05);
    const capY = headCy - headR * (p.hairLong ? 0.25 : 0.35);
    paint(
      buf,
      cx - rx - 2,
      headCy - headR - 2,
      cx + rx + 2,
      headCy + headR,
      (x, y) =>
        side
          ? Math.max(head(x, y), Math.min(capY - y, x - (cx - rx * 0.2)))
          : Math.max(head(x, y), y - capY),
      p.hair,
    );
  }
}

/** Camera pipeline: exposure, white balance, tone, saturation, blur, noise; then 8-bit. */
function applyCamera(buf: Float32Array, cam: Camera, r: Rng): RgbImage {
  const gain = cam.gain * (1 + 0.06 * gauss(r));
  const lut = toneLut(cam);
  const n = W * H;
  const sat = cam.saturation;
  const [cr, cg, cb] = cam.cast;
  for (let i = 0; i < n; i++) {
    const o = i * 3;
    let R = buf[o] * cr * gain, G = buf[o + 1] * cg * gain, B = buf[o + 2] * cb * gain;
    const lum = 0.299 * R + 0.587 * G + 0.114 * B;
    R = lum + (R - lum) * sat;
    G = lum + (G - lum) * sat;
    B = lum + (B - lum) * sat;
    buf[o] = lookup(lut, R);
    buf[o + 1] = lookup(lut, G);
    buf[o + 2] = lookup(lut, B);
  }
  if (cam.blur > 0.3) gaussianBlur(buf, cam.blur);
  const data = new Uint8Array(3 * n);
  // Sum of three uniforms: near-Gaussian sensor noise without a log/cos per value.
  const k = cam.noise * 2 * 255;
  for (let i = 0; i < 3 * n; i++) {
    const v = buf[i] * 255 + (r() + r() + r() - 1.5) * k;
    data[i] = v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
  }
  return { width: W, height: H, data };
}

const LUT_MAX = 2;
const LUT_SIZE = 1024;

/** The camera's tone curve (gamma, then contrast about mid-grey) sampled on [0, LUT_MAX]. */
function toneLut(cam: Camera): Float32Array {
  const lut = new Float32Array(LUT_SIZE + 1);
  for (let i = 0; i <= LUT_SIZE; i++) {
    lut[i] = (Math.pow((i / LUT_SIZE) * LUT_MAX, cam.gamma) - 0.5) * cam.contrast + 0.5;
  }
  return lut;
}

function lookup(lut: Float32Array, v: number): number {
  const x = (v <= 0 ? 0 : v >= LUT_MAX ? LUT_MAX : v) * (LUT_SIZE / LUT_MAX);
  const i = Math.min(LUT_SIZE - 1, Math.floor(x));
  return lut[i] + (lut[i + 1] - lut[i]) * (x - i);
}

function gaussianBlur(buf: Float32Array, sigma: number): void {
  const rad = Math.ceil(sigma * 2.5);
  const k = new Float32Array(2 * rad + 1);
  let s = 0;
  for (let i = -rad; i <= rad; i++) s += k[i + rad] = Math.exp(-(i * i) / (2 * sigma * sigma));
  for (let i = 0; i < k.length; i++) k[i] /= s;
  const tmp = new Float32Array(buf.length);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      for (let c = 0; c < 3; c++) {
        let acc = 0;
        for (let i = -rad; i <= rad; i++) {
          const xx = x + i < 0 ? 0 : x + i >= W ? W - 1 : x + i;
          acc += k[i + rad] * buf[(y * W + xx) * 3 + c];
        }
        tmp[(y * W + x) * 3 + c] = acc;
      }
    }
  }
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      for (let c = 0; c < 3; c++) {
        let acc = 0;
        for (let i = -rad; i <= rad; i++) {
          const yy = y + i < 0 ? 0 : y + i >= H ? H - 1 : y + i;
          acc += k[i + rad] * tmp[(yy * W + x) * 3 + c];
        }
        buf[(y * W + x) * 3 + c] = acc;
      }
    }
  }
}

/** A domain's generated world: cameras and identities, all from the seed. */
interface World {
  spec: SyntheticDomainSpec;
  cams: Camera[];
  seed: number;
  domainIndex: number;
}

function makeWorld(spec: SyntheticDomainSpec, seed: number, domainIndex: number): World {
  const cams: Camera[] = [];
  for (let c = 0; c < spec.numCams; c++) {
    cams.push(makeCamera(mulberry32(hashSeed(seed, domainIndex, 0xca, c)), spec.style, c));
  }
  return { spec, cams, seed, domainIndex };
}

function identityOf(w: World, pid: number): Identity {
  return makeIdentity(mulberry32(hashSeed(w.seed, w.domainIndex, 0x1d, pid)), w.spec.style);
}

/** Renders one image of `person` (or background junk when null) seen by camera `cam`. */
function renderImage(w: World, person: Identity | null, cam: number, imageSeed: number): RgbImage {
  const r = mulberry32(imageSeed);
  const camera = w.cams[cam];
  const buf = new Float32Array(W * H * 3);
  drawBackground(buf, camera, r);
  if (person) {
    const u = r();
    const view: View = u < camera.sideProb
      ? "side"
      : u < camera.sideProb + (1 - camera.sideProb) * camera.frontProb
      ? "front"
      : "back";
    const crop = { scale: uni(r, 0.93, 1.05), dx: uni(r, -3, 3), dy: uni(r, -3, 3) };
    drawPerson(buf, person, camera, view, r, crop);
    // Mirror half the images (walking left or right).
    if (r() < 0.5) mirror(buf);
  }
  return applyCamera(buf, camera, r);
}

function mirror(buf: Float32Array): void {
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W / 2; x++) {
      const a = (y * W + x) * 3, b = (y * W + (W - 1 - x)) * 3;
      for (let c = 0; c < 3; c++) {
        const t = buf[a + c];
        buf[a + c] = buf[b + c];
        buf[b + c] = t;
      }
    }
  }
}

/** A junk image: background only, or a person cut off by a bad detection box. */
function renderJunk(w: World, cam: number, imageSeed: number): RgbImage {
  const r = mulberry32(imageSeed);
  if (r() < 0.5) return renderImage(w, null, cam, hashSeed(imageSeed, 1));
  const person = makeIdentity(r, w.spec.style);
  const camera = w.cams[cam];
  const buf = new Float32Array(W * H * 3);
  drawBackground(buf, camera, r);
  drawPerson(buf, person, camera, "front", r, {
    scale: 1,
    dx: pick(r, [-30, 30]),
    dy: uni(r, 30, 50),
  });
  return applyCamera(buf, camera, r);
}

// ---------------------------------------------------------------------------------------
// Domains on disk

function checkSpec(d: SyntheticDomainSpec): void {
  const bad = (what: string): never => {
    throw new Error(`synthetic domain ${JSON.stringify(d.name)}: ${what}`);
  };
  if (!/^[A-Za-z0-9_-]+$/.test(d.name)) bad("name must be letters, digits, - or _");
  if (d.style !== "daylight" && d.style !== "dim") {
    bad(`style must be daylight or dim, got ${d.style}`);
  }
  if (!Number.isInteger(d.numCams) || d.numCams < 2 || d.numCams > 9) bad("numCams must be 2..9");
  for (const k of ["trainIds", "testIds", "imagesPerTrainId", "distractors", "junk"] as const) {
    if (!Number.isInteger(d[k]) || d[k] < 0) bad(`${k} must be an integer >= 0, got ${d[k]}`);
  }
  if (d.trainIds < 1 || d.testIds < 1) bad("trainIds and testIds must be >= 1");
  if (d.imagesPerTrainId < 2) bad("imagesPerTrainId must be >= 2 (two cameras per identity)");
  if (d.trainIds + d.testIds > 9999) bad("trainIds + testIds must fit 4-digit pids (<= 9999)");
}

/** Distinct cameras for an identity: 2..min(4, numCams), chosen by `r`. */
function camsFor(r: Rng, numCams: number, count: number): number[] {
  const all = Array.from({ length: numCams }, (_, i) => i);
  for (let i = all.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [all[i], all[j]] = [all[j], all[i]];
  }
  return all.slice(0, count).sort((a, b) => a - b);
}

interface Planned {
  split: "bounding_box_train" | "query" | "bounding_box_test";
  pid: number;
  cam: number;
  frame: number;
  seed: number;
  kind: "person" | "distractor" | "junk";
}

function planDomain(w: World): Planned[] {
  const d = w.spec;
  const r = mulberry32(hashSeed(w.seed, w.domainIndex, 0x91a));
  const out: Planned[] = [];
  let frame = 0;
  const img = (split: Planned["split"], pid: number, cam: number, kind: Planned["kind"]): void => {
    frame++;
    out.push({
      split,
      pid,
      cam,
      frame,
      kind,
      seed: hashSeed(w.seed, w.domainIndex, pid, cam, frame),
    });
  };
  const maxCams = Math.min(4, d.numCams);
  for (let pid = 1; pid <= d.trainIds; pid++) {
    const cams = camsFor(
      r,
      d.numCams,
      Math.min(d.imagesPerTrainId, 2 + Math.floor(r() * (maxCams - 1))),
    );
    for (let k = 0; k < d.imagesPerTrainId; k++) {
      img("bounding_box_train", pid, cams[k % cams.length], "person");
    }
  }
  for (let pid = d.trainIds + 1; pid <= d.trainIds + d.testIds; pid++) {
    const cams = camsFor(r, d.numCams, 2 + Math.floor(r() * (maxCams - 1)));
    for (const cam of cams) {
      // Market-style: one query per identity and camera; the rest of that camera goes to the gallery.
      img("query", pid, cam, "person");
      const gal = 1 + Math.floor(r() * 3);
      for (let k = 0; k < gal; k++) img("bounding_box_test", pid, cam, "person");
    }
  }
  for (let k = 0; k < d.distractors; k++) {
    img("bounding_box_test", 0, Math.floor(r() * d.numCams), "distractor");
  }
  for (let k = 0; k < d.junk; k++) {
    img("bounding_box_test", -1, Math.floor(r() * d.numCams), "junk");
  }
  return out;
}

function fileName(p: Planned, ext: string): string {
  const pid = p.pid < 0 ? String(p.pid) : String(p.pid).padStart(4, "0");
  return `${pid}_c${p.cam + 1}s1_${String(p.frame).padStart(6, "0")}_00.${ext}`;
}

function renderPlanned(w: World, p: Planned): RgbImage {
  if (p.kind === "junk") return renderJunk(w, p.cam, p.seed);
  // Distractors are one-off people, each from its own seed.
  const person = p.kind === "distractor"
    ? makeIdentity(mulberry32(hashSeed(p.seed, 0xd15)), w.spec.style)
    : identityOf(w, p.pid);
  return renderImage(w, person, p.cam, p.seed);
}

function encode(img: RgbImage, format: "jpg" | "png", quality: number): Uint8Array {
  return format === "png" ? encodePng(img) : encodeJpeg(img, quality);
}

interface Manifest {
  generator: string;
  version: number;
  options: {
    seed: number;
    format: string;
    width: number;
    height: number;
    domains: SyntheticDomainSpec[];
  };
}

function readManifest(path: string): Manifest | null {
  try {
    return JSON.parse(Deno.readTextFileSync(path)) as Manifest;
  } catch {
    return null;
  }
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Writes the synthetic domains under `outDir/{name}/` in the Market-1501 layout and
 * `outDir/manifest.json` (generator version and options, written last, so an interrupted run
 * is redone). When the manifest matches, nothing is written and the paths are returned.
 * Refuses a non-empty `outDir` without a manifest of this generator.
 */
export async function generateSyntheticDomains(opts: SyntheticOptions): Promise<SyntheticResult> {
  const seed = opts.seed ?? 1;
  if (!Number.isInteger(seed)) throw new Error(`synthetic seed must be an integer, got ${seed}`);
  const format = opts.format ?? "png";
  if (format !== "jpg" && format !== "png") {
    throw new Error(`synthetic format must be jpg or png, got ${format}`);
  }
  const domains = (opts.domains ?? DEFAULT_DOMAINS).map((d) => ({ ...d }));
  if (domains.length === 0) throw new Error("synthetic: at least one domain is needed");
  for (const d of domains) checkSpec(d);
  if (new Set(domains.map((d) => d.name)).size !== domains.length) {
    throw new Error(`synthetic domain names must differ: ${domains.map((d) => d.name).join(", ")}`);
  }
  const root = opts.outDir;
  const paths: Record<string, string> = {};
  for (const d of domains) paths[d.name] = `${root}/${d.name}`;
  const manifest: Manifest = {
    generator: "ecn-synthetic",
    version: SYNTH_VERSION,
    options: { seed, format, width: W, height: H, domains },
  };
  const manifestPath = `${root}/manifest.json`;
  const old = readManifest(manifestPath);
  if (!opts.force && old && JSON.stringify(old) === JSON.stringify(manifest)) {
    if (domains.every((d) => exists(`${paths[d.name]}/bounding_box_train`))) {
      return { root, domains: paths, generated: false, images: 0 };
    }
  }
  if (exists(root)) {
    const entries = [...Deno.readDirSync(root)];
    if (entries.length > 0 && old?.generator !== "ecn-synthetic") {
      throw new Error(
        `synthetic: ${root} is not empty and has no manifest.json of this generator; ` +
          `choose an empty or new --out folder`,
      );
    }
    // Our own earlier output with other options: remove it, so no stale files mix in.
    if (exists(manifestPath)) Deno.removeSync(manifestPath);
    for (const e of entries) {
      if (e.isDirectory && (old?.options.domains ?? []).some((d) => d.name === e.name)) {
        Deno.removeSync(`${root}/${e.name}`, { recursive: true });
      }
    }
  }
  let images = 0;
  for (let di = 0; di < domains.length; di++) {
    const w = makeWorld(domains[di], seed, di);
    const dir = paths[domains[di].name];
    for (const s of ["bounding_box_train", "query", "bounding_box_test"]) {
      Deno.mkdirSync(`${dir}/${s}`, { recursive: true });
    }
    for (const p of planDomain(w)) {
      const img = renderPlanned(w, p);
      await Deno.writeFile(
        `${dir}/${p.split}/${fileName(p, format)}`,
        encode(img, format, w.cams[p.cam].quality),
      );
      images++;
    }
  }
  Deno.writeTextFileSync(manifestPath, JSON.stringify(manifest, null, 2) + "\n");
  return { root, domains: paths, generated: true, images };
}

/**
 * A preview grid: for each domain, `ids` training identities (rows) seen by each of its cameras
 * (columns), `scale` times enlarged (nearest neighbour), separated by grey lines.
 */
export function syntheticPreview(
  opts: { seed?: number; domains?: readonly SyntheticDomainSpec[]; ids?: number; scale?: number } =
    {},
): RgbImage {
  const seed = opts.seed ?? 1;
  const domains = opts.domains ?? DEFAULT_DOMAINS;
  const ids = opts.ids ?? 3;
  const scale = opts.scale ?? 2;
  const cols = Math.max(...domains.map((d) => d.numCams));
  const rows = domains.length * ids;
  const gap = 2;
  const cw = W * scale + gap, ch = H * scale + gap;
  const out: RgbImage = {
    width: cols * cw + gap,
    height: rows * ch + gap + (domains.length - 1) * 4,
    data: new Uint8Array(0),
  };
  out.data = new Uint8Array(out.width * out.height * 3).fill(128);
  let row = 0;
  domains.forEach((d, di) => {
    const w = makeWorld(d, seed, di);
    for (let k = 0; k < ids; k++, row++) {
      const person = identityOf(w, k + 1);
      for (let c = 0; c < d.numCams; c++) {
        const img = renderImage(w, person, c, hashSeed(seed, di, k + 1, c, 0x9e));
        const ox = gap + c * cw, oy = gap + row * ch + di * 4;
        for (let y = 0; y < H * scale; y++) {
          for (let x = 0; x < W * scale; x++) {
            const s = (Math.floor(y / scale) * W + Math.floor(x / scale)) * 3;
            const o = ((oy + y) * out.width + ox + x) * 3;
            out.data[o] = img.data[s];
            out.data[o + 1] = img.data[s + 1];
            out.data[o + 2] = img.data[s + 2];
          }
        }
      }
    }
  });
  return out;
}
