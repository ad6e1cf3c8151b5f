/**
 * Baseline JPEG decoding with the pixels of libjpeg-turbo's default decompression, i.e. what
 * `numpy.asarray(PIL.Image.open(p).convert("RGB"))` returns (tests compare byte for byte).
 *
 * The three steps that decide the pixels follow libjpeg exactly:
 * - IDCT: `jpeg_idct_islow` (jidctint.c), 13-bit fixed-point constants, the same descaling
 *   and and the post-IDCT range limit as libjpeg-turbo's SIMD code does it (a clamp);
 * - chroma upsampling: "fancy" triangular upsampling (jdsample.c `h2v1_fancy_upsample`,
 *   `h2v2_fancy_upsample`, with the image edge replicated as jdmainct.c does), or box
 *   replication where libjpeg uses it (a downsampled width of 1 or 2 samples);
 * - colour: jdcolor.c `ycc_rgb_convert`'s 16-bit fixed-point tables.
 *
 * Pillow leaves `do_fancy_upsampling` on, so libjpeg-turbo never takes the merged
 * upsample+convert path of jdmerge.c, and its SIMD kernels give the same bytes as this C
 * arithmetic on valid data. Handled: sequential Huffman, 8-bit, gray or YCbCr with 4:4:4, 4:2:2
 * and 4:2:0 sampling. Anything else (progressive, arithmetic, restart intervals, CMYK, RGB
 * JPEGs, other samplings) returns null so that the caller can use another decoder.
 *
 * Written without per-call closures and with a 9-bit Huffman lookahead so that a 64x128 crop
 * decodes in a fraction of a millisecond once warm.
 */

import type { RgbImage } from "./image.ts";

// deno-fmt-ignore
const ZIGZAG = new Int32Array([
  0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5,
  12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28,
  35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
  58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
  // Corrupt run lengths may index past 63; libjpeg maps those to 63 (jpeg_natural_order).
  63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63, 63,
]);

/** Codes up to this many bits are decoded with one table lookup. */
const LOOKAHEAD = 9;

/** Canonical Huffman table: codes of length L are mincode[L]..maxcode[L]. */
interface HuffTable {
  /** `(length << 8) | value` for every LOOKAHEAD-bit prefix of a short code, else 0. */
  lookup: Int32Array;
  maxcode: Int32Array;
  mincode: Int32Array;
  valptr: Int32Array;
  values: Uint8Array;
}

function buildHuff(counts: Uint8Array, values: Uint8Array, path: string): HuffTable {
  const maxcode = new Int32Array(18).fill(-1), mincode = new Int32Array(17);
  const valptr = new Int32Array(17), lookup = new Int32Array(1 << LOOKAHEAD);
  let code = 0, k = 0;
  for (let len = 1; len <= 16; len++) {
    const n = counts[len - 1];
    valptr[len] = k;
    mincode[len] = code;
    if (code + n > 1 << len || k + n > values.length) {
      throw new Error(`${path}: corrupt JPEG (bad Huffman table)`);
    }
    for (let i = 0; i < n; i++, code++, k++) {
      if (len <= LOOKAHEAD) {
        const shift = LOOKAHEAD - len, base = code << shift;
        for (let j = 0; j < 1 << shift; j++) lookup[base + j] = (len << 8) | values[k];
      }
    }
    maxcode[len] = n ? code - 1 : -1;
    code <<= 1;
  }
  return { lookup, maxcode, mincode, valptr, values };
}

interface JpegComponent {
  id: number;
  h: number;
  v: number;
  tq: number;
  /** libjpeg's downsampled_width/height: ceil(image size * factor / max factor). */
  dw: number;
  dh: number;
  /** Padded sample plane, `stride` bytes a row, covering every block a scan may write. */
  plane: Uint8ClampedArray;
  stride: number;
  pred: number;
  dc: HuffTable | null;
  ac: HuffTable | null;
}

/**
 * Entropy-coded bits, MSB first, up to 32 buffered in `acc`. At a marker (or the end of the
 * data) zero bytes are fed, as libjpeg does, and counted in `fake` so that consuming them is
 * detected as truncation.
 */
class BitReader {
  acc = 0;
  cnt = 0;
  fake = 0;
  constructor(readonly data: Uint8Array, public pos: number, readonly path: string) {}

  fill(): void {
    const d = this.data;
    while (this.cnt <= 24) {
      let b = 0;
      const p = this.pos;
      if (p < d.length && this.fake === 0) {
        b = d[p];
        if (b !== 0xff) this.pos = p + 1;
        else if (d[p + 1] === 0) this.pos = p + 2; // stuffed zero byte
        else {
          b = 0; // a marker ends the segment; pos stays on it
          this.fake += 8;
        }
      } else this.fake += 8;
      this.acc = (this.acc << 8) | b;
      this.cnt += 8;
    }
  }

  decode(t: HuffTable): number {
    if (this.cnt < 16) this.fill();
    const look = t.lookup[(this.acc >>> (this.cnt - LOOKAHEAD)) & ((1 << LOOKAHEAD) - 1)];
    if (look !== 0) {
      this.cnt -= look >> 8;
      return look & 255;
    }
    for (let len = LOOKAHEAD + 1; len <= 16; len++) {
      const code = (this.acc >>> (this.cnt - len)) & ((1 << len) - 1);
      if (code <= t.maxcode[len]) {
        this.cnt -= len;
        return t.values[t.valptr[len] + code - t.mincode[len]];
      }
    }
    throw new Error(`${this.path}: corrupt JPEG (invalid Huffman code)`);
  }

  /** Reads `s` (1..16) bits and sign-extends them as JPEG's EXTEND does. */
  receive(s: number): number {
    if (this.cnt < s) this.fill();
    const v = (this.acc >>> (this.cnt - s)) & ((1 << s) - 1);
    this.cnt -= s;
    return v < 1 << (s - 1) ? v - (1 << s) + 1 : v;
  }

  /** Throws when more bits were used than the segment holds. */
  checkNotTruncated(): void {
    if (this.cnt < this.fake) {
      throw new Error(`${this.path}: truncated JPEG (entropy-coded data ends early)`);
    }
  }
}

// jidctint.c constants: FIX(x) = round(x * 2^13).
const FIX_0_298631336 = 2446, FIX_0_390180644 = 3196, FIX_0_541196100 = 4433;
const FIX_0_765366865 = 6270, FIX_0_899976223 = 7373, FIX_1_175875602 = 9633;
const FIX_1_501321110 = 12299, FIX_1_847759065 = 15137, FIX_1_961570560 = 16069;
const FIX_2_053119869 = 16819, FIX_2_562915447 = 20995, FIX_3_072711026 = 25172;

/** Dequantizes as libjpeg-turbo's SIMD code does: the low 16 bits of the product (pmullw). */
function dq(c: number, q: number): number {
  return ((c * q) << 16) >> 16;
}

/** Saturates to int16, as the SIMD code's packssdw stores the pass-1 results. */
function sat16(x: number): number {
  return x > 32767 ? 32767 : x < -32768 ? -32768 : x;
}

/**
 * `jpeg_idct_islow` with libjpeg-turbo's x86 SIMD data widths (what Pillow runs here):
 * dequantizes `coef` (natural order) with `qt`, keeps the SIMD code's 16-bit sums and
 * saturating stores, and writes the 8x8 samples at `out[off + y * stride + x]` (a
 * Uint8ClampedArray: the final clamp to 0..255 is the range limit). `lowerRows` says whether
 * any coefficient below the first row is non-zero (the SIMD code's DC-only test).
 *
 * On valid data all of this equals the C code exactly. Only out-of-range dequantized values
 * (damaged or absurdly quantized files) tell them apart: the C code wraps around through its
 * 1024-entry range-limit table where the SIMD code saturates, and Pillow gives the latter.
 */
function idctIslow(
  coef: Int32Array,
  qt: Int32Array,
  lowerRows: boolean,
  ws: Int32Array,
  out: Uint8ClampedArray,
  off: number,
  stride: number,
): void {
  let z1, z2, z3, z4, z5, tmp0, tmp1, tmp2, tmp3, tmp10, tmp11, tmp12, tmp13;
  // Pass 1: columns, results scaled up by 2^PASS1_BITS (2).
  for (let c = 0; c < 8; c++) {
    if (
      coef[8 + c] === 0 && coef[16 + c] === 0 && coef[24 + c] === 0 && coef[32 + c] === 0 &&
      coef[40 + c] === 0 && coef[48 + c] === 0 && coef[56 + c] === 0
    ) {
      const d0 = dq(coef[c], qt[c]) * 4;
      const dc = lowerRows ? sat16(d0) : (d0 << 16) >> 16;
      ws[c] =
        ws[8 + c] =
        ws[16 + c] =
        ws[24 + c] =
          dc;
      ws[32 + c] =
        ws[40 + c] =
        ws[48 + c] =
        ws[56 + c] =
          dc;
      continue;
    }
    z2 = dq(coef[16 + c], qt[16 + c]);
    z3 = dq(coef[48 + c], qt[48 + c]);
    z1 = (z2 + z3) * FIX_0_541196100;
    tmp2 = z1 - z3 * FIX_1_847759065;
    tmp3 = z1 + z2 * FIX_0_765366865;
    z2 = dq(coef[c], qt[c]);
    z3 = dq(coef[32 + c], qt[32 + c]);
    tmp0 = (((z2 + z3) << 16) >> 16) * 8192;
    tmp1 = (((z2 - z3) << 16) >> 16) * 8192;
    tmp10 = tmp0 + tmp3;
    tmp13 = tmp0 - tmp3;
    tmp11 = tmp1 + tmp2;
    tmp12 = tmp1 - tmp2;
    tmp0 = dq(coef[56 + c], qt[56 + c]);
    tmp1 = dq(coef[40 + c], qt[40 + c]);
    tmp2 = dq(coef[24 + c], qt[24 + c]);
    tmp3 = dq(coef[8 + c], qt[8 + c]);
    z1 = tmp0 + tmp3;
    z2 = tmp1 + tmp2;
    z3 = ((tmp0 + tmp2) << 16) >> 16;
    z4 = ((tmp1 + tmp3) << 16) >> 16;
    z5 = (z3 + z4) * FIX_1_175875602;
    tmp0 *= FIX_0_298631336;
    tmp1 *= FIX_2_053119869;
    tmp2 *= FIX_3_072711026;
    tmp3 *= FIX_1_501321110;
    z1 *= -FIX_0_899976223;
    z2 *= -FIX_2_562915447;
    z3 = z3 * -FIX_1_961570560 + z5;
    z4 = z4 * -FIX_0_390180644 + z5;
    tmp0 += z1 + z3;
    tmp1 += z2 + z4;
    tmp2 += z2 + z3;
    tmp3 += z1 + z4;
    // DESCALE(x, CONST_BITS - PASS1_BITS = 11)
    ws[c] = sat16((tmp10 + tmp3 + 1024) >> 11);
    ws[56 + c] = sat16((tmp10 - tmp3 + 1024) >> 11);
    ws[8 + c] = sat16((tmp11 + tmp2 + 1024) >> 11);
    ws[48 + c] = sat16((tmp11 - tmp2 + 1024) >> 11);
    ws[16 + c] = sat16((tmp12 + tmp1 + 1024) >> 11);
    ws[40 + c] = sat16((tmp12 - tmp1 + 1024) >> 11);
    ws[24 + c] = sat16((tmp13 + tmp0 + 1024) >> 11);
    ws[32 + c] = sat16((tmp13 - tmp0 + 1024) >> 11);
  }
  // Pass 2: rows; DESCALE(x, CONST_BITS + PASS1_BITS + 3 = 18), then the range limit.
  for (let r = 0, o = off; r < 64; r += 8, o += stride) {
    if (
      ws[r + 1] === 0 && ws[r + 2] === 0 && ws[r + 3] === 0 && ws[r + 4] === 0 &&
      ws[r + 5] === 0 && ws[r + 6] === 0 && ws[r + 7] === 0
    ) {
      const v = ((ws[r] + 16) >> 5) + 128;
      for (let x = 0; x < 8; x++) out[o + x] = v;
      continue;
    }
    z2 = ws[r + 2];
    z3 = ws[r + 6];
    z1 = (z2 + z3) * FIX_0_541196100;
    tmp2 = z1 - z3 * FIX_1_847759065;
    tmp3 = z1 + z2 * FIX_0_765366865;
    tmp0 = (((ws[r] + ws[r + 4]) << 16) >> 16) * 8192;
    tmp1 = (((ws[r] - ws[r + 4]) << 16) >> 16) * 8192;
    tmp10 = tmp0 + tmp3;
    tmp13 = tmp0 - tmp3;
    tmp11 = tmp1 + tmp2;
    tmp12 = tmp1 - tmp2;
    tmp0 = ws[r + 7];
    tmp1 = ws[r + 5];
    tmp2 = ws[r + 3];
    tmp3 = ws[r + 1];
    z1 = tmp0 + tmp3;
    z2 = tmp1 + tmp2;
    z3 = ((tmp0 + tmp2) << 16) >> 16;
    z4 = ((tmp1 + tmp3) << 16) >> 16;
    z5 = (z3 + z4) * FIX_1_175875602;
    tmp0 *= FIX_0_298631336;
    tmp1 *= FIX_2_053119869;
    tmp2 *= FIX_3_072711026;
    tmp3 *= FIX_1_501321110;
    z1 *= -FIX_0_899976223;
    z2 *= -FIX_2_562915447;
    z3 = z3 * -FIX_1_961570560 + z5;
    z4 = z4 * -FIX_0_390180644 + z5;
    tmp0 += z1 + z3;
    tmp1 += z2 + z4;
    tmp2 += z2 + z3;
    tmp3 += z1 + z4;
    out[o] = ((tmp10 + tmp3 + 131072) >> 18) + 128;
    out[o + 7] = ((tmp10 - tmp3 + 131072) >> 18) + 128;
    out[o + 1] = ((tmp11 + tmp2 + 131072) >> 18) + 128;
    out[o + 6] = ((tmp11 - tmp2 + 131072) >> 18) + 128;
    out[o + 2] = ((tmp12 + tmp1 + 131072) >> 18) + 128;
    out[o + 5] = ((tmp12 - tmp1 + 131072) >> 18) + 128;
    out[o + 3] = ((tmp13 + tmp0 + 131072) >> 18) + 128;
    out[o + 4] = ((tmp13 - tmp0 + 131072) >> 18) + 128;
  }
}

const blockCoef = new Int32Array(64);
const blockWs = new Int32Array(64);

/** Decodes one block of `c` and writes its samples at block row `row`, column `col`. */
function decodeBlock(r: BitReader, c: JpegComponent, qt: Int32Array, row: number, col: number) {
  const coef = blockCoef;
  coef.fill(0);
  const t = r.decode(c.dc!);
  c.pred += t === 0 ? 0 : r.receive(t);
  coef[0] = c.pred;
  const ac = c.ac!;
  let any = false, lowerRows = false;
  for (let k = 1; k < 64;) {
    const rs = r.decode(ac);
    const s = rs & 15, run = rs >> 4;
    if (s === 0) {
      if (run < 15) break;
      k += 16;
      continue;
    }
    k += run;
    // Past 63 is corrupt data; libjpeg stores it at 63 (ZIGZAG's tail) and goes on.
    const z = ZIGZAG[k > 79 ? 79 : k];
    coef[z] = r.receive(s);
    any = true;
    if (z >= 8) lowerRows = true;
    k++;
  }
  const off = row * 8 * c.stride + col * 8;
  if (any) {
    idctIslow(coef, qt, lowerRows, blockWs, c.plane, off, c.stride);
    return;
  }
  // DC only: both passes reduce to one value (idctIslow's arithmetic with lowerRows false).
  const v = (((((dq(coef[0], qt[0]) * 4) << 16) >> 16) + 16) >> 5) + 128;
  const plane = c.plane, stride = c.stride;
  for (let y = 0, o = off; y < 8; y++, o += stride) {
    for (let x = 0; x < 8; x++) plane[o + x] = v;
  }
}

/**
 * Decodes a baseline (sequential Huffman, 8-bit, gray or YCbCr 4:4:4/4:2:2/4:2:0) JPEG to
 * exactly the RGB bytes libjpeg-turbo gives Pillow. Returns null for other kinds (progressive,
 * arithmetic, 12-bit, CMYK/RGB, restart intervals, other samplings); throws on corrupt or
 * truncated data, naming `path`.
 */
export function decodeJpegBaseline(bytes: Uint8Array, path: string): RgbImage | null {
  const len = bytes.length;
  let pos = 2;
  const u16 = (o: number) => (bytes[o] << 8) | bytes[o + 1];
  const qts: (Int32Array | undefined)[] = [];
  const dcTables: (HuffTable | undefined)[] = [];
  const acTables: (HuffTable | undefined)[] = [];
  let comps: JpegComponent[] = [];
  let width = 0, height = 0, maxH = 1, maxV = 1, mcusPerLine = 0, mcusPerColumn = 0;
  let jfif = false, adobeTransform = -1, scans = 0;
  while (true) {
    // Skip fill bytes before a marker.
    while (pos < len && bytes[pos] === 0xff && bytes[pos + 1] === 0xff) pos++;
    if (pos + 2 > len) throw new Error(`${path}: truncated JPEG (no end-of-image marker)`);
    if (bytes[pos] !== 0xff) throw new Error(`${path}: corrupt JPEG (marker expected)`);
    const marker = bytes[pos + 1];
    pos += 2;
    if (marker === 0xd9) break; // EOI
    if (marker >= 0xd0 && marker <= 0xd7) continue; // stray RST
    if (pos + 2 > len) throw new Error(`${path}: truncated JPEG (segment header)`);
    const segLen = u16(pos);
    const seg = pos + 2, segEnd = pos + segLen;
    if (segEnd > len) throw new Error(`${path}: truncated JPEG (segment ff${marker.toString(16)})`);
    switch (marker) {
      case 0xe0: // APP0: JFIF implies YCbCr (jdapimin.c default_decompress_parms)
        if (segLen >= 7 && u16(seg) === 0x4a46 && u16(seg + 2) === 0x4946 && !bytes[seg + 4]) {
          jfif = true;
        }
        break;
      case 0xee: // APP14 "Adobe": its transform flag says RGB (0) or YCbCr (1)
        if (
          segLen >= 14 && u16(seg) === 0x4164 && u16(seg + 2) === 0x6f62 && bytes[seg + 4] === 0x65
        ) {
          adobeTransform = bytes[seg + 11];
        }
        break;
      case 0xdb: { // DQT
        let o = seg;
        while (o < segEnd) {
          const pq = bytes[o] >> 4, tq = bytes[o] & 15;
          o++;
          if (tq > 3 || o + (pq ? 128 : 64) > segEnd) {
            throw new Error(`${path}: corrupt JPEG (bad quantization table)`);
          }
          const qt = new Int32Array(64);
          for (let j = 0; j < 64; j++) qt[ZIGZAG[j]] = pq ? u16(o + 2 * j) : bytes[o + j];
          o += pq ? 128 : 64;
          qts[tq] = qt;
        }
        break;
      }
      case 0xc0:
      case 0xc1: { // SOF0/SOF1: sequential Huffman
        if (bytes[seg] !== 8) return null;
        height = u16(seg + 1);
        width = u16(seg + 3);
        const n = bytes[seg + 5];
        if ((n !== 1 && n !== 3) || width === 0 || height === 0) return null;
        comps = [];
        for (let i = 0; i < n; i++) {
          const o = seg + 6 + 3 * i;
          const h = bytes[o + 1] >> 4, v = bytes[o + 1] & 15;
          if (h < 1 || h > 4 || v < 1 || v > 4) throw new Error(`${path}: corrupt JPEG (sampling)`);
          comps.push({
            id: bytes[o],
            h,
            v,
            tq: bytes[o + 2],
            dw: 0,
            dh: 0,
            plane: new Uint8ClampedArray(0),
            stride: 0,
            pred: 0,
            dc: null,
            ac: null,
          });
        }
        // One component: libjpeg treats its factors as 1x1 (a non-interleaved scan).
        if (n === 1) comps[0].h = comps[0].v = 1;
        maxH = Math.max(...comps.map((c) => c.h));
        maxV = Math.max(...comps.map((c) => c.v));
        for (const c of comps) {
          const rh = maxH / c.h, rv = maxV / c.v;
          // libjpeg-turbo's fancy upsamplers cover 2h1v and 2h2v; other ratios go elsewhere.
          if (!((rh === 1 && rv === 1) || (rh === 2 && (rv === 1 || rv === 2)))) return null;
        }
        mcusPerLine = Math.ceil(width / (8 * maxH));
        mcusPerColumn = Math.ceil(height / (8 * maxV));
        for (const c of comps) {
          c.dw = Math.ceil((width * c.h) / maxH);
          c.dh = Math.ceil((height * c.v) / maxV);
          // Interleaved scans fill whole MCUs; non-interleaved ones ceil(dw/8) blocks a row.
          c.stride = Math.max(mcusPerLine * c.h, Math.ceil(c.dw / 8)) * 8;
          const rows = Math.max(mcusPerColumn * c.v, Math.ceil(c.dh / 8)) * 8;
          c.plane = new Uint8ClampedArray(c.stride * rows);
        }
        break;
      }
      case 0xc2:
      case 0xc3:
      case 0xc5:
      case 0xc6:
      case 0xc7:
      case 0xc9:
      case 0xca:
      case 0xcb:
      case 0xcd:
      case 0xce:
      case 0xcf:
        return null; // progressive, lossless, hierarchical or arithmetic
      case 0xc4: { // DHT
        let o = seg;
        while (o < segEnd) {
          const tc = bytes[o] >> 4, th = bytes[o] & 15;
          const counts = bytes.subarray(o + 1, o + 17);
          let total = 0;
          for (let i = 0; i < 16; i++) total += counts[i];
          if (th > 3 || o + 17 + total > segEnd) {
            throw new Error(`${path}: corrupt JPEG (bad Huffman table segment)`);
          }
          const values = bytes.slice(o + 17, o + 17 + total);
          (tc === 0 ? dcTables : acTables)[th] = buildHuff(counts, values, path);
          o += 17 + total;
        }
        break;
      }
      case 0xdd: // DRI
        // Restart intervals are left to the caller's decoder: Pillow 9 cannot write them
        // (so no oracle test) and re-ID data sets do not use them.
        if (u16(seg) !== 0) return null;
        break;
      case 0xda: { // SOS
        if (comps.length === 0) throw new Error(`${path}: corrupt JPEG (scan before frame)`);
        const ns = bytes[seg];
        const scan: JpegComponent[] = [];
        for (let i = 0; i < ns; i++) {
          const c = comps.find((x) => x.id === bytes[seg + 1 + 2 * i]);
          const tables = bytes[seg + 2 + 2 * i];
          if (!c) throw new Error(`${path}: corrupt JPEG (scan names an unknown component)`);
          c.dc = dcTables[tables >> 4] ?? null;
          c.ac = acTables[tables & 15] ?? null;
          if (!c.dc || !c.ac || !qts[c.tq]) {
            throw new Error(`${path}: corrupt JPEG (missing Huffman or quantization table)`);
          }
          scan.push(c);
        }
        if (scan.length === 0) throw new Error(`${path}: corrupt JPEG (empty scan)`);
        pos = decodeScan(bytes, segEnd, scan, mcusPerLine, mcusPerColumn, qts, path);
        scans++;
        continue;
      }
      default:
        break; // other APPn, COM and the like carry nothing needed here
    }
    pos = segEnd;
  }
  if (comps.length === 0) throw new Error(`${path}: corrupt JPEG (no frame header)`);
  if (scans === 0) throw new Error(`${path}: corrupt JPEG (no scan)`);
  if (comps.length === 3) {
    // jdapimin.c's colour-space guess: only YCbCr is converted here.
    const rgbIds = comps[0].id === 82 && comps[1].id === 71 && comps[2].id === 66;
    const isRgb = jfif ? false : adobeTransform >= 0 ? adobeTransform === 0 : rgbIds;
    if (isRgb) return null;
  }
  return toRgb(comps, width, height);
}

/** Decodes one scan without restart intervals; returns the offset of the next marker. */
function decodeScan(
  bytes: Uint8Array,
  start: number,
  scan: JpegComponent[],
  mcusPerLine: number,
  mcusPerColumn: number,
  qts: (Int32Array | undefined)[],
  path: string,
): number {
  const r = new BitReader(bytes, start, path);
  for (const c of scan) c.pred = 0;
  if (scan.length === 1) {
    // Non-interleaved: the component's own blocks, row by row (jdcoefct.c).
    const c = scan[0], qt = qts[c.tq]!;
    const bw = Math.ceil(c.dw / 8), bh = Math.ceil(c.dh / 8);
    for (let row = 0; row < bh; row++) {
      for (let col = 0; col < bw; col++) decodeBlock(r, c, qt, row, col);
    }
  } else {
    for (let mRow = 0; mRow < mcusPerColumn; mRow++) {
      for (let mCol = 0; mCol < mcusPerLine; mCol++) {
        for (let i = 0; i < scan.length; i++) {
          const c = scan[i], qt = qts[c.tq]!;
          for (let j = 0; j < c.v; j++) {
            for (let k = 0; k < c.h; k++) {
              decodeBlock(r, c, qt, mRow * c.v + j, mCol * c.h + k);
            }
          }
        }
      }
    }
  }
  r.checkNotTruncated();
  // Leftover bits are padding; the scan ends at the next marker.
  let p = r.pos;
  while (p < bytes.length - 1 && !(bytes[p] === 0xff && bytes[p + 1] !== 0)) p++;
  return p;
}

// jdcolor.c build_ycc_rgb_table: SCALEBITS 16, FIX(x) = round(x * 2^16).
const CR_R = new Int32Array(256), CB_B = new Int32Array(256);
const CR_G = new Int32Array(256), CB_G = new Int32Array(256);
for (let i = 0; i < 256; i++) {
  const x = i - 128;
  CR_R[i] = (91881 * x + 32768) >> 16; // FIX(1.40200)
  CB_B[i] = (116130 * x + 32768) >> 16; // FIX(1.77200)
  CR_G[i] = -46802 * x; // -FIX(0.71414)
  CB_G[i] = -22554 * x + 32768; // -FIX(0.34414), plus ONE_HALF
}

/**
 * One output row of component `c` upsampled to full width into `buf` (jdsample.c):
 * fancy (triangular) for 2h1v and 2h2v, box replication where libjpeg-turbo falls back to it
 * (downsampled width <= 2). Rows and columns past the edge replicate the last sample.
 */
function upsampleRow(
  c: JpegComponent,
  rv: number,
  y: number,
  colsum: Int32Array,
  buf: Uint8ClampedArray,
): void {
  const p = c.plane, stride = c.stride, dw = c.dw;
  if (dw <= 2) {
    const o = (rv === 2 ? y >> 1 : y) * stride;
    for (let x = 0; x < dw; x++) buf[2 * x] = buf[2 * x + 1] = p[o + x];
    return;
  }
  if (rv === 1) {
    // h2v1_fancy_upsample: 3/4 nearer + 1/4 further sample, alternate rounding.
    const o = y * stride;
    let prev = p[o], cur = p[o];
    for (let x = 0; x < dw; x++) {
      const next = x + 1 < dw ? p[o + x + 1] : cur;
      buf[2 * x] = (cur * 3 + prev + 1) >> 2;
      buf[2 * x + 1] = (cur * 3 + next + 2) >> 2;
      prev = cur;
      cur = next;
    }
    return;
  }
  // h2v2_fancy_upsample: vertical 3:1 column sums, then horizontal 3:1 with /16 rounding.
  const near = y >> 1;
  let far = y & 1 ? near + 1 : near - 1;
  if (far < 0) far = 0;
  if (far >= c.dh) far = c.dh - 1;
  const n = near * stride, f = far * stride;
  for (let x = 0; x < dw; x++) colsum[x] = p[n + x] * 3 + p[f + x];
  let prev = colsum[0], cur = colsum[0];
  for (let x = 0; x < dw; x++) {
    const next = x + 1 < dw ? colsum[x + 1] : cur;
    buf[2 * x] = (cur * 3 + prev + 8) >> 4;
    buf[2 * x + 1] = (cur * 3 + next + 7) >> 4;
    prev = cur;
    cur = next;
  }
}

function toRgb(comps: JpegComponent[], width: number, height: number): RgbImage {
  const out = new Uint8Array(width * height * 3);
  if (comps.length === 1) {
    const c = comps[0], p = c.plane;
    for (let y = 0, o = 0; y < height; y++) {
      const row = y * c.stride;
      for (let x = 0; x < width; x++, o += 3) out[o] = out[o + 1] = out[o + 2] = p[row + x];
    }
    return { width, height, data: out };
  }
  const maxH = Math.max(comps[0].h, comps[1].h, comps[2].h);
  const maxV = Math.max(comps[0].v, comps[1].v, comps[2].v);
  const full = comps.map((c) => c.h === maxH && c.v === maxV);
  const bufs = comps.map((c) => new Uint8ClampedArray(2 * c.dw + 2));
  const colsum = new Int32Array(Math.max(comps[0].dw, comps[1].dw, comps[2].dw) + 1);
  const [cy, cb, cr] = comps;
  for (let y = 0, o = 0; y < height; y++) {
    // A full-size component is read from its plane in place; others are upsampled.
    let yo = y * cy.stride, bo = y * cb.stride, ro = y * cr.stride;
    let yp = cy.plane, bp = cb.plane, rp = cr.plane;
    if (!full[0]) (upsampleRow(cy, maxV / cy.v, y, colsum, bufs[0]), yp = bufs[0], yo = 0);
    if (!full[1]) (upsampleRow(cb, maxV / cb.v, y, colsum, bufs[1]), bp = bufs[1], bo = 0);
    if (!full[2]) (upsampleRow(cr, maxV / cr.v, y, colsum, bufs[2]), rp = bufs[2], ro = 0);
    for (let x = 0; x < width; x++, o += 3) {
      const Y = yp[yo + x], b = bp[bo + x], r = rp[ro + x];
      const R = Y + CR_R[r], G = Y + ((CB_G[b] + CR_G[r]) >> 16), B = Y + CB_B[b];
      out[o] = R < 0 ? 0 : R > 255 ? 255 : R;
      out[o + 1] = G < 0 ? 0 : G > 255 ? 255 : G;
      out[o + 2] = B < 0 ? 0 : B > 255 ? 255 : B;
    }
  }
  return { width, height, data: out };
}
