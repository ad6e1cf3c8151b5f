/**
 * Image filters on float buffers shared by the synthetic generator's camera effects and the
 * CamStyle sharpness transfer.
 *
 * @module
 */

/**
 * Separable Gaussian blur, in place, of an interleaved `width x height x channels` float buffer,
 * edges clamped. `radius` (taps on each side) defaults to `ceil(3 * sigma)`, at least 1.
 */
export function gaussianBlur(
  buf: Float32Array,
  width: number,
  height: number,
  channels: number,
  sigma: number,
  radius: number = Math.max(1, Math.ceil(3 * sigma)),
): void {
  if (buf.length !== width * height * channels) {
    throw new Error(
      `gaussianBlur: buffer of ${buf.length} values for a ${width}x${height}x${channels} image`,
    );
  }
  const rad = radius;
  const k = new Float32Array(2 * rad + 1);
  let s = 0;
  for (let i = -rad; i <= rad; i++) s += k[i + rad] = Math.exp(-(i * i) / (2 * sigma * sigma));
  for (let i = 0; i < k.length; i++) k[i] /= s;
  const W = width, H = height, C = channels;
  const tmp = new Float32Array(buf.length);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      for (let c = 0; c < C; c++) {
        let acc = 0;
        for (let i = -rad; i <= rad; i++) {
          const xx = x + i < 0 ? 0 : x + i >= W ? W - 1 : x + i;
          acc += k[i + rad] * buf[(y * W + xx) * C + c];
        }
        tmp[(y * W + x) * C + c] = acc;
      }
    }
  }
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      for (let c = 0; c < C; c++) {
        let acc = 0;
        for (let i = -rad; i <= rad; i++) {
          const yy = y + i < 0 ? 0 : y + i >= H ? H - 1 : y + i;
          acc += k[i + rad] * tmp[(yy * W + x) * C + c];
        }
        buf[(y * W + x) * C + c] = acc;
      }
    }
  }
}
