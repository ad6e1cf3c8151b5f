/**
 * Windows BMP decoding (data sets such as VIPeR ship .bmp files): uncompressed 1/4/8-bit
 * palette images, 24-bit BGR and 32-bit BGRX (BI_RGB, or BI_BITFIELDS with byte-aligned 8-bit
 * masks), bottom-up or top-down, with the BITMAPCOREHEADER or any BITMAPINFOHEADER version.
 * Pixels equal Pillow's `Image.open(f).convert("RGB")` for these kinds (tests/bmp_test.ts);
 * compressed (RLE, JPEG/PNG-in-BMP) and 16-bit files are refused with a message naming the file.
 *
 * @module
 */

/** Whether `bytes` start like a BMP file ("BM"). */
export function isBmp(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x42 && bytes[1] === 0x4d;
}

/** Decodes BMP bytes to 8-bit RGB (row-major HWC); `path` names the file in errors. */
export function decodeBmp(
  bytes: Uint8Array,
  path: string,
): { width: number; height: number; data: Uint8Array } {
  const fail = (why: string): never => {
    throw new Error(`${path}: ${why}`);
  };
  if (!isBmp(bytes) || bytes.length < 26) fail("not a BMP file (or truncated header)");
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dataOffset = dv.getUint32(10, true);
  const headerSize = dv.getUint32(14, true);
  let width: number, height: number, bpp: number, compression = 0, colorsUsed = 0;
  let paletteEntry = 4;
  if (headerSize === 12) {
    width = dv.getUint16(18, true);
    height = dv.getInt16(20, true);
    bpp = dv.getUint16(24, true);
    paletteEntry = 3;
  } else if (headerSize >= 40 && bytes.length >= 14 + 40) {
    width = dv.getInt32(18, true);
    height = dv.getInt32(22, true);
    bpp = dv.getUint16(28, true);
    compression = dv.getUint32(30, true);
    colorsUsed = dv.getUint32(46, true);
  } else {
    return fail(`unsupported BMP header of ${headerSize} bytes`);
  }
  const topDown = height < 0;
  height = Math.abs(height);
  if (width <= 0 || height <= 0 || width > 1 << 16 || height > 1 << 16) {
    fail(`bad BMP size ${width}x${height}`);
  }
  // BI_BITFIELDS (3) is read when its masks are plain byte lanes (B, G, R = bytes 0, 1, 2).
  let shifts = [16, 8, 0]; // R, G, B bit positions in a little-endian 32-bit pixel
  if (compression === 3) {
    if (bpp !== 32) fail(`unsupported ${bpp}-bit BI_BITFIELDS BMP`);
    const at = 14 + 40; // after a 40-byte header, or inside a larger one: the same place
    if (bytes.length < at + 12) fail("truncated BI_BITFIELDS masks");
    const masks = [dv.getUint32(at, true), dv.getUint32(at + 4, true), dv.getUint32(at + 8, true)];
    shifts = masks.map((m) => {
      const s = [0, 8, 16, 24].find((k) => m === (0xff << k) >>> 0);
      return s ?? fail(`unsupported BI_BITFIELDS mask 0x${m.toString(16)}`);
    });
  } else if (compression !== 0) {
    fail(`compressed BMP (compression ${compression}) is not supported; convert it to PNG`);
  }
  if (![1, 4, 8, 24, 32].includes(bpp)) fail(`unsupported ${bpp}-bit BMP`);
  let palette: Uint8Array | undefined;
  if (bpp <= 8) {
    const n = colorsUsed > 0 ? Math.min(colorsUsed, 1 << bpp) : 1 << bpp;
    const at = 14 + headerSize + (compression === 3 && headerSize === 40 ? 12 : 0);
    palette = new Uint8Array(256 * 3);
    for (let i = 0; i < n; i++) {
      const o = at + i * paletteEntry;
      if (o + 3 > bytes.length) fail("truncated palette");
      palette[i * 3] = bytes[o + 2];
      palette[i * 3 + 1] = bytes[o + 1];
      palette[i * 3 + 2] = bytes[o];
    }
  }
  const stride = Math.floor((width * bpp + 31) / 32) * 4;
  if (dataOffset + stride * height > bytes.length) {
    fail(`truncated pixel data (${bytes.length} bytes, ${dataOffset + stride * height} needed)`);
  }
  const out = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const row = dataOffset + (topDown ? y : height - 1 - y) * stride;
    let o = y * width * 3;
    for (let x = 0; x < width; x++, o += 3) {
      if (palette) {
        const bit = x * bpp;
        const byte = bytes[row + (bit >> 3)];
        const idx = (byte >> (8 - bpp - (bit & 7))) & ((1 << bpp) - 1);
        out[o] = palette[idx * 3];
        out[o + 1] = palette[idx * 3 + 1];
        out[o + 2] = palette[idx * 3 + 2];
      } else if (bpp === 24) {
        const p = row + x * 3;
        out[o] = bytes[p + 2];
        out[o + 1] = bytes[p + 1];
        out[o + 2] = bytes[p];
      } else {
        const v = dv.getUint32(row + x * 4, true);
        out[o] = (v >>> shifts[0]) & 0xff;
        out[o + 1] = (v >>> shifts[1]) & 0xff;
        out[o + 2] = (v >>> shifts[2]) & 0xff;
      }
    }
  }
  return { width, height, data: out };
}
