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
  const tmp = new Float32Array(buf.length);
  const row = width * channels;
  // Along x: height rows of width values, channels apart; then along y: width columns of height
  // values, a row apart.
  blurLines(buf, tmp, k, height, row, width, channels, channels);
  blurLines(tmp, buf, k, width, channels, height, row, channels);
}

/**
 * Convolves lines of `src` with the odd kernel `k` into `dst`, edges clamped: for each of `lines`
 * lines (starting `lineStep` apart) and each of `channels` interleaved channels, `length` values
 * `step` apart.
 */
function blurLines(
  src: Float32Array,
  dst: Float32Array,
  k: Float32Array,
  lines: number,
  lineStep: number,
  length: number,
  step: number,
  channels: number,
): void {
  const rad = (k.length - 1) >> 1;
  for (let l = 0; l < lines; l++) {
    for (let c = 0; c < channels; c++) {
      const base = l * lineStep + c;
      for (let x = 0; x < length; x++) {
        let acc = 0;
        for (let i = -rad; i <= rad; i++) {
          const xx = x + i < 0 ? 0 : x + i >= length ? length - 1 : x + i;
          acc += k[i + rad] * src[base + xx * step];
        }
        dst[base + x * step] = acc;
      }
    }
  }
}
