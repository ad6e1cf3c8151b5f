/**
 * The reference (open-reid / ECN) image transforms, deterministic for a seeded {@link Rng}.
 *
 * Train: RandomSizedRectCrop (bilinear) -> horizontal flip -> ToTensor -> Normalize ->
 * RandomErasing. Test: bicubic resize -> ToTensor -> Normalize. Outputs are CHW float32,
 * written into a caller-provided array so that a batch is filled without copies.
 */

import type { Rng } from "../util/random.ts";
import { resampleToPlanar, type RgbImage } from "./image.ts";

// ---------------------------------------------------------------------------------------
// Configuration

/** A per-channel RGB triple. */
export type Rgb = [number, number, number];

/** torchvision's ImageNet normalization mean. */
export const IMAGENET_MEAN: Rgb = [0.485, 0.456, 0.406];
/** torchvision's ImageNet normalization std. */
export const IMAGENET_STD: Rgb = [0.229, 0.224, 0.225];

/** RandomSizedRectCrop parameters (open-reid). */
export interface CropConfig {
  /** Attempts before falling back to a plain resize (reference: 10). */
  tries: number;
  /** Range of the crop area as a fraction of the image area (reference: [0.64, 1]). */
  area: [number, number];
  /** Range of the crop's height/width ratio (reference: [2, 3]). */
  aspect: [number, number];
}

/** RandomErasing parameters (ECN/CamStyle version). */
export interface ErasingConfig {
  /** Probability of erasing a rectangle (reference `--re`: 0.5). */
  prob: number;
  /** Range of the erased area fraction (reference: [0.02, 0.2]). */
  area: [number, number];
  /** Range of the rectangle's h/w ratio (reference: uniform(0.3, 3)). */
  aspect: [number, number];
  /** Attempts to place a rectangle that fits (reference: 100). */
  attempts: number;
  /**
   * Per-channel fill, written AFTER normalization as raw values, as the reference does.
   * ECN/CamStyle default: the ImageNet mean [0.485, 0.456, 0.406].
   */
  fill: Rgb;
}

/** A serializable transform description (it travels to the loader's workers). */
export interface TransformConfig {
  /** "train" for the augmentation pipeline, "test" for resize + normalize. */
  kind: "train" | "test";
  /** Output height (reference 256). */
  height: number;
  /** Output width (reference 128). */
  width: number;
  /** Normalization mean (per weight file: ImageNet, or e.g. 0.5 for MobileNetV2 files). */
  mean: Rgb;
  /** Normalization std. */
  std: Rgb;
  /** Train only: the random crop, or null for a plain bilinear resize. */
  crop: CropConfig | null;
  /** Train only: probability of a horizontal flip (reference 0.5). */
  flipProb: number;
  /** Train only: random erasing, or null for none. */
  erasing: ErasingConfig | null;
}

/** Optional overrides of {@link trainTransformConfig} / {@link testTransformConfig}. */
export interface TransformOverrides {
  /** Output height (default 256). */
  height?: number;
  /** Output width (default 128). */
  width?: number;
  /** Normalization mean (default ImageNet). */
  mean?: Rgb;
  /** Normalization std (default ImageNet). */
  std?: Rgb;
  /** Crop settings, or null to disable (train only). */
  crop?: CropConfig | null;
  /** Flip probability (train only, default 0.5). */
  flipProb?: number;
  /** Erasing settings or null to disable (train only); `erasingProb` is a shortcut. */
  erasing?: ErasingConfig | null;
  /** Erasing probability (reference `--re`, default 0.5); 0 disables erasing. */
  erasingProb?: number;
  /** Erasing fill values (default: the ImageNet mean, as ECN). */
  erasingFill?: Rgb;
}

/** The reference training pipeline with optional overrides. */
export function trainTransformConfig(o: TransformOverrides = {}): TransformConfig {
  const erasing: ErasingConfig | null = o.erasing !== undefined ? o.erasing : {
    prob: o.erasingProb ?? 0.5,
    area: [0.02, 0.2],
    aspect: [0.3, 3],
    attempts: 100,
    fill: o.erasingFill ?? [...IMAGENET_MEAN],
  };
  const cfg: TransformConfig = {
    kind: "train",
    height: o.height ?? 256,
    width: o.width ?? 128,
    mean: o.mean ?? [...IMAGENET_MEAN],
    std: o.std ?? [...IMAGENET_STD],
    crop: o.crop !== undefined ? o.crop : { tries: 10, area: [0.64, 1], aspect: [2, 3] },
    flipProb: o.flipProb ?? 0.5,
    erasing: erasing && erasing.prob > 0 ? erasing : null,
  };
  validateTransformConfig(cfg);
  return cfg;
}

/** The reference test transform: bicubic resize to height x width, then normalize. */
export function testTransformConfig(o: TransformOverrides = {}): TransformConfig {
  const cfg: TransformConfig = {
    kind: "test",
    height: o.height ?? 256,
    width: o.width ?? 128,
    mean: o.mean ?? [...IMAGENET_MEAN],
    std: o.std ?? [...IMAGENET_STD],
    crop: null,
    flipProb: 0,
    erasing: null,
  };
  validateTransformConfig(cfg);
  return cfg;
}

/** Throws with the offending field when a config cannot work. */
export function validateTransformConfig(cfg: TransformConfig): void {
  const bad = (what: string): never => {
    throw new Error(`transform config: ${what} (got ${JSON.stringify(cfg)})`);
  };
  if (cfg.kind !== "train" && cfg.kind !== "test") bad(`kind must be "train" or "test"`);
  if (!Number.isInteger(cfg.height) || !Number.isInteger(cfg.width)) bad("integer size needed");
  if (cfg.height <= 0 || cfg.width <= 0) bad("height and width must be positive");
  for (const v of [...cfg.mean, ...cfg.std]) if (!Number.isFinite(v)) bad("finite mean/std");
  if (cfg.mean.length !== 3 || cfg.std.length !== 3) bad("mean and std need 3 values");
  if (cfg.std.some((s) => s === 0)) bad("std must be non-zero");
  if (!(cfg.flipProb >= 0 && cfg.flipProb <= 1)) bad("flipProb must be in [0, 1]");
  if (cfg.crop) {
    const { tries, area, aspect } = cfg.crop;
    if (!(tries >= 0) || !(area[0] > 0 && area[0] <= area[1]) || !(aspect[0] > 0)) {
      bad("crop needs tries >= 0, 0 < area[0] <= area[1], aspect > 0");
    }
  }
  if (cfg.erasing) {
    const e = cfg.erasing;
    if (!(e.prob >= 0 && e.prob <= 1) || !(e.area[0] >= 0 && e.area[0] <= e.area[1])) {
      bad("erasing needs prob in [0,1] and 0 <= area[0] <= area[1]");
    }
    if (!(e.aspect[0] > 0) || e.fill.length !== 3) bad("erasing needs aspect > 0 and 3 fills");
  }
}

/** Floats per output image: 3 * height * width. */
export function imageSize(cfg: TransformConfig): number {
  return 3 * cfg.height * cfg.width;
}

// ---------------------------------------------------------------------------------------
// Pipeline

/** Per-config normalization table: float32 value of every 8-bit level per channel. */
const lutCache = new WeakMap<TransformConfig, Float32Array>();

function normLut(cfg: TransformConfig): Float32Array {
  let lut = lutCache.get(cfg);
  if (!lut) {
    // Same float32 steps as ToTensor (x/255) then Normalize ((x - m) / s), so results match
    // torchvision bit for bit.
    lut = new Float32Array(3 * 256);
    const f = Math.fround;
    for (let c = 0; c < 3; c++) {
      const m = f(cfg.mean[c]), s = f(cfg.std[c]);
      for (let v = 0; v < 256; v++) lut[c * 256 + v] = f(f(f(v) / 255) - m) / s;
    }
    lutCache.set(cfg, lut);
  }
  return lut;
}

/** The crop that RandomSizedRectCrop draws, or null for the fallback resize. */
export function drawRectCrop(
  imgWidth: number,
  imgHeight: number,
  crop: CropConfig,
  rng: Rng,
): { x: number; y: number; width: number; height: number } | null {
  const area = imgWidth * imgHeight;
  for (let t = 0; t < crop.tries; t++) {
    const target = rng.uniform(crop.area[0], crop.area[1]) * area;
    const aspect = rng.uniform(crop.aspect[0], crop.aspect[1]);
    const h = pyRound(Math.sqrt(target * aspect));
    const w = pyRound(Math.sqrt(target / aspect));
    if (w <= imgWidth && h <= imgHeight) {
      const x = rng.int(0, imgWidth - w);
      const y = rng.int(0, imgHeight - h);
      return { x, y, width: w, height: h };
    }
  }
  return null;
}

/** Python 3's round(): halves go to the even neighbour. */
function pyRound(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Draws and applies RandomErasing to a CHW image in `out` at `offset`. Returns the
 * erased rectangle (for tests and the grid tool) or null.
 */
export function randomErase(
  out: Float32Array,
  offset: number,
  height: number,
  width: number,
  e: ErasingConfig,
  rng: Rng,
): { x: number; y: number; width: number; height: number } | null {
  // Reference: `if random.uniform(0, 1) > EPSILON: return img`.
  if (rng.next() > e.prob) return null;
  const area = height * width;
  for (let a = 0; a < e.attempts; a++) {
    const target = rng.uniform(e.area[0], e.area[1]) * area;
    const aspect = rng.uniform(e.aspect[0], e.aspect[1]);
    const h = pyRound(Math.sqrt(target * aspect));
    const w = pyRound(Math.sqrt(target / aspect));
    if (w <= width && h <= height) {
      const y1 = rng.int(0, height - h);
      const x1 = rng.int(0, width - w);
      for (let c = 0; c < 3; c++) {
        const v = Math.fround(e.fill[c]);
        const base = offset + c * area;
        for (let y = y1; y < y1 + h; y++) {
          const row = base + y * width;
          out.fill(v, row + x1, row + x1 + w);
        }
      }
      return { x: x1, y: y1, width: w, height: h };
    }
  }
  return null;
}

/** What a train transform drew, for tests and visual checks. */
export interface TrainDraws {
  /** The crop rectangle in source pixels, or null when the fallback resize was used. */
  crop: { x: number; y: number; width: number; height: number } | null;
  /** Whether the image was mirrored. */
  flipped: boolean;
  /** The erased rectangle in output pixels, or null. */
  erased: { x: number; y: number; width: number; height: number } | null;
}

/**
 * Applies `cfg` to `img`, writing 3 x height x width floats (CHW) into `out` at `offset`
 * (a fresh array when `out` is omitted). `rng` is required for "train" configs.
 */
export function applyTransform(
  img: RgbImage,
  cfg: TransformConfig,
  rng?: Rng,
  out?: Float32Array,
  offset = 0,
): { out: Float32Array; draws: TrainDraws } {
  const size = imageSize(cfg);
  const dst = out ?? new Float32Array(size);
  if (offset < 0 || offset + size > dst.length) {
    throw new Error(
      `applyTransform: output needs ${size} floats at offset ${offset}, array has ${dst.length}`,
    );
  }
  const lut = normLut(cfg);
  if (cfg.kind === "test") {
    resampleToPlanar(img, cfg.width, cfg.height, "bicubic", {}, lut, dst, offset);
    return { out: dst, draws: { crop: null, flipped: false, erased: null } };
  }
  if (!rng) throw new Error("applyTransform: a train transform needs a seeded Rng");
  const crop = cfg.crop ? drawRectCrop(img.width, img.height, cfg.crop, rng) : null;
  // torchvision's RandomHorizontalFlip: flip when rand < p.
  const flipped = cfg.flipProb > 0 && rng.next() < cfg.flipProb;
  const opts = { crop: crop ?? undefined, flip: flipped };
  resampleToPlanar(img, cfg.width, cfg.height, "bilinear", opts, lut, dst, offset);
  const erased = cfg.erasing
    ? randomErase(dst, offset, cfg.height, cfg.width, cfg.erasing, rng)
    : null;
  return { out: dst, draws: { crop, flipped, erased } };
}

/**
 * Inverse of ToTensor + Normalize for viewing: CHW floats at `offset` back to an 8-bit
 * RGB image (values clamped; erased areas show their fill as a colour).
 */
export function denormalizeToRgb(
  chw: Float32Array,
  cfg: TransformConfig,
  offset = 0,
): RgbImage {
  const { height, width } = cfg;
  const plane = height * width;
  if (offset < 0 || offset + 3 * plane > chw.length) {
    throw new Error(
      `denormalizeToRgb: needs ${3 * plane} floats at offset ${offset}, array has ${chw.length}`,
    );
  }
  const data = new Uint8Array(plane * 3);
  for (let c = 0; c < 3; c++) {
    const m = cfg.mean[c], s = cfg.std[c];
    for (let i = 0; i < plane; i++) {
      const v = Math.round((chw[offset + c * plane + i] * s + m) * 255);
      data[i * 3 + c] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
  return { width, height, data };
}
