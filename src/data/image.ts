/**
 * 8-bit RGB images: JPEG/PNG decoding and encoding, and PIL-compatible resampling.
 *
 * JPEG and PNG go through libjpeg-turbo and libpng, the libraries Pillow and torchvision use, in a
 * small native library of their own (native/image/, loaded by src/data/codec_native.ts; no
 * libtorch), set up as Pillow sets them up, so decoded pixels equal `PIL.Image.open(f)
 * .convert("RGB")` exactly (tests/codec_test.ts checks every image of the data sets present).
 *
 * Resampling follows Pillow's `ImagingResample` (separable convolution, support scaled
 * by the downscale factor, i.e. antialiasing, 22-bit fixed-point coefficients, the
 * horizontal pass first into an 8-bit intermediate), so results equal
 * `PIL.Image.resize` exactly (tests compare with Pillow): the reference transforms use it.
 */

import {
  nativeDecodeJpeg,
  nativeDecodePng,
  nativeEncodeJpeg,
  nativeEncodePng,
} from "./codec_native.ts";
import { decodeBmp, isBmp } from "./bmp.ts";

/** An 8-bit RGB image stored row-major HWC: `data[(y * width + x) * 3 + c]`. */
export interface RgbImage {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** `width * height * 3` bytes, RGB interleaved. */
  data: Uint8Array;
}

const PNG_SIGNATURE = [137, 80, 78, 71, 13, 10, 26, 10];

function isPng(bytes: Uint8Array): boolean {
  if (bytes.length < 8) return false;
  for (let i = 0; i < 8; i++) if (bytes[i] !== PNG_SIGNATURE[i]) return false;
  return true;
}

function isJpeg(bytes: Uint8Array): boolean {
  return bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
}

/**
 * Decodes JPEG or PNG bytes (detected from the magic bytes, not the file name) to RGB, with
 * Pillow's pixels. `path` is only used in error messages. Throws when the data is truncated,
 * corrupt or in an unsupported format (16-bit PNG, JPEG with 2 components...).
 */
export function decodeImage(bytes: Uint8Array, path: string): RgbImage {
  if (isJpeg(bytes)) {
    const { width, height, data } = nativeDecodeJpeg(bytes, path);
    return { width, height, data };
  }
  if (isPng(bytes)) {
    const { width, height, data } = nativeDecodePng(bytes, path);
    return { width, height, data };
  }
  if (isBmp(bytes)) return decodeBmp(bytes, path);
  const head = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, "0")).join(" ");
  throw new Error(
    `${path}: unsupported image format (first bytes ${head || "<empty file>"}); ` +
      `expected JPEG (ff d8 ff), PNG (89 50 4e 47) or BMP (42 4d)`,
  );
}

/** Reads and decodes a JPEG or PNG file; errors name the path. */
export async function readImage(path: string): Promise<RgbImage> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new Error(
      `${path}: cannot read image file: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
  return decodeImage(bytes, path);
}

function checkImage(img: RgbImage, what: string): void {
  if (
    !Number.isInteger(img.width) || !Number.isInteger(img.height) || img.width <= 0 ||
    img.height <= 0 || img.data.length !== img.width * img.height * 3
  ) {
    throw new Error(
      `${what}: expected an RGB image with data.length = width*height*3, got ` +
        `${img.width}x${img.height} with ${img.data.length} bytes`,
    );
  }
}

/**
 * Encodes an RGB image as a baseline JPEG with libjpeg-turbo, as Pillow's
 * `img.save(f, "JPEG", quality=quality)` does (the same bytes): IJG tables scaled by `quality`
 * (an integer 1..100, default 90), YCbCr 4:2:0, standard Huffman tables, JFIF header.
 */
export function encodeJpeg(img: RgbImage, quality = 90): Uint8Array {
  checkImage(img, "encodeJpeg");
  if (!Number.isInteger(quality) || quality < 1 || quality > 100) {
    throw new Error(`encodeJpeg: quality must be an integer in 1..100, got ${quality}`);
  }
  if (img.width > 65500 || img.height > 65500) {
    throw new Error(
      `encodeJpeg: JPEG sides are at most 65500 pixels, got ${img.width}x${img.height}`,
    );
  }
  return nativeEncodeJpeg(img.data, img.width, img.height, quality);
}

/** Encodes an RGB image as an 8-bit truecolor, non-interlaced PNG with libpng (zlib level 6). */
export function encodePng(img: RgbImage): Uint8Array {
  checkImage(img, "encodePng");
  return nativeEncodePng(img.data, img.width, img.height, 6);
}

// ---------------------------------------------------------------------------------------
// Resampling (Pillow's algorithm)

/** Resampling filters with Pillow's definitions. */
export type ResampleFilter = "bilinear" | "bicubic";

const PRECISION_BITS = 32 - 8 - 2;
const HALF = 1 << (PRECISION_BITS - 1);

function bilinearFilter(x: number): number {
  x = Math.abs(x);
  return x < 1 ? 1 - x : 0;
}

function bicubicFilter(x: number): number {
  // Pillow's a = -0.5 (Keys' kernel).
  const a = -0.5;
  x = Math.abs(x);
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

/** Fixed-point coefficient table for one axis: output i reads `bounds[2i+1]` inputs from `bounds[2i]`. */
interface Coeffs {
  ksize: number;
  bounds: Int32Array;
  kk: Int32Array;
}

function precomputeCoeffs(inSize: number, outSize: number, filter: ResampleFilter): Coeffs {
  const fn = filter === "bilinear" ? bilinearFilter : bicubicFilter;
  const baseSupport = filter === "bilinear" ? 1 : 2;
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = baseSupport * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const kk = new Int32Array(outSize * ksize);
  const tmp = new Float64Array(ksize);
  const ss = 1 / filterscale;
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    // Math.trunc mirrors C's (int) cast.
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const w = fn((x + xmin - center + 0.5) * ss);
      tmp[x] = w;
      ww += w;
    }
    for (let x = 0; x < xmax; x++) {
      const w = ww !== 0 ? tmp[x] / ww : tmp[x];
      kk[xx * ksize + x] = w < 0
        ? Math.trunc(-0.5 + w * (1 << PRECISION_BITS))
        : Math.trunc(0.5 + w * (1 << PRECISION_BITS));
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { ksize, bounds, kk };
}

const coeffCache = new Map<string, Coeffs>();

/** Coefficient tables are cached per (size, size, filter): crops repeat sizes often. */
function coeffs(inSize: number, outSize: number, filter: ResampleFilter): Coeffs {
  const key = `${filter}:${inSize}:${outSize}`;
  let c = coeffCache.get(key);
  if (!c) {
    if (coeffCache.size > 4096) coeffCache.clear();
    c = precomputeCoeffs(inSize, outSize, filter);
    coeffCache.set(key, c);
  }
  return c;
}

/** Options of {@link resample}. */
export interface ResampleOptions {
  /** Integer crop rectangle taken first, as `img.crop(...)` then resize in PIL. */
  crop?: { x: number; y: number; width: number; height: number };
  /** Mirror the result horizontally (exactly equal to flipping afterwards). */
  flip?: boolean;
}

/**
 * Resizes (an optional integer crop of) `img` to `width` x `height` with Pillow's
 * algorithm: `img.crop(box).resize((width, height), filter)`, optionally mirrored.
 * Downscaling widens the filter (antialiasing), as Pillow does.
 */
export function resample(
  img: RgbImage,
  width: number,
  height: number,
  filter: ResampleFilter,
  options: ResampleOptions = {},
): RgbImage {
  const out = new Uint8Array(width * height * 3);
  resampleRows(img, width, height, filter, options, (yy, acc) => {
    const o = yy * width * 3;
    for (let i = 0; i < acc.length; i++) out[o + i] = clip8(acc[i]);
  });
  return { width, height, data: out };
}

/**
 * Like {@link resample}, but writes planar (CHW) float32 output: each 8-bit result of
 * channel c is mapped through `lut[c * 256 + value]` (e.g. ToTensor + Normalize) and
 * stored at `out[offset + c*height*width + y*width + x]`, skipping the 8-bit image.
 */
export function resampleToPlanar(
  img: RgbImage,
  width: number,
  height: number,
  filter: ResampleFilter,
  options: ResampleOptions,
  lut: Float32Array,
  out: Float32Array,
  offset: number,
): void {
  if (lut.length !== 768) {
    throw new Error(`resampleToPlanar: lut needs 768 entries, got ${lut.length}`);
  }
  const plane = width * height;
  if (offset < 0 || offset + 3 * plane > out.length) {
    throw new Error(
      `resampleToPlanar: output needs ${3 * plane} floats at offset ${offset}, has ${out.length}`,
    );
  }
  resampleRows(img, width, height, filter, options, (yy, acc) => {
    const o0 = offset + yy * width, o1 = o0 + plane, o2 = o1 + plane;
    for (let x = 0, i = 0; x < width; x++, i += 3) {
      out[o0 + x] = lut[clip8(acc[i])];
      out[o1 + x] = lut[256 + clip8(acc[i + 1])];
      out[o2 + x] = lut[512 + clip8(acc[i + 2])];
    }
  });
}

/** Scratch buffers reused across calls (a worker resizes thousands of same-size images). */
let scratchTmp = new Uint8Array(0);
let scratchAcc = new Int32Array(0);

/**
 * The two passes; `emit(y, acc)` receives each output row as fixed-point RGB sums
 * (`acc` is reused, `clip8` turns a sum into the 8-bit value).
 */
function resampleRows(
  img: RgbImage,
  width: number,
  height: number,
  filter: ResampleFilter,
  options: ResampleOptions,
  emit: (y: number, acc: Int32Array) => void,
): void {
  checkImage(img, "resample");
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new Error(`resample: expected positive integer output size, got ${width}x${height}`);
  }
  const crop = options.crop ?? { x: 0, y: 0, width: img.width, height: img.height };
  if (
    !Number.isInteger(crop.x) || !Number.isInteger(crop.y) || crop.width <= 0 ||
    crop.height <= 0 || crop.x < 0 || crop.y < 0 || crop.x + crop.width > img.width ||
    crop.y + crop.height > img.height
  ) {
    throw new Error(
      `resample: crop ${JSON.stringify(crop)} is not inside the ${img.width}x${img.height} image`,
    );
  }
  const flip = options.flip ?? false;
  const src = img.data;
  const srcStride = img.width * 3;
  const stride = width * 3;

  // Horizontal pass into 8-bit rows (as Pillow), over only the rows the vertical pass reads.
  const cv = coeffs(crop.height, height, filter);
  const yFirst = cv.bounds[0];
  const yLast = cv.bounds[height * 2 - 2] + cv.bounds[height * 2 - 1];
  const tmpH = yLast - yFirst;
  if (scratchTmp.length < tmpH * stride) scratchTmp = new Uint8Array(tmpH * stride);
  const tmp = scratchTmp;
  const ch = coeffs(crop.width, width, filter);
  const hk = ch.kk, hb = ch.bounds, hks = ch.ksize;
  for (let y = 0; y < tmpH; y++) {
    const rowIn = (crop.y + yFirst + y) * srcStride + crop.x * 3;
    const rowOut = y * stride;
    for (let xx = 0; xx < width; xx++) {
      const xmax = hb[xx * 2 + 1];
      const k0 = xx * hks;
      let s0 = HALF, s1 = HALF, s2 = HALF;
      let p = rowIn + hb[xx * 2] * 3;
      for (let x = 0; x < xmax; x++, p += 3) {
        const k = hk[k0 + x];
        s0 = (s0 + Math.imul(src[p], k)) | 0;
        s1 = (s1 + Math.imul(src[p + 1], k)) | 0;
        s2 = (s2 + Math.imul(src[p + 2], k)) | 0;
      }
      const o = rowOut + (flip ? width - 1 - xx : xx) * 3;
      tmp[o] = clip8(s0);
      tmp[o + 1] = clip8(s1);
      tmp[o + 2] = clip8(s2);
    }
  }

  // Vertical pass, one output row at a time: long inner loops over whole rows.
  if (scratchAcc.length !== stride) scratchAcc = new Int32Array(stride);
  const acc = scratchAcc;
  const vk = cv.kk, vb = cv.bounds, vks = cv.ksize;
  for (let yy = 0; yy < height; yy++) {
    const ymin = vb[yy * 2] - yFirst, ymax = vb[yy * 2 + 1];
    const k0 = yy * vks;
    // The first tap initializes the sums (no separate fill pass).
    const p0 = ymin * stride, kFirst = vk[k0];
    for (let i = 0; i < stride; i++) acc[i] = (HALF + Math.imul(tmp[p0 + i], kFirst)) | 0;
    for (let y = 1; y < ymax; y++) {
      const k = vk[k0 + y];
      if (k === 0) continue;
      const p = (ymin + y) * stride;
      for (let i = 0; i < stride; i++) acc[i] = (acc[i] + Math.imul(tmp[p + i], k)) | 0;
    }
    emit(yy, acc);
  }
}

function clip8(s: number): number {
  const v = s >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/** Bilinear resize equal to PIL's `img.resize((width, height), Image.BILINEAR)`. */
export function resizeBilinear(img: RgbImage, width: number, height: number): RgbImage {
  return resample(img, width, height, "bilinear");
}

/** Bicubic resize equal to PIL's `img.resize((width, height), Image.BICUBIC)` (a = -0.5). */
export function resizeBicubic(img: RgbImage, width: number, height: number): RgbImage {
  return resample(img, width, height, "bicubic");
}
