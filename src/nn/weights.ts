/**
 * Weight files without a Tensor library: raw state dicts, format detection, and
 * conversions to Float32Array.
 *
 * A {@link RawTensor} holds the little-endian bytes of a contiguous row-major tensor,
 * exactly as the file stored them (after materializing strided views). The readers
 * are {@link readSafetensors} (`src/nn/safetensors.ts`) and {@link readPth}
 * (`src/nn/pth.ts`); {@link readWeights} picks one by looking at the file's first bytes.
 *
 * @module
 */

import { type DType, DTYPE_SIZE } from "../tensor/dtype.ts";
import { readSafetensors } from "./safetensors.ts";
import { readPth, type ReadPthOptions } from "./pth.ts";

/**
 * The element types a weight file may hold: the tensor library's {@link DType}s but int16
 * (neither reader maps it: a safetensors I16 or torch.ShortStorage tensor is refused, named).
 */
export type RawDtype = Exclude<DType, "int16">;

/** One tensor as bytes: little-endian, contiguous, row-major; `shape` `[]` is a scalar. */
export interface RawTensor {
  /** Element type of `data`. */
  dtype: RawDtype;
  /** Sizes per dimension. */
  shape: number[];
  /** `numel(shape) * dtypeSize(dtype)` bytes. */
  data: Uint8Array;
}

/** Tensors by name; insertion order is the order in the file. */
export type RawStateDict = Map<string, RawTensor>;

/** Bytes per element of `dtype`. */
export function dtypeSize(dtype: RawDtype): number {
  if (!Object.hasOwn(DTYPE_SIZE, dtype) || (dtype as string) === "int16") {
    throw new Error(`unknown dtype ${JSON.stringify(dtype)}`);
  }
  return DTYPE_SIZE[dtype];
}

/** Number of elements of a tensor of this shape (1 for a scalar). */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Options of {@link readWeights}; the `.pth` ones are ignored for safetensors. */
export interface ReadWeightsOptions extends ReadPthOptions {}

/** Which reader {@link detectWeightsFormat} chose. */
export type WeightsFormat = "safetensors" | "pth-zip" | "pth-legacy";

/**
 * Tells a weight file's format from its first bytes: a zip local header (`PK\3\4`),
 * a pickle protocol opcode (`\x80`), or a safetensors header length followed by `{`.
 * Throws naming the file when it is none of these.
 */
export function detectWeightsFormat(head: Uint8Array, path = "<bytes>"): WeightsFormat {
  if (head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 3 && head[3] === 4) {
    return "pth-zip";
  }
  if (head.length >= 2 && head[0] === 0x80 && head[1] >= 2 && head[1] <= 5) return "pth-legacy";
  if (head.length >= 9 && head[8] === 0x7b) return "safetensors";
  throw new Error(
    `${path}: expected a PyTorch .pth (zip or legacy pickle) or safetensors file, ` +
      `but it starts with bytes ${hex(head.subarray(0, 9))}`,
  );
}

/**
 * Reads a state dict from a safetensors or PyTorch `.pth` file, whichever it is.
 * For `.pth` files `opts` picks a nested dict and strips a key prefix (see {@link readPth}).
 */
export async function readWeights(
  path: string,
  opts: ReadWeightsOptions = {},
): Promise<RawStateDict> {
  const head = await readHead(path, 16);
  switch (detectWeightsFormat(head, path)) {
    case "safetensors": {
      const { tensors } = await readSafetensors(path);
      return opts.stripPrefix === undefined ? tensors : stripKeyPrefix(tensors, opts.stripPrefix);
    }
    default:
      return await readPth(path, opts);
  }
}

/**
 * The string metadata of a weight file: a safetensors file's `__metadata__` (only its header is
 * read), `{}` for `.pth` files, which have none.
 */
export async function weightsMetadata(path: string): Promise<Record<string, string>> {
  const head = await readHead(path, 16);
  if (detectWeightsFormat(head, path) !== "safetensors") return {};
  const len = Number(new DataView(head.buffer, head.byteOffset, 8).getBigUint64(0, true));
  const bytes = await readHead(path, 8 + len);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8)));
  } catch (e) {
    throw new Error(`${path}: the safetensors header is not JSON: ${(e as Error).message}`);
  }
  const meta = header.__metadata__;
  return meta && typeof meta === "object" ? { ...(meta as Record<string, string>) } : {};
}

/** Renames keys that start with `prefix` (e.g. DataParallel's `module.`); others stay. */
export function stripKeyPrefix(tensors: RawStateDict, prefix: string): RawStateDict {
  const out: RawStateDict = new Map();
  for (const [k, v] of tensors) {
    const name = k.startsWith(prefix) ? k.slice(prefix.length) : k;
    if (out.has(name)) {
      throw new Error(`stripping prefix ${JSON.stringify(prefix)} makes two tensors named ${name}`);
    }
    out.set(name, v);
  }
  return out;
}

/** The first `n` bytes of a file (fewer if it is shorter); names the file when missing. */
export async function readHead(path: string, n: number): Promise<Uint8Array> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (e) {
    throw fileError(path, e);
  }
  try {
    const buf = new Uint8Array(n);
    let got = 0;
    while (got < n) {
      const r = await file.read(buf.subarray(got));
      if (r === null) break;
      got += r;
    }
    return buf.subarray(0, got);
  } finally {
    file.close();
  }
}

/** Reads a whole file, with an error that names it when it cannot. */
export async function readWholeFile(path: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(path);
  } catch (e) {
    throw fileError(path, e);
  }
}

function fileError(path: string, e: unknown): Error {
  if (e instanceof Deno.errors.NotFound) {
    return new Error(`weights file not found: ${path}`, { cause: e });
  }
  return new Error(`cannot read weights file ${path}: ${(e as Error).message}`, { cause: e });
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(" ");
}

/** A typed-array view of `t.data` when it is aligned, else of a copy (never per-byte work). */
function view<T>(
  t: RawTensor,
  ctor: { new (buf: ArrayBufferLike, off: number, len: number): T; BYTES_PER_ELEMENT: number },
): T {
  const size = ctor.BYTES_PER_ELEMENT;
  const n = checkedNumel(t);
  const d = t.data.byteOffset % size === 0 ? t.data : t.data.slice();
  return new ctor(d.buffer, d.byteOffset, n);
}

function checkedNumel(t: RawTensor): number {
  const n = numel(t.shape);
  if (t.data.byteLength !== n * dtypeSize(t.dtype)) {
    throw new Error(
      `RawTensor of dtype ${t.dtype} and shape [${t.shape}] needs ${n * dtypeSize(t.dtype)} ` +
        `bytes, has ${t.data.byteLength}`,
    );
  }
  return n;
}

let halfTable: Float32Array | undefined;

/** All 65536 float16 values, so conversion is one table lookup per element. */
function halfToFloatTable(): Float32Array {
  if (halfTable) return halfTable;
  const table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    if (exp === 0) table[h] = sign * frac * 2 ** -24;
    else if (exp === 31) table[h] = frac ? NaN : sign * Infinity;
    else table[h] = sign * (1 + frac / 1024) * 2 ** (exp - 15);
  }
  halfTable = table;
  return table;
}

/**
 * The tensor's values as a new Float32Array (row-major). Converts from every
 * {@link RawDtype}: float16 and bfloat16 exactly, float64 and 64-bit integers rounded
 * to the nearest float32, bool as 0/1.
 */
export function toFloat32(t: RawTensor): Float32Array {
  const n = checkedNumel(t);
  switch (t.dtype) {
    case "float32":
      return new Float32Array(view(t, Float32Array));
    case "float64":
      return Float32Array.from(view(t, Float64Array));
    case "float16": {
      const src = view(t, Uint16Array);
      const table = halfToFloatTable();
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = table[src[i]];
      return out;
    }
    case "bfloat16": {
      // bfloat16 is the top half of a float32.
      const src = view(t, Uint16Array);
      const out = new Uint32Array(n);
      for (let i = 0; i < n; i++) out[i] = src[i] << 16;
      return new Float32Array(out.buffer);
    }
    case "int64": {
      const src = view(t, BigInt64Array);
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = Number(src[i]);
      return out;
    }
    case "int32":
      return Float32Array.from(view(t, Int32Array));
    case "int8":
      return Float32Array.from(view(t, Int8Array));
    case "uint8":
    case "bool":
      return Float32Array.from(t.data);
  }
}

/** A float32 RawTensor holding a copy of `values`; throws if the shape does not fit. */
export function fromFloat32(shape: number[], values: Float32Array): RawTensor {
  if (numel(shape) !== values.length) {
    throw new Error(`shape [${shape}] needs ${numel(shape)} values, got ${values.length}`);
  }
  const data = new Uint8Array(values.byteLength);
  data.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
  return { dtype: "float32", shape: [...shape], data };
}
