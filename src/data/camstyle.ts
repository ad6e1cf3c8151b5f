/**
 * CamStyle images for ECN's camera-invariance: lookup of camera-style transferred copies of the
 * target training images, an upfront completeness check, and a generator for data sets that
 * have none.
 *
 * Naming (reference): Market-1501 / DukeMTMC-reID
 * `bounding_box_train_camstyle/{stem}_fake_{c}to{c'}.jpg`, MSMT17 `{stem}_fake_{c'}.jpg`, with
 * 1-based cameras.
 *
 * @module
 */

import type { ReidDataset, ReidItem } from "./datasets.ts";
import { encodeJpeg, readImage, resizeBilinear, type RgbImage } from "./image.ts";
import { gaussianBlur } from "./filters.ts";

/** "pair": `{stem}_fake_{c}to{c'}.jpg` (Market, Duke); "target": `{stem}_fake_{c'}.jpg` (MSMT17). */
export type CamStyleNaming = "pair" | "target";

/** The reference's folder name for CamStyle images, next to `bounding_box_train/`. */
export const CAMSTYLE_DIR_NAME = "bounding_box_train_camstyle";

/**
 * File that {@link generateCamStyle} writes beside the copies: the settings they were made with
 * (mode, sharpness, JPEG quality, naming), checked when a stopped run is resumed.
 */
export const CAMSTYLE_MANIFEST = "camstyle.json";

/** The naming the reference uses for a data set: "target" when its root or name says MSMT. */
export function camStyleNamingFor(dataset: ReidDataset): CamStyleNaming {
  return /msmt/i.test(dataset.root) || /msmt/i.test(dataset.name) ? "target" : "pair";
}

/** File name of the copy of `stem` (taken with 0-based camera `fromCam`) in the style of `toCam`. */
export function camStyleFileName(
  stem: string,
  fromCam: number,
  toCam: number,
  naming: CamStyleNaming,
): string {
  return naming === "target"
    ? `${stem}_fake_${toCam + 1}.jpg`
    : `${stem}_fake_${fromCam + 1}to${toCam + 1}.jpg`;
}

function join(...parts: string[]): string {
  return parts.join("/").replace(/\/{2,}/g, "/");
}

function stemOf(path: string): string {
  const b = path.split("/").pop() ?? path;
  const i = b.lastIndexOf(".");
  return i > 0 ? b.slice(0, i) : b;
}

function existsSync(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

function readdirSync(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name);
}

/** Options of {@link CamStyleIndex}. */
export interface CamStyleIndexOptions {
  /** Folder of the CamStyle images; default `{root}/bounding_box_train_camstyle`. */
  dir?: string;
  /** File naming; default from {@link camStyleNamingFor}. */
  naming?: CamStyleNaming;
}

/** Result of {@link CamStyleIndex.check}. */
export interface CamStyleReport {
  /** The folder checked. */
  dir: string;
  /** Expected file-name pattern. */
  pattern: string;
  /** Number of files needed (train images x other cameras). */
  expected: number;
  /** Paths of the needed files that are absent. */
  missing: string[];
}

/** Looks up CamStyle copies of a data set's training images. */
export class CamStyleIndex {
  /** Folder of the CamStyle images. */
  readonly dir: string;
  /** File naming in use. */
  readonly naming: CamStyleNaming;
  /** Cameras drawn from (the data set's camera count). */
  readonly numCams: number;
  /** The training images whose copies are looked up. */
  readonly items: readonly ReidItem[];
  #report: CamStyleReport | undefined;

  /** Indexes `dataset.train`; nothing is read until {@link check}. */
  constructor(dataset: ReidDataset, opts: CamStyleIndexOptions = {}) {
    this.dir = opts.dir ?? join(dataset.root, CAMSTYLE_DIR_NAME);
    this.naming = opts.naming ?? camStyleNamingFor(dataset);
    this.numCams = dataset.numCams;
    this.items = dataset.train;
  }

  /** The expected path pattern, for messages. */
  get pattern(): string {
    const name = this.naming === "target" ? "{stem}_fake_{c'}.jpg" : "{stem}_fake_{c}to{c'}.jpg";
    return `${this.dir}/${name} (cameras 1-based)`;
  }

  /** Path of `item` in the style of 0-based camera `cam`; its own camera gives the original. */
  pathFor(item: ReidItem, cam: number): string {
    if (!Number.isInteger(cam) || cam < 0 || cam >= this.numCams) {
      throw new Error(`camera ${cam} out of range 0..${this.numCams - 1} for ${item.path}`);
    }
    if (cam === item.cam) return item.path;
    return join(this.dir, camStyleFileName(stemOf(item.path), item.cam, cam, this.naming));
  }

  /**
   * Draws a camera uniformly from 0..numCams-1 with `rng` (values in [0, 1)) and returns the
   * image to load: the original for the item's own camera, else its CamStyle copy.
   */
  pickCamStyle(item: ReidItem, rng: () => number): string {
    const cam = Math.min(this.numCams - 1, Math.floor(rng() * this.numCams));
    return this.pathFor(item, cam);
  }

  /**
   * Verifies once, before training, that every needed copy exists (one directory listing).
   * Throws a single error with the count, the pattern and a few examples when some are missing,
   * unless `throwOnMissing` is false; later calls return the cached report.
   */
  check(opts: { throwOnMissing?: boolean } = {}): CamStyleReport {
    if (!this.#report) {
      let present: Set<string>;
      try {
        present = new Set(readdirSync(this.dir));
      } catch {
        present = new Set();
      }
      const missing: string[] = [];
      let expected = 0;
      for (const item of this.items) {
        for (let c = 0; c < this.numCams; c++) {
          if (c === item.cam) continue;
          expected++;
          const name = camStyleFileName(stemOf(item.path), item.cam, c, this.naming);
          if (!present.has(name)) missing.push(join(this.dir, name));
        }
      }
      this.#report = { dir: this.dir, pattern: this.pattern, expected, missing };
    }
    const r = this.#report;
    if (r.missing.length > 0 && opts.throwOnMissing !== false) {
      const folderNote = existsSync(this.dir) ? "" : ` (the folder ${this.dir} does not exist)`;
      throw new Error(
        `CamStyle images missing: ${r.missing.length} of ${r.expected} expected files ` +
          `matching ${r.pattern}${folderNote}, e.g. ${r.missing.slice(0, 3).join(", ")}. ` +
          `Generate them with \`deno task camstyle --data ROOT --out DIR\` and pass DIR as the ` +
          `CamStyle folder, or train without camera-invariance.`,
      );
    }
    return r;
  }
}

// ---------------------------------------------------------------------------------------
// Generation

// Reinhard et al. 2001: RGB -> LMS -> log10 -> l-alpha-beta, a decorrelated opponent space.
const RGB2LMS = [0.3811, 0.5783, 0.0402, 0.1967, 0.7244, 0.0782, 0.0241, 0.1288, 0.8444];
const LMS2RGB = [4.4679, -3.5873, 0.1193, -1.2186, 2.3809, -0.1624, 0.0497, -0.2439, 1.2045];
const EPS = 1 / 255; // log offset: keeps black pixels finite and the round trip exact
const S3 = 1 / Math.sqrt(3);
const S6 = 1 / Math.sqrt(6);
const S2 = 1 / Math.sqrt(2);

/** Converts an 8-bit RGB image to planar l-alpha-beta (3 x H*W floats). */
export function rgbToLab(img: RgbImage): Float32Array {
  const n = img.width * img.height;
  const out = new Float32Array(3 * n);
  const d = img.data;
  const m = RGB2LMS;
  for (let i = 0; i < n; i++) {
    const r = d[3 * i] / 255, g = d[3 * i + 1] / 255, b = d[3 * i + 2] / 255;
    const L = Math.log10(m[0] * r + m[1] * g + m[2] * b + EPS);
    const M = Math.log10(m[3] * r + m[4] * g + m[5] * b + EPS);
    const S = Math.log10(m[6] * r + m[7] * g + m[8] * b + EPS);
    out[i] = S3 * (L + M + S);
    out[n + i] = S6 * (L + M - 2 * S);
    out[2 * n + i] = S2 * (L - M);
  }
  return out;
}

/** Converts planar l-alpha-beta back to 8-bit RGB (clamped, rounded). */
export function labToRgb(lab: Float32Array, width: number, height: number): RgbImage {
  const n = width * height;
  const data = new Uint8Array(3 * n);
  const m = LMS2RGB;
  const q3 = Math.sqrt(3) / 3, q6 = Math.sqrt(6) / 6, q2 = Math.sqrt(2) / 2;
  for (let i = 0; i < n; i++) {
    const l = lab[i] * q3, a = lab[n + i] * q6, b = lab[2 * n + i] * q2;
    const L = Math.pow(10, l + a + b) - EPS;
    const M = Math.pow(10, l + a - b) - EPS;
    const S = Math.pow(10, l - 2 * a) - EPS;
    for (let c = 0; c < 3; c++) {
      const v = (m[3 * c] * L + m[3 * c + 1] * M + m[3 * c + 2] * S) * 255;
      data[3 * i + c] = v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
    }
  }
  return { width, height, data };
}

/** Number of quantiles kept per channel and camera. */
const QUANTILES = 257;

/** A camera's colour statistics in l-alpha-beta, learned from its training images. */
export interface CameraStyle {
  /** 0-based camera. */
  cam: number;
  /** Images the statistics came from. */
  images: number;
  /** Per-channel mean. */
  mean: [number, number, number];
  /** Per-channel standard deviation. */
  std: [number, number, number];
  /** Per channel, QUANTILES sorted values at probabilities i/(QUANTILES-1). */
  quantiles: [Float64Array, Float64Array, Float64Array];
}

/** Style transfer variant: quantile (histogram) matching, or Reinhard mean/std matching. */
export type CamStyleMode = "quantile" | "reinhard";

/**
 * Learns each camera's colour style from its own training images (at most `maxImagesPerCam`
 * per camera, evenly spread over the sorted list so the result is deterministic).
 */
export async function learnCameraStyles(
  dataset: ReidDataset,
  opts: { maxImagesPerCam?: number; pixelStride?: number } = {},
): Promise<CameraStyle[]> {
  const maxImages = opts.maxImagesPerCam ?? 300;
  const stride = opts.pixelStride ?? 3;
  const styles: CameraStyle[] = [];
  for (let cam = 0; cam < dataset.numCams; cam++) {
    const items = dataset.train.filter((it) => it.cam === cam);
    if (items.length === 0) {
      throw new Error(
        `camera ${cam + 1} of ${dataset.name} (${dataset.root}) has no training images, so its ` +
          `style cannot be learned`,
      );
    }
    const used = Math.min(maxImages, items.length);
    const samples: number[][] = [[], [], []];
    for (let j = 0; j < used; j++) {
      const img = await readImage(items[Math.floor((j * items.length) / used)].path);
      const lab = rgbToLab(img);
      const n = img.width * img.height;
      for (let i = 0; i < n; i += stride) {
        for (let c = 0; c < 3; c++) samples[c].push(lab[c * n + i]);
      }
    }
    const mean: [number, number, number] = [0, 0, 0];
    const std: [number, number, number] = [0, 0, 0];
    const quantiles = [0, 1, 2].map((c) => {
      const v = Float64Array.from(samples[c]).sort();
      let s = 0, s2 = 0;
      for (const x of v) {
        s += x;
        s2 += x * x;
      }
      mean[c] = s / v.length;
      std[c] = Math.sqrt(Math.max(1e-12, s2 / v.length - mean[c] * mean[c]));
      const q = new Float64Array(QUANTILES);
      for (let i = 0; i < QUANTILES; i++) {
        const pos = (i / (QUANTILES - 1)) * (v.length - 1);
        const lo = Math.floor(pos);
        const hi = Math.min(v.length - 1, lo + 1);
        q[i] = v[lo] + (v[hi] - v[lo]) * (pos - lo);
      }
      return q;
    }) as [Float64Array, Float64Array, Float64Array];
    styles.push({ cam, images: used, mean, std, quantiles });
  }
  return styles;
}

/** Maps x through source quantiles to the target's: F_to^-1(F_from(x)), linear in between. */
function quantileMap(x: number, from: Float64Array, to: Float64Array, slope: number): number {
  const last = from.length - 1;
  // Outside the learned range: continue linearly with the std ratio.
  if (x <= from[0]) return to[0] + (x - from[0]) * slope;
  if (x >= from[last]) return to[last] + (x - from[last]) * slope;
  let lo = 0, hi = last;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (from[mid] <= x) lo = mid;
    else hi = mid;
  }
  const span = from[hi] - from[lo];
  const t = span > 0 ? (x - from[lo]) / span : 0.5;
  return to[lo] + (to[hi] - to[lo]) * t;
}

/**
 * Re-renders an image taken by camera `from` in the style of camera `to`.
 *
 * What it approximates: the global appearance change between two cameras that the reference's
 * StarGAN/CycleGAN CamStyle images mostly carry — white balance / colour cast, brightness,
 * contrast and tone curve — as a per-channel transfer in Reinhard's decorrelated l-alpha-beta
 * space. "quantile" matches each channel's whole distribution (brightness/contrast curves
 * included); "reinhard" matches only mean and standard deviation.
 *
 * How it differs from the GAN images: the mapping is global and per pixel, so it does not
 * change blur (that is {@link adjustSharpness}, the `sharpness` option of
 * {@link generateCamStyle}), noise, resolution, background content, pose or body shape, and it
 * has no GAN artefacts; statistics are per camera, not per scene, so a bright image stays relatively
 * bright. It is a weaker augmentation than the reference's, and results with it should say so.
 */
export function transferStyle(
  img: RgbImage,
  from: CameraStyle,
  to: CameraStyle,
  mode: CamStyleMode = "quantile",
  lab: Float32Array = rgbToLab(img),
): RgbImage {
  const n = img.width * img.height;
  const out = new Float32Array(3 * n);
  for (let c = 0; c < 3; c++) {
    const slope = to.std[c] / from.std[c];
    const qf = from.quantiles[c], qt = to.quantiles[c];
    const mf = from.mean[c], mt = to.mean[c];
    for (let i = c * n; i < (c + 1) * n; i++) {
      out[i] = mode === "quantile"
        ? quantileMap(lab[i], qf, qt, slope)
        : (lab[i] - mf) * slope + mt;
    }
  }
  return labToRgb(out, img.width, img.height);
}

// ---------------------------------------------------------------------------------------
// Sharpness (camera optics, resolution, compression): what a colour transfer leaves unchanged

/** Strongest blur (Gaussian sigma, pixels) and sharpening (unsharp amount) a transfer applies. */
export const MAX_SHARPNESS_ADJUST = 3;

function lumaPlane(img: RgbImage): Float32Array {
  const n = img.width * img.height;
  const out = new Float32Array(n);
  const d = img.data;
  for (let i = 0; i < n; i++) {
    out[i] = 0.299 * d[3 * i] + 0.587 * d[3 * i + 1] + 0.114 * d[3 * i + 2];
  }
  return out;
}

/** Sharpness of one plane: mean squared 4-neighbour Laplacian over the interior / variance. */
function planeSharpness(p: Float32Array, w: number, h: number): number {
  if (w < 3 || h < 3) return NaN;
  let s = 0, s2 = 0;
  for (let i = 0; i < w * h; i++) {
    s += p[i];
    s2 += p[i] * p[i];
  }
  const variance = s2 / (w * h) - (s / (w * h)) ** 2;
  if (!(variance > 1e-6)) return NaN;
  let e = 0;
  for (let y = 1; y < h - 1; y++) {
    for (let x = 1; x < w - 1; x++) {
      const i = y * w + x;
      const l = 4 * p[i] - p[i - 1] - p[i + 1] - p[i - w] - p[i + w];
      e += l * l;
    }
  }
  return e / ((w - 2) * (h - 2)) / variance;
}

/**
 * Sharpness of an image: the mean squared Laplacian of its luma divided by the luma's variance
 * (scale-free: a brighter or more contrasted copy of the same scene has the same value). Blur
 * lowers it; sharpening, noise and compression artefacts raise it. NaN for a flat image or one
 * smaller than 3x3.
 */
export function sharpnessOf(img: RgbImage): number {
  return planeSharpness(lumaPlane(img), img.width, img.height);
}

/**
 * {@link adjustSharpness} on an interleaved float buffer, without clamping; returns `buf` itself
 * for 0.
 */
function adjusted(
  buf: Float32Array,
  w: number,
  h: number,
  channels: number,
  amount: number,
): Float32Array {
  if (amount === 0) return buf;
  const out = Float32Array.from(buf);
  gaussianBlur(out, w, h, channels, amount < 0 ? -amount : 1);
  if (amount > 0) {
    for (let i = 0; i < buf.length; i++) out[i] = buf[i] + amount * (buf[i] - out[i]);
  }
  return out;
}

/**
 * Makes an image blurrier or sharper: `amount` < 0 blurs with a Gaussian of sigma `-amount`
 * pixels, `amount` > 0 sharpens with an unsharp mask (`x + amount * (x - blur_1(x))`), 0 returns
 * the image unchanged. Both are linear filters, so the luma of the result is the filtered luma.
 */
export function adjustSharpness(img: RgbImage, amount: number): RgbImage {
  if (!Number.isFinite(amount) || Math.abs(amount) > MAX_SHARPNESS_ADJUST) {
    throw new Error(
      `sharpness adjustment ${amount} is outside -${MAX_SHARPNESS_ADJUST}..${MAX_SHARPNESS_ADJUST}`,
    );
  }
  if (amount === 0) return img;
  const out = adjusted(Float32Array.from(img.data), img.width, img.height, 3, amount);
  const data = new Uint8Array(out.length);
  for (let i = 0; i < out.length; i++) {
    const v = out[i];
    data[i] = v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
  }
  return { width: img.width, height: img.height, data };
}

function median(values: number[]): number {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

/**
 * A fitter for one set of samples: the lumas and the median sharpness at no, the strongest blur and
 * the strongest sharpening are computed once, then each target costs only its bisection. `median`:
 * the samples' median sharpness as they are.
 */
function sharpnessFitter(
  samples: readonly RgbImage[],
): { median: number; fit: (target: number) => number } {
  const planes = samples.map((s) => ({ p: lumaPlane(s), w: s.width, h: s.height }));
  const at = (a: number) =>
    median(planes.map((q) => planeSharpness(adjusted(q.p, q.w, q.h, 1, a), q.w, q.h)));
  const now = at(0);
  if (!Number.isFinite(now)) return { median: now, fit: () => 0 };
  const M = MAX_SHARPNESS_ADJUST;
  const least = at(-M), most = at(M);
  const fit = (target: number) => {
    if (!Number.isFinite(target)) return 0;
    if (target <= least) return -M;
    if (target >= most) return M;
    let lo = target < now ? -M : 0, hi = target < now ? 0 : M;
    for (let it = 0; it < 14; it++) {
      const mid = (lo + hi) / 2;
      if (at(mid) < target) lo = mid;
      else hi = mid;
    }
    return (lo + hi) / 2;
  };
  return { median: now, fit };
}

/**
 * The adjustment (see {@link adjustSharpness}) that brings the median sharpness of `samples` to
 * `target`, by bisection (sharpness grows with the amount); clamped to
 * ±{@link MAX_SHARPNESS_ADJUST}; 0 when the samples or the target carry no measurable sharpness.
 */
export function fitSharpness(samples: readonly RgbImage[], target: number): number {
  return sharpnessFitter(samples).fit(target);
}

/** Result of {@link fitSharpnessTransfers}. */
export interface SharpnessTransfers {
  /** Per 0-based camera, the median sharpness ({@link sharpnessOf}) of its sampled images. */
  sharpness: number[];
  /** `amount[from][to]`: the adjustment that gives camera `from`'s images `to`'s sharpness. */
  amount: number[][];
}

/**
 * Measures every camera's sharpness from its training images (at most `imagesPerCam`, evenly
 * spread, deterministic) and fits, for every ordered pair of cameras, the blur or sharpening that
 * gives the first camera's images the second's median sharpness.
 */
export async function fitSharpnessTransfers(
  dataset: ReidDataset,
  opts: { imagesPerCam?: number } = {},
): Promise<SharpnessTransfers> {
  const per = opts.imagesPerCam ?? 64;
  const samples: RgbImage[][] = [];
  for (let cam = 0; cam < dataset.numCams; cam++) {
    const items = dataset.train.filter((it) => it.cam === cam);
    const used = Math.min(per, items.length);
    const imgs: RgbImage[] = [];
    for (let j = 0; j < used; j++) {
      imgs.push(await readImage(items[Math.floor((j * items.length) / used)].path));
    }
    samples.push(imgs);
  }
  const fitters = samples.map(sharpnessFitter);
  const sharpness = fitters.map((f) => f.median);
  const amount = fitters.map(({ fit }, from) =>
    sharpness.map((target, to) => (to === from ? 0 : fit(target)))
  );
  return { sharpness, amount };
}

// ---------------------------------------------------------------------------------------
// Background (the scene each camera looks at): what neither colour nor sharpness carries

/**
 * The soft person mask of {@link transferBackground}: an ellipse centred on the crop, its half
 * axes these fractions of the width and height, fading to the background over `fade` (in units
 * of the ellipse's radius, a smoothstep). Detector crops put the person in the middle, upright;
 * at 0.22 of the width the ellipse holds the body and the arms' inner half, the strips beside it
 * are scene. The default half width was 0.28 until the CPU protocol measured 0.22 better on both
 * directions (README, Results: "Which CamStyle copies, and why `--background`'s person width is
 * 0.22").
 */
export const BACKGROUND_MASK = { halfWidth: 0.22, halfHeight: 0.62, fade: 0.5 } as const;

/**
 * The person ellipse half width of background copies whose `camstyle.json` records none: they were
 * made before the width was recorded, at the default of then, 0.28.
 */
export const UNRECORDED_PERSON_WIDTH = 0.28;

/** Whether `halfWidth` is a person ellipse half width {@link personMask} accepts: in (0, 1]. */
export function isPersonWidth(halfWidth: number): boolean {
  return halfWidth > 0 && halfWidth <= 1;
}

/** Throws, naming the value, unless {@link isPersonWidth}. */
function checkPersonWidth(halfWidth: number): void {
  if (!isPersonWidth(halfWidth)) {
    throw new Error(
      `person mask half width ${halfWidth}: expected a fraction of the width in (0, 1]`,
    );
  }
}

/**
 * Weight of the image (1) against the background (0) at each pixel of a `width` x `height` crop.
 * `halfWidth` (a fraction of the width, default {@link BACKGROUND_MASK}'s 0.22) narrows or widens
 * the ellipse: a narrower one gives more of each copy to the other camera's scene.
 */
export function personMask(
  width: number,
  height: number,
  halfWidth: number = BACKGROUND_MASK.halfWidth,
): Float32Array {
  checkPersonWidth(halfWidth);
  const { halfHeight, fade } = BACKGROUND_MASK;
  const m = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    const dy = (y + 0.5 - height / 2) / (halfHeight * height);
    for (let x = 0; x < width; x++) {
      const dx = (x + 0.5 - width / 2) / (halfWidth * width);
      const t = Math.min(1, Math.max(0, (Math.sqrt(dx * dx + dy * dy) - 1) / fade));
      m[y * width + x] = 1 - t * t * (3 - 2 * t);
    }
  }
  return m;
}

/**
 * Puts the person of `img` in front of the scene of `bg` (another image of the camera the copy is
 * styled for, resized to `img`'s size, bilinear): `mask * img + (1 - mask) * bg` with
 * {@link personMask}. What it approximates: the part of a camera's style a GAN copy carries in
 * its background (the scene's layout, light and texture around the person), which a global
 * colour or sharpness transfer leaves as the source camera's. A crude cut-out, not a segmentation:
 * limbs reaching beyond the ellipse fade into the other scene, and parts of the other image's
 * pedestrian may show at the sides (as other pedestrians do in real crops).
 */
export function transferBackground(
  img: RgbImage,
  bg: RgbImage,
  mask: Float32Array = personMask(img.width, img.height),
): RgbImage {
  const { width: w, height: h } = img;
  if (mask.length !== w * h) {
    throw new Error(`person mask of ${mask.length} values for a ${w}x${h} image`);
  }
  const b = bg.width === w && bg.height === h ? bg : resizeBilinear(bg, w, h);
  const data = new Uint8Array(3 * w * h);
  for (let i = 0; i < w * h; i++) {
    const m = mask[i];
    for (let c = 0; c < 3; c++) {
      const v = m * img.data[3 * i + c] + (1 - m) * b.data[3 * i + c];
      data[3 * i + c] = Math.round(v);
    }
  }
  return { width: w, height: h, data };
}

/**
 * The image whose scene the copy of training image `k` for camera `to` gets: one of `to`'s
 * training images (not of the same identity), picked by a hash of (k, to) so that the choice is
 * deterministic and does not depend on which copies a resumed run still has to make. Not
 * `hashSeed` of src/util/random.ts on purpose: the published figures were measured with copies
 * picked by this hash, and `camstyle.json` records no hash version, so a switch would let a
 * resumed folder mix two draws and the README's commands give other copies than its tables.
 */
export function backgroundIndex(k: number, to: number, candidates: number): number {
  let x = (Math.imul(k + 1, 0x9e3779b1) ^ Math.imul(to + 1, 0x85ebca77)) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d) >>> 0;
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b) >>> 0;
  return ((x ^ (x >>> 16)) >>> 0) % candidates;
}

/** Options of {@link generateCamStyle}. */
export interface GenerateCamStyleOptions {
  /** Transfer variant; default "quantile". */
  mode?: CamStyleMode;
  /** File naming; default from {@link camStyleNamingFor}. */
  naming?: CamStyleNaming;
  /** JPEG quality of the written copies; default 95. */
  quality?: number;
  /** Images per camera used to learn its style; default 300. */
  maxImagesPerCam?: number;
  /** Rewrite files that already exist; default false (resumes an interrupted run). */
  overwrite?: boolean;
  /**
   * Also transfer each camera's sharpness ({@link fitSharpnessTransfers}): blur a copy going to a
   * blurrier camera, sharpen one going to a sharper camera; default true (false: colour only).
   */
  sharpness?: boolean;
  /**
   * Also put each copy in front of a scene of the camera it is styled for
   * ({@link transferBackground}); default false.
   */
  background?: boolean;
  /**
   * Half width of the person ellipse with `background`, a fraction of the crop width
   * ({@link personMask}); default {@link BACKGROUND_MASK}'s 0.22.
   */
  personWidth?: number;
  /** Called every 500 source images and at the end. */
  onProgress?: (done: number, total: number) => void;
}

/**
 * A CamStyle manifest as a string that two equal settings share whatever their key order; a
 * background folder that records no person width is given {@link UNRECORDED_PERSON_WIDTH}, the
 * width it was made with.
 */
function canonicalSettings(settings: unknown): string {
  if (typeof settings !== "object" || settings === null) return JSON.stringify(settings);
  const s: Record<string, unknown> = { ...settings };
  if (s.background === true && s.personWidth === undefined) {
    s.personWidth = UNRECORDED_PERSON_WIDTH;
  }
  return JSON.stringify(Object.fromEntries(Object.entries(s).sort(([a], [b]) => a < b ? -1 : 1)));
}

/** Result of {@link generateCamStyle}. */
export interface GenerateCamStyleResult {
  /** The folder written. */
  outDir: string;
  /** Files written. */
  written: number;
  /** Files that existed and were kept. */
  kept: number;
  /** The learned camera styles. */
  styles: CameraStyle[];
  /** The fitted sharpness transfers; absent for colour-only copies (`sharpness: false`). */
  sharpness?: SharpnessTransfers;
}

/**
 * Writes a CamStyle folder for a data set that has none: for every training image and every
 * other camera, a copy in that camera's style ({@link transferStyle}, then with `sharpness` that
 * camera's sharpness, {@link adjustSharpness}, then with `background` in front of one of that
 * camera's scenes, {@link transferBackground}), named as the reference expects, so
 * {@link CamStyleIndex} finds it.
 */
export async function generateCamStyle(
  dataset: ReidDataset,
  outDir: string,
  opts: GenerateCamStyleOptions = {},
): Promise<GenerateCamStyleResult> {
  const mode = opts.mode ?? "quantile";
  if (mode !== "quantile" && mode !== "reinhard") {
    throw new Error(`CamStyle mode "${mode}" is not one of quantile, reinhard`);
  }
  const naming = opts.naming ?? camStyleNamingFor(dataset);
  const quality = opts.quality ?? 95;
  const personWidth = opts.personWidth ?? BACKGROUND_MASK.halfWidth;
  if (opts.personWidth !== undefined && !opts.background) {
    throw new Error(`a person width (${personWidth}) needs background copies`);
  }
  checkPersonWidth(personWidth);
  if (dataset.numCams < 2) {
    throw new Error(`${dataset.name} has ${dataset.numCams} camera(s); CamStyle needs at least 2`);
  }
  try {
    Deno.mkdirSync(outDir, { recursive: true });
  } catch (e) {
    throw new Error(`cannot create the CamStyle folder ${outDir}: ${(e as Error).message}`);
  }
  // The settings the copies are made with, kept beside them: a resumed run must not mix copies
  // made one way with copies made another.
  const settings: Record<string, unknown> = {
    mode,
    sharpness: opts.sharpness ?? true,
    quality,
    naming,
  };
  // Background recorded only when on, so folders made before the option existed still resume;
  // its person width always with it (canonicalSettings reads an unrecorded one as 0.28).
  if (opts.background) {
    settings.background = true;
    settings.personWidth = personWidth;
  }
  const manifest = join(outDir, CAMSTYLE_MANIFEST);
  const existing = opts.overwrite ? new Set<string>() : new Set(readdirSync(outDir));
  const copies = [...existing].filter((n) => n.includes("_fake_")).length;
  if (copies > 0 && !existing.has(CAMSTYLE_MANIFEST)) {
    throw new Error(
      `${outDir} holds ${copies} CamStyle image(s) but no ${CAMSTYLE_MANIFEST}: they were made ` +
        `before the settings were recorded (then colour only by default), so a resumed run could ` +
        `mix two kinds; pass overwrite (--overwrite) to remake them, or write to another folder`,
    );
  }
  if (existing.has(CAMSTYLE_MANIFEST)) {
    let before: unknown;
    try {
      before = JSON.parse(Deno.readTextFileSync(manifest));
    } catch (e) {
      throw new Error(`cannot read the CamStyle settings ${manifest}: ${(e as Error).message}`);
    }
    const made = canonicalSettings(before), asked = canonicalSettings(settings);
    if (made !== asked) {
      throw new Error(
        `${outDir} holds CamStyle images made with ${made} (${manifest}); ` +
          `this run asks for ${asked}: pass overwrite (--overwrite) to remake ` +
          `them, or write to another folder`,
      );
    }
  }
  Deno.writeTextFileSync(manifest, JSON.stringify(settings) + "\n");
  const styles = await learnCameraStyles(dataset, { maxImagesPerCam: opts.maxImagesPerCam });
  const sharpness = settings.sharpness ? await fitSharpnessTransfers(dataset) : undefined;
  let written = 0, kept = 0;
  const total = dataset.train.length;
  const byCam = Array.from({ length: dataset.numCams }, () => [] as ReidItem[]);
  for (const item of dataset.train) byCam[item.cam].push(item);
  const masks = new Map<string, Float32Array>();
  const sceneFor = async (k: number, item: ReidItem, to: number) => {
    const pool = byCam[to];
    let j = backgroundIndex(k, to, pool.length);
    for (let tries = 0; tries < pool.length && pool[j].pid === item.pid; tries++) {
      j = (j + 1) % pool.length;
    }
    return await readImage(pool[j].path);
  };
  for (let k = 0; k < total; k++) {
    const item = dataset.train[k];
    const stem = stemOf(item.path);
    const names: [number, string][] = [];
    for (let c = 0; c < dataset.numCams; c++) {
      if (c === item.cam) continue;
      const name = camStyleFileName(stem, item.cam, c, naming);
      if (existing.has(name)) kept++;
      else names.push([c, name]);
    }
    if (names.length > 0) {
      const img = await readImage(item.path);
      const lab = rgbToLab(img);
      for (const [c, name] of names) {
        let out = transferStyle(img, styles[item.cam], styles[c], mode, lab);
        if (sharpness) out = adjustSharpness(out, sharpness.amount[item.cam][c]);
        if (opts.background) {
          const key = `${out.width}x${out.height}`;
          let mask = masks.get(key);
          if (!mask) masks.set(key, mask = personMask(out.width, out.height, personWidth));
          out = transferBackground(out, await sceneFor(k, item, c), mask);
        }
        await Deno.writeFile(join(outDir, name), encodeJpeg(out, quality));
        written++;
      }
    }
    if (opts.onProgress && ((k + 1) % 500 === 0 || k + 1 === total)) opts.onProgress(k + 1, total);
  }
  return { outDir, written, kept, styles, sharpness };
}

/**
 * Whether `dir` (or its nearest existing ancestor) can be written: creates and removes a probe
 * file. Used by the CLI to refuse read-only targets with a clear message.
 */
export function isWritableDir(dir: string): boolean {
  let probeDir = dir.replace(/\/+$/, "") || "/";
  while (!existsSync(probeDir)) {
    const i = probeDir.lastIndexOf("/");
    probeDir = i < 0 ? "." : i === 0 ? "/" : probeDir.slice(0, i);
  }
  try {
    if (!Deno.statSync(probeDir).isDirectory) return false;
    const probe = join(probeDir, `.ecn_write_probe_${Deno.pid}`);
    Deno.writeFileSync(probe, new Uint8Array(0));
    Deno.removeSync(probe);
    return true;
  } catch {
    return false;
  }
}
