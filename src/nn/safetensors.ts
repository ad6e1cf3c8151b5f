/**
 * The safetensors format (huggingface/safetensors): an 8-byte little-endian header
 * length, a JSON header `{name: {dtype, shape, data_offsets: [begin, end]}, __metadata__}`
 * padded with spaces to a multiple of 8, then the tensor bytes.
 *
 * @module
 */

import { writeFileAtomic } from "../util/atomic.ts";
import {
  dtypeSize,
  numel,
  type RawDtype,
  type RawStateDict,
  type RawTensor,
  readWholeFile,
} from "./weights.ts";

/** A safetensors file's contents. */
export interface SafetensorsFile {
  /** Tensors in the order of their data in the file. */
  tensors: RawStateDict;
  /** The `__metadata__` strings (empty when the file has none). */
  metadata: Record<string, string>;
}

const CODE_TO_DTYPE: Record<string, RawDtype> = {
  F32: "float32",
  F16: "float16",
  BF16: "bfloat16",
  F64: "float64",
  I64: "int64",
  I32: "int32",
  I8: "int8",
  U8: "uint8",
  BOOL: "bool",
};

const DTYPE_TO_CODE: Record<RawDtype, string> = {
  float32: "F32",
  float16: "F16",
  bfloat16: "BF16",
  float64: "F64",
  int64: "I64",
  int32: "I32",
  int8: "I8",
  uint8: "U8",
  bool: "BOOL",
};

/** The reference implementation's limit; a larger length means a corrupt file. */
const MAX_HEADER = 100_000_000;

/** Reads a safetensors file; every tensor gets its own copy of its bytes. */
export async function readSafetensors(path: string): Promise<SafetensorsFile> {
  return parseSafetensors(await readWholeFile(path), path);
}

/**
 * Parses safetensors bytes. Checks the header length, the JSON, every dtype and shape,
 * that each tensor's byte range matches its shape, lies inside the file and overlaps no
 * other. `path` only names the source in errors.
 */
export function parseSafetensors(bytes: Uint8Array, path = "<bytes>"): SafetensorsFile {
  const fail = (msg: string): never => {
    throw new Error(`${path}: not a valid safetensors file: ${msg}`);
  };
  if (bytes.length < 8) fail(`${bytes.length} bytes is too short for the 8-byte header length`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = dv.getBigUint64(0, true);
  if (headerLen > BigInt(MAX_HEADER)) fail(`header length ${headerLen} is implausible`);
  const hlen = Number(headerLen);
  if (8 + hlen > bytes.length) {
    fail(`header length ${hlen} runs past the end of the ${bytes.length}-byte file (truncated?)`);
  }
  let header: unknown;
  try {
    header = JSON.parse(
      new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + hlen)),
    );
  } catch (e) {
    fail(`header is not JSON (${(e as Error).message})`);
  }
  if (header === null || typeof header !== "object" || Array.isArray(header)) {
    fail("header is not a JSON object");
  }
  const dataStart = 8 + hlen;
  const dataLen = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const entries: { name: string; dtype: RawDtype; shape: number[]; begin: number; end: number }[] =
    [];
  for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (value === null || typeof value !== "object" || Array.isArray(value)) {
        fail("__metadata__ is not an object");
      }
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (typeof v !== "string") fail(`__metadata__.${k} is not a string`);
        metadata[k] = v as string;
      }
      continue;
    }
    const info = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (info === null || typeof info !== "object") fail(`entry ${name} is not an object`);
    const code = String(info.dtype);
    if (!Object.hasOwn(CODE_TO_DTYPE, code)) {
      fail(
        `tensor ${name} has unknown dtype ${JSON.stringify(info.dtype)} ` +
          `(expected one of ${Object.keys(CODE_TO_DTYPE).join(", ")})`,
      );
    }
    const dtype = CODE_TO_DTYPE[code];
    const shape = info.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(`tensor ${name} has shape ${JSON.stringify(shape)}, expected non-negative integers`);
    }
    const offs = info.data_offsets;
    if (
      !Array.isArray(offs) || offs.length !== 2 ||
      !offs.every((o) => Number.isSafeInteger(o) && o >= 0) || offs[0] > offs[1]
    ) {
      fail(`tensor ${name} has data_offsets ${JSON.stringify(offs)}, expected [begin, end]`);
    }
    const [begin, end] = offs as [number, number];
    const need = numel(shape as number[]) * dtypeSize(dtype);
    if (end - begin !== need) {
      fail(
        `tensor ${name} (${info.dtype} [${shape}]) needs ${need} bytes but data_offsets ` +
          `[${begin}, ${end}] hold ${end - begin}`,
      );
    }
    if (end > dataLen) {
      fail(
        `tensor ${name} ends at data byte ${end} but the file holds only ${dataLen} data bytes ` +
          `(truncated?)`,
      );
    }
    entries.push({ name, dtype, shape: shape as number[], begin, end });
  }
  // File order is data order; JSON.parse would also move integer-like names to the front.
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  for (let i = 1; i < entries.length; i++) {
    const prev = entries[i - 1], cur = entries[i];
    if (cur.begin < prev.end) {
      fail(
        `tensors ${prev.name} [${prev.begin}, ${prev.end}] and ${cur.name} ` +
          `[${cur.begin}, ${cur.end}] overlap`,
      );
    }
  }
  const tensors: RawStateDict = new Map();
  for (const e of entries) {
    const data = bytes.slice(dataStart + e.begin, dataStart + e.end);
    tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data });
  }
  return { tensors, metadata };
}

/**
 * The header bytes (length prefix, JSON, space padding) for `tensors` laid out in map
 * order, as the reference writer pads them: the JSON is padded to a multiple of 8 bytes.
 */
export function safetensorsHeader(
  tensors: RawStateDict,
  metadata?: Record<string, string>,
): Uint8Array {
  // Built by hand so the map order survives (a JS object would move "0"-like names first).
  const parts: string[] = [];
  if (metadata && Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== "string") throw new Error(`safetensors metadata ${k} must be a string`);
    }
    parts.push(`"__metadata__":${JSON.stringify(metadata)}`);
  }
  let offset = 0;
  for (const [name, t] of tensors) {
    if (name === "__metadata__") throw new Error("a tensor cannot be named __metadata__");
    checkTensor(name, t);
    const info = {
      dtype: DTYPE_TO_CODE[t.dtype],
      shape: t.shape,
      data_offsets: [offset, offset + t.data.byteLength],
    };
    parts.push(`${JSON.stringify(name)}:${JSON.stringify(info)}`);
    offset += t.data.byteLength;
  }
  const json = new TextEncoder().encode(`{${parts.join(",")}}`);
  const padded = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + padded).fill(0x20, 8);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  return out;
}

function checkTensor(name: string, t: RawTensor): void {
  if (!Object.hasOwn(DTYPE_TO_CODE, t.dtype)) {
    throw new Error(`tensor ${name}: dtype ${t.dtype} cannot be stored in safetensors`);
  }
  const need = numel(t.shape) * dtypeSize(t.dtype);
  if (t.data.byteLength !== need) {
    throw new Error(
      `tensor ${name}: ${t.dtype} [${t.shape}] needs ${need} bytes, data has ${t.data.byteLength}`,
    );
  }
}

/**
 * Writes `tensors` (in map order) and optional string `metadata` as a safetensors file.
 * The file is replaced atomically: a failed write leaves any old file as it was.
 */
export async function writeSafetensors(
  path: string,
  tensors: RawStateDict,
  metadata?: Record<string, string>,
): Promise<void> {
  const header = safetensorsHeader(tensors, metadata);
  await writeFileAtomic(path, [header, ...Array.from(tensors.values(), (t) => t.data)]);
}
