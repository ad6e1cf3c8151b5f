/**
 * A baseline (sequential Huffman, 8-bit) JPEG encoder for RGB images.
 *
 * It writes what Pillow writes by default (`Image.save(f, "JPEG", quality=q)` with libjpeg
 * underneath): a JFIF header, the IJG example quantization tables scaled by quality with
 * libjpeg's `jpeg_quality_scaling` (so quality q means the same as in libjpeg, Pillow and
 * jpeg-js), YCbCr with libjpeg's fixed-point RGB->YCbCr conversion, 4:2:0 chroma
 * subsampling at every quality (Pillow 9.4 leaves libjpeg's default 2x2 luma sampling in
 * place for all qualities; it switches to 4:4:4 only when asked) with libjpeg's
 * alternating-bias 2x2 averaging, and the standard Huffman tables of JPEG Annex K.3
 * (Pillow's default, `optimize=False`). The DCT is the float AAN one of libjpeg's
 * `jfdctflt.c`, with its output scaling folded into the per-quality reciprocal table.
 *
 * Tables are built once per quality and cached; the entropy coder writes into one
 * preallocated byte buffer that doubles when full, so a 64x128 crop takes well under a
 * millisecond once the function is warm (jpeg-js took 35-100 ms, mostly rebuilding tables).
 */

/** Zigzag position k -> natural (row-major) index in the 8x8 block. */
// deno-fmt-ignore
const ZIGZAG: Uint8Array = new Uint8Array([
  0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20,
  13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59,
  52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
]);

/** IJG / JPEG Annex K.1 luminance table, natural order. */
// deno-fmt-ignore
const STD_LUMA_QT = [
  16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
  14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113,
  92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
];

/** IJG / JPEG Annex K.1 chrominance table, natural order. */
// deno-fmt-ignore
const STD_CHROMA_QT = [
  17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99, 99,
  47, 66, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
  99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
];

// Annex K.3 Huffman tables: code counts per length 1..16, then the symbols.
const DC_LUMA_BITS = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0];
const DC_LUMA_VALS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
const DC_CHROMA_BITS = [0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0];
const DC_CHROMA_VALS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
const AC_LUMA_BITS = [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d];
// deno-fmt-ignore
const AC_LUMA_VALS = [
  0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61, 0x07,
  0x22, 0x71, 0x14, 0x32, 0x81, 0x91, 0xa1, 0x08, 0x23, 0x42, 0xb1, 0xc1, 0x15, 0x52, 0xd1, 0xf0,
  0x24, 0x33, 0x62, 0x72, 0x82, 0x09, 0x0a, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x25, 0x26, 0x27, 0x28,
  0x29, 0x2a, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49,
  0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69,
  0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89,
  0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,
  0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3, 0xc4, 0xc5,
  0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xe1, 0xe2,
  0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8,
  0xf9, 0xfa,
];
const AC_CHROMA_BITS = [0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77];
// deno-fmt-ignore
const AC_CHROMA_VALS = [
  0x00, 0x01, 0x02, 0x03, 0x11, 0x04, 0x05, 0x21, 0x31, 0x06, 0x12, 0x41, 0x51, 0x07, 0x61, 0x71,
  0x13, 0x22, 0x32, 0x81, 0x08, 0x14, 0x42, 0x91, 0xa1, 0xb1, 0xc1, 0x09, 0x23, 0x33, 0x52, 0xf0,
  0x15, 0x62, 0x72, 0xd1, 0x0a, 0x16, 0x24, 0x34, 0xe1, 0x25, 0xf1, 0x17, 0x18, 0x19, 0x1a, 0x26,
  0x27, 0x28, 0x29, 0x2a, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48,
  0x49, 0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68,
  0x69, 0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87,
  0x88, 0x89, 0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5,
  0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3,
  0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda,
  0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8,
  0xf9, 0xfa,
];

/** Symbol -> (code, length), built from counts and symbols as in JPEG Annex C. */
interface HuffTable {
  code: Uint16Array;
  size: Uint8Array;
}

function buildHuffTable(bits: number[], vals: number[]): HuffTable {
  const code = new Uint16Array(256);
  const size = new Uint8Array(256);
  let c = 0;
  let k = 0;
  for (let len = 1; len <= 16; len++) {
    for (let i = 0; i < bits[len - 1]; i++) {
      code[vals[k]] = c++;
      size[vals[k]] = len;
      k++;
    }
    c <<= 1;
  }
  return { code, size };
}

const DC_LUMA = buildHuffTable(DC_LUMA_BITS, DC_LUMA_VALS);
const AC_LUMA = buildHuffTable(AC_LUMA_BITS, AC_LUMA_VALS);
const DC_CHROMA = buildHuffTable(DC_CHROMA_BITS, DC_CHROMA_VALS);
const AC_CHROMA = buildHuffTable(AC_CHROMA_BITS, AC_CHROMA_VALS);

/** libjpeg's `jpeg_quality_scaling` followed by `jpeg_add_quant_table` with force_baseline. */
function scaleQuantTable(base: number[], quality: number): Uint8Array {
  const scale = quality < 50 ? Math.floor(5000 / quality) : 200 - quality * 2;
  const out = new Uint8Array(64);
  for (let i = 0; i < 64; i++) {
    const v = Math.floor((base[i] * scale + 50) / 100);
    out[i] = v < 1 ? 1 : v > 255 ? 255 : v;
  }
  return out;
}

/** AAN output scale factors of `jfdctflt.c` (row/column k: cos(k*pi/16)*sqrt(2), k>0). */
const AAN_SCALE = [
  1.0,
  1.387039845,
  1.306562965,
  1.175875602,
  1.0,
  0.785694958,
  0.5411961,
  0.275899379,
];

/** Everything that depends only on the quality. */
interface QualityTables {
  /** Per zigzag position: 1 / (q * aan_row * aan_col * 8), applied to the natural-order DCT. */
  lumaRecip: Float64Array;
  chromaRecip: Float64Array;
  /** SOI, APP0 (JFIF) and DQT segments. */
  head: Uint8Array;
}

const tablesByQuality = new Map<number, QualityTables>();

function reciprocals(qt: Uint8Array): Float64Array {
  const out = new Float64Array(64);
  for (let k = 0; k < 64; k++) {
    const n = ZIGZAG[k];
    out[k] = 1 / (qt[n] * AAN_SCALE[n >> 3] * AAN_SCALE[n & 7] * 8);
  }
  return out;
}

function qualityTables(quality: number): QualityTables {
  let t = tablesByQuality.get(quality);
  if (t) return t;
  const lq = scaleQuantTable(STD_LUMA_QT, quality);
  const cq = scaleQuantTable(STD_CHROMA_QT, quality);
  // SOI; APP0 JFIF 1.01, no density units, 1:1 aspect, no thumbnail (as Pillow writes);
  // DQT header for two 8-bit tables (2 + 2 * 65 bytes).
  // deno-fmt-ignore
  const head: number[] = [
    0xff, 0xd8,
    0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01,
    0x00, 0x00,
    0xff, 0xdb, 0x00, 0x84,
  ];
  head.push(0x00);
  for (let k = 0; k < 64; k++) head.push(lq[ZIGZAG[k]]);
  head.push(0x01);
  for (let k = 0; k < 64; k++) head.push(cq[ZIGZAG[k]]);
  t = { lumaRecip: reciprocals(lq), chromaRecip: reciprocals(cq), head: new Uint8Array(head) };
  tablesByQuality.set(quality, t);
  return t;
}

/** DHT segment with the four standard tables (fixed, so built once). */
const DHT_SEGMENT: Uint8Array = (() => {
  const tables: [number, number[], number[]][] = [
    [0x00, DC_LUMA_BITS, DC_LUMA_VALS],
    [0x10, AC_LUMA_BITS, AC_LUMA_VALS],
    [0x01, DC_CHROMA_BITS, DC_CHROMA_VALS],
    [0x11, AC_CHROMA_BITS, AC_CHROMA_VALS],
  ];
  let len = 2;
  for (const [, , vals] of tables) len += 17 + vals.length;
  const out: number[] = [0xff, 0xc4, len >> 8, len & 0xff];
  for (const [cls, bits, vals] of tables) out.push(cls, ...bits, ...vals);
  return new Uint8Array(out);
})();

/** SOS for Y (tables 0/0), Cb and Cr (tables 1/1), full spectral range. */
// deno-fmt-ignore
const SOS_SEGMENT = new Uint8Array([
  0xff, 0xda, 0x00, 0x0c, 0x03, 0x01, 0x00, 0x02, 0x11, 0x03, 0x11, 0x00, 0x3f, 0x00,
]);

/** The entropy-coded output: one byte buffer that doubles when it runs short. */
class ByteSink {
  buf: Uint8Array;
  pos = 0;
  /** Pending bits, right-aligned; at most 7 remain between writes. */
  acc = 0;
  nbits = 0;

  constructor(capacity: number) {
    this.buf = new Uint8Array(capacity);
  }

  /** Makes room for `n` more bytes. */
  reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.pos + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  bytes(src: Uint8Array): void {
    this.reserve(src.length);
    this.buf.set(src, this.pos);
    this.pos += src.length;
  }

  /** Appends the low `len` (<= 16) bits of `value`, stuffing a zero after each 0xff byte. */
  bits(value: number, len: number): void {
    let acc = (this.acc << len) | (value & ((1 << len) - 1));
    let n = this.nbits + len;
    const buf = this.buf;
    while (n >= 8) {
      n -= 8;
      const b = (acc >>> n) & 0xff;
      buf[this.pos++] = b;
      if (b === 0xff) buf[this.pos++] = 0;
    }
    acc &= (1 << n) - 1;
    this.acc = acc;
    this.nbits = n;
  }

  /** Pads the last byte with 1-bits (JPEG F.1.2.3). */
  flushBits(): void {
    if (this.nbits > 0) this.bits(0x7f, 8 - this.nbits);
  }
}

// Per-call scratch, reused: one block of samples/coefficients and its quantized zigzag.
const block = new Float64Array(64);
const zz = new Int32Array(64);

/**
 * Loads the 8x8 block at (x0, y0) of an 8-bit plane of row stride `stride` (level-shifted
 * by -128), runs the float AAN forward DCT (`jfdctflt.c`) in place and quantizes it
 * into `zz` in zigzag order with `recip`.
 */
function fdctQuantize(
  plane: Uint8Array,
  stride: number,
  x0: number,
  y0: number,
  recip: Float64Array,
): void {
  const d = block;
  for (let r = 0; r < 8; r++) {
    const p = (y0 + r) * stride + x0;
    const o = r * 8;
    const d0 = plane[p] - 128;
    const d1 = plane[p + 1] - 128;
    const d2 = plane[p + 2] - 128;
    const d3 = plane[p + 3] - 128;
    const d4 = plane[p + 4] - 128;
    const d5 = plane[p + 5] - 128;
    const d6 = plane[p + 6] - 128;
    const d7 = plane[p + 7] - 128;
    const tmp0 = d0 + d7;
    const tmp7 = d0 - d7;
    const tmp1 = d1 + d6;
    const tmp6 = d1 - d6;
    const tmp2 = d2 + d5;
    const tmp5 = d2 - d5;
    const tmp3 = d3 + d4;
    const tmp4 = d3 - d4;
    let tmp10 = tmp0 + tmp3;
    const tmp13 = tmp0 - tmp3;
    let tmp11 = tmp1 + tmp2;
    let tmp12 = tmp1 - tmp2;
    d[o] = tmp10 + tmp11;
    d[o + 4] = tmp10 - tmp11;
    const z1 = (tmp12 + tmp13) * 0.707106781;
    d[o + 2] = tmp13 + z1;
    d[o + 6] = tmp13 - z1;
    tmp10 = tmp4 + tmp5;
    tmp11 = tmp5 + tmp6;
    tmp12 = tmp6 + tmp7;
    const z5 = (tmp10 - tmp12) * 0.382683433;
    const z2 = 0.5411961 * tmp10 + z5;
    const z4 = 1.306562965 * tmp12 + z5;
    const z3 = tmp11 * 0.707106781;
    const z11 = tmp7 + z3;
    const z13 = tmp7 - z3;
    d[o + 5] = z13 + z2;
    d[o + 3] = z13 - z2;
    d[o + 1] = z11 + z4;
    d[o + 7] = z11 - z4;
  }
  for (let c = 0; c < 8; c++) {
    const tmp0 = d[c] + d[c + 56];
    const tmp7 = d[c] - d[c + 56];
    const tmp1 = d[c + 8] + d[c + 48];
    const tmp6 = d[c + 8] - d[c + 48];
    const tmp2 = d[c + 16] + d[c + 40];
    const tmp5 = d[c + 16] - d[c + 40];
    const tmp3 = d[c + 24] + d[c + 32];
    const tmp4 = d[c + 24] - d[c + 32];
    let tmp10 = tmp0 + tmp3;
    const tmp13 = tmp0 - tmp3;
    let tmp11 = tmp1 + tmp2;
    let tmp12 = tmp1 - tmp2;
    d[c] = tmp10 + tmp11;
    d[c + 32] = tmp10 - tmp11;
    const z1 = (tmp12 + tmp13) * 0.707106781;
    d[c + 16] = tmp13 + z1;
    d[c + 48] = tmp13 - z1;
    tmp10 = tmp4 + tmp5;
    tmp11 = tmp5 + tmp6;
    tmp12 = tmp6 + tmp7;
    const z5 = (tmp10 - tmp12) * 0.382683433;
    const z2 = 0.5411961 * tmp10 + z5;
    const z4 = 1.306562965 * tmp12 + z5;
    const z3 = tmp11 * 0.707106781;
    const z11 = tmp7 + z3;
    const z13 = tmp7 - z3;
    d[c + 40] = z13 + z2;
    d[c + 24] = z13 - z2;
    d[c + 8] = z11 + z4;
    d[c + 56] = z11 - z4;
  }
  // Round half up, as libjpeg's float quantizer does.
  for (let k = 0; k < 64; k++) zz[k] = Math.floor(d[ZIGZAG[k]] * recip[k] + 0.5);
}

/** Huffman-codes the block in `zz` (F.1.2); returns its DC value for the next difference. */
function encodeBlock(out: ByteSink, prevDc: number, dc: HuffTable, ac: HuffTable): number {
  // Worst case: 64 codes of 16 + 11 bits, every byte stuffed.
  out.reserve(512);
  const diff = zz[0] - prevDc;
  if (diff === 0) {
    out.bits(dc.code[0], dc.size[0]);
  } else {
    const a = diff < 0 ? -diff : diff;
    const nb = 32 - Math.clz32(a);
    out.bits(dc.code[nb], dc.size[nb]);
    out.bits(diff < 0 ? diff - 1 : diff, nb);
  }
  let end = 63;
  while (end > 0 && zz[end] === 0) end--;
  let run = 0;
  for (let k = 1; k <= end; k++) {
    const v = zz[k];
    if (v === 0) {
      run++;
      continue;
    }
    while (run > 15) {
      out.bits(ac.code[0xf0], ac.size[0xf0]);
      run -= 16;
    }
    const a = v < 0 ? -v : v;
    const nb = 32 - Math.clz32(a);
    const sym = (run << 4) | nb;
    out.bits(ac.code[sym], ac.size[sym]);
    out.bits(v < 0 ? v - 1 : v, nb);
    run = 0;
  }
  if (end < 63) out.bits(ac.code[0], ac.size[0]);
  return zz[0];
}

/**
 * Encodes `width x height` RGB bytes (row-major, interleaved) as a baseline JPEG with
 * 4:2:0 chroma subsampling. `quality` must be an integer in 1..100 (checked by the caller).
 */
export function encodeJpegBaseline(
  data: Uint8Array,
  width: number,
  height: number,
  quality: number,
): Uint8Array {
  const tables = qualityTables(quality);
  // Planes padded to whole 16x16 MCUs by repeating the last column and row (libjpeg
  // replicates edges the same way, which keeps the padding from costing bits).
  const pw = (width + 15) & ~15;
  const ph = (height + 15) & ~15;
  const yPlane = new Uint8Array(pw * ph);
  const cbFull = new Uint8Array(pw * ph);
  const crFull = new Uint8Array(pw * ph);
  for (let y = 0; y < height; y++) {
    let s = y * width * 3;
    let o = y * pw;
    for (let x = 0; x < width; x++, s += 3, o++) {
      const r = data[s];
      const g = data[s + 1];
      const b = data[s + 2];
      // libjpeg jccolor.c: 16-bit fixed point, Cb/Cr rounded with ONE_HALF - 1.
      yPlane[o] = (19595 * r + 38470 * g + 7471 * b + 32768) >> 16;
      cbFull[o] = (-11059 * r - 21709 * g + 32768 * b + 8421375) >> 16;
      crFull[o] = (32768 * r - 27439 * g - 5329 * b + 8421375) >> 16;
    }
    for (let x = width; x < pw; x++, o++) {
      yPlane[o] = yPlane[o - 1];
      cbFull[o] = cbFull[o - 1];
      crFull[o] = crFull[o - 1];
    }
  }
  for (let y = height; y < ph; y++) {
    yPlane.copyWithin(y * pw, (y - 1) * pw, y * pw);
    cbFull.copyWithin(y * pw, (y - 1) * pw, y * pw);
    crFull.copyWithin(y * pw, (y - 1) * pw, y * pw);
  }
  // libjpeg h2v2_downsample: 2x2 mean with bias 1, 2, 1, 2, ... along each row.
  const cw = pw >> 1;
  const ch = ph >> 1;
  const cb = new Uint8Array(cw * ch);
  const cr = new Uint8Array(cw * ch);
  for (let y = 0; y < ch; y++) {
    const r0 = 2 * y * pw;
    const r1 = r0 + pw;
    let o = y * cw;
    for (let x = 0; x < cw; x++, o++) {
      const i = r0 + 2 * x;
      const j = r1 + 2 * x;
      const bias = 1 + (x & 1);
      cb[o] = (cbFull[i] + cbFull[i + 1] + cbFull[j] + cbFull[j + 1] + bias) >> 2;
      cr[o] = (crFull[i] + crFull[i + 1] + crFull[j] + crFull[j + 1] + bias) >> 2;
    }
  }

  const out = new ByteSink(Math.max(4096, (width * height) >> 1) + 1024);
  out.bytes(tables.head);
  // SOF0: 8-bit samples, height, width, 3 components: Y 2x2 with table 0, Cb and Cr 1x1
  // with table 1 (4:2:0).
  // deno-fmt-ignore
  out.bytes(new Uint8Array([
    0xff, 0xc0, 0x00, 0x11, 0x08, height >> 8, height & 0xff, width >> 8, width & 0xff,
    0x03, 0x01, 0x22, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11, 0x01,
  ]));
  out.bytes(DHT_SEGMENT);
  out.bytes(SOS_SEGMENT);
  const { lumaRecip, chromaRecip } = tables;
  let dcY = 0;
  let dcCb = 0;
  let dcCr = 0;
  for (let my = 0; my < ph; my += 16) {
    for (let mx = 0; mx < pw; mx += 16) {
      fdctQuantize(yPlane, pw, mx, my, lumaRecip);
      dcY = encodeBlock(out, dcY, DC_LUMA, AC_LUMA);
      fdctQuantize(yPlane, pw, mx + 8, my, lumaRecip);
      dcY = encodeBlock(out, dcY, DC_LUMA, AC_LUMA);
      fdctQuantize(yPlane, pw, mx, my + 8, lumaRecip);
      dcY = encodeBlock(out, dcY, DC_LUMA, AC_LUMA);
      fdctQuantize(yPlane, pw, mx + 8, my + 8, lumaRecip);
      dcY = encodeBlock(out, dcY, DC_LUMA, AC_LUMA);
      fdctQuantize(cb, cw, mx >> 1, my >> 1, chromaRecip);
      dcCb = encodeBlock(out, dcCb, DC_CHROMA, AC_CHROMA);
      fdctQuantize(cr, cw, mx >> 1, my >> 1, chromaRecip);
      dcCr = encodeBlock(out, dcCr, DC_CHROMA, AC_CHROMA);
    }
  }
  out.flushBits();
  out.reserve(2);
  out.buf[out.pos++] = 0xff;
  out.buf[out.pos++] = 0xd9; // EOI
  return out.buf.slice(0, out.pos);
}
