/**
 * Camera effects of the synthetic generator, applied to a float RGB image: exposure, white
 * balance, tone curve, saturation, Gaussian blur and sensor noise, then quantisation to 8 bits;
 * and the left-right mirror.
 *
 * @module
 */

import type { RgbImage } from "../image.ts";
import type { Camera } from "./cameras.ts";
import { gauss, type RandomSource } from "../../util/random.ts";
import { H, W } from "./raster.ts";
import { gaussianBlur } from "../filters.ts";

/** Camera pipeline: exposure, white balance, tone, saturation, blur, noise; then 8-bit. */
export function applyCamera(buf: Float32Array, cam: Camera, r: RandomSource): RgbImage {
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
  if (cam.blur > 0.3) gaussianBlur(buf, W, H, 3, cam.blur, Math.ceil(cam.blur * 2.5));
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

/** Flips the image left to right in place. */
export function mirror(buf: Float32Array): void {
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
