/**
 * A zip reader for archives held in memory: the central directory (zip64 included) and
 * each entry's bytes, stored (a view, no copy) or deflated (inflated with
 * `DecompressionStream`). Enough for `torch.save` archives; no encryption, no
 * multi-disk archives, no other compression methods.
 *
 * @module
 */

/** One central-directory entry of a zip. */
export interface ZipEntry {
  /** The entry's name (path inside the archive). */
  name: string;
  /** Compression method: 0 stored, 8 deflate (the only two read). */
  method: number;
  /** Bytes the entry takes in the file. */
  compressedSize: number;
  /** Bytes once inflated. */
  size: number;
  /** Byte offset of the entry's local header. */
  localOffset: number;
}

/** Reads the central directory (zip64 too) of a zip held in memory. */
export function readZipDirectory(bytes: Uint8Array, path: string): Map<string, ZipEntry> {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // The end-of-central-directory record sits in the last 22 + 65535 (comment) bytes.
  let eocd = -1;
  for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 22 - 65535); i--) {
    if (dv.getUint32(i, true) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) {
    throw new Error(`${path}: zip end record not found: the file is truncated or not a zip`);
  }
  let count = dv.getUint16(eocd + 10, true);
  let cdSize = dv.getUint32(eocd + 12, true);
  let cdOffset = dv.getUint32(eocd + 16, true);
  const loc = eocd - 20;
  // torch always writes the zip64 records; when present their values are authoritative.
  const hasZip64 = loc >= 0 && dv.getUint32(loc, true) === 0x07064b50;
  if (!hasZip64 && (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff)) {
    throw new Error(`${path}: zip64 end locator missing (truncated or corrupt zip)`);
  }
  if (hasZip64) {
    const rec = safeU64(dv, loc + 8, path);
    if (rec + 56 > bytes.length || dv.getUint32(rec, true) !== 0x06064b50) {
      throw new Error(`${path}: zip64 end record missing (truncated or corrupt zip)`);
    }
    count = safeU64(dv, rec + 32, path);
    cdSize = safeU64(dv, rec + 40, path);
    cdOffset = safeU64(dv, rec + 48, path);
  }
  if (cdOffset + cdSize > bytes.length) {
    throw new Error(`${path}: zip central directory lies past the end of the file (truncated?)`);
  }
  const entries = new Map<string, ZipEntry>();
  const utf8 = new TextDecoder();
  let p = cdOffset;
  for (let i = 0; i < count; i++) {
    if (p + 46 > bytes.length || dv.getUint32(p, true) !== 0x02014b50) {
      throw new Error(`${path}: corrupt zip central directory entry ${i}`);
    }
    const method = dv.getUint16(p + 10, true);
    let compressedSize = dv.getUint32(p + 20, true);
    let size = dv.getUint32(p + 24, true);
    const nameLen = dv.getUint16(p + 28, true);
    const extraLen = dv.getUint16(p + 30, true);
    const commentLen = dv.getUint16(p + 32, true);
    let localOffset = dv.getUint32(p + 42, true);
    const name = utf8.decode(bytes.subarray(p + 46, p + 46 + nameLen));
    // Zip64 extra field: the 64-bit values, in this order, for each field that is 0xffffffff.
    let e = p + 46 + nameLen;
    const extraEnd = e + extraLen;
    while (e + 4 <= extraEnd) {
      const id = dv.getUint16(e, true);
      const len = dv.getUint16(e + 2, true);
      if (id === 0x0001) {
        let q = e + 4;
        if (size === 0xffffffff) size = safeU64(dv, (q += 8) - 8, path);
        if (compressedSize === 0xffffffff) compressedSize = safeU64(dv, (q += 8) - 8, path);
        if (localOffset === 0xffffffff) localOffset = safeU64(dv, (q += 8) - 8, path);
      }
      e += 4 + len;
    }
    entries.set(name, { name, method, compressedSize, size, localOffset });
    p = extraEnd + commentLen;
  }
  return entries;
}

function safeU64(dv: DataView, at: number, path: string): number {
  const v = dv.getBigUint64(at, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`${path}: zip64 value too large`);
  return Number(v);
}

/** An entry's bytes: a view for stored entries, inflated for deflated ones. */
export async function zipEntryData(
  bytes: Uint8Array,
  entry: ZipEntry,
  path: string,
): Promise<Uint8Array> {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const p = entry.localOffset;
  if (p + 30 > bytes.length || dv.getUint32(p, true) !== 0x04034b50) {
    throw new Error(`${path}: zip entry ${entry.name} has no local header (corrupt zip)`);
  }
  const start = p + 30 + dv.getUint16(p + 26, true) + dv.getUint16(p + 28, true);
  const end = start + entry.compressedSize;
  if (end > bytes.length) {
    throw new Error(`${path}: zip entry ${entry.name} runs past the end of the file (truncated?)`);
  }
  const raw = bytes.subarray(start, end);
  if (entry.method === 0) return raw;
  if (entry.method === 8) {
    let out: Uint8Array;
    try {
      const stream = new Blob([raw as Uint8Array<ArrayBuffer>]).stream()
        .pipeThrough(new DecompressionStream("deflate-raw"));
      out = new Uint8Array(await new Response(stream).arrayBuffer());
    } catch (e) {
      throw new Error(`${path}: zip entry ${entry.name} does not inflate: ${(e as Error).message}`);
    }
    if (out.length !== entry.size) {
      throw new Error(
        `${path}: zip entry ${entry.name} inflated to ${out.length} bytes, expected ${entry.size}`,
      );
    }
    return out;
  }
  throw new Error(
    `${path}: zip entry ${entry.name} uses compression method ${entry.method}; ` +
      `only stored (0) and deflate (8) are read`,
  );
}
