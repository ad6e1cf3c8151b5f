/**
 * State dicts between tensors and weight files: RawTensor <-> Tensor conversion, loading a
 * module's weights from a `.pth` / safetensors file, and saving a module as safetensors.
 *
 * @module
 */
import { type DType, type Tensor, tensor } from "../tensor/mod.ts";
import type { Module } from "./module.ts";
import { writeSafetensors } from "./safetensors.ts";
import {
  numel,
  type RawDtype,
  type RawStateDict,
  type RawTensor,
  readWeights,
  stripKeyPrefix,
  toFloat32,
} from "./weights.ts";

/** A CPU tensor with the values of `raw` (float16/bfloat16 become float32). */
export function rawToTensor(raw: RawTensor, name = "tensor"): Tensor {
  const n = numel(raw.shape);
  const shape = raw.shape;
  // Copy into an aligned buffer: `raw.data` may sit at any byte offset of a file.
  const bytes = raw.data.slice();
  const buf = bytes.buffer;
  switch (raw.dtype) {
    case "float32":
      return tensor(new Float32Array(buf, 0, n), { shape });
    case "float64":
      return tensor(new Float64Array(buf, 0, n), { shape });
    case "float16":
    case "bfloat16":
      return tensor(toFloat32(raw), { shape });
    case "int64":
      return tensor(new BigInt64Array(buf, 0, n), { shape });
    case "int32":
      return tensor(new Int32Array(buf, 0, n), { shape });
    case "int8":
      return tensor(new Int8Array(buf, 0, n), { shape });
    case "uint8":
      return tensor(new Uint8Array(buf, 0, n), { shape });
    case "bool":
      return tensor(new Uint8Array(buf, 0, n), { shape, dtype: "bool" });
    default:
      throw new Error(`${name}: cannot make a tensor of dtype ${raw.dtype}`);
  }
}

const RAW_OF: Partial<Record<DType, RawDtype>> = {
  float32: "float32",
  float64: "float64",
  float16: "float32",
  bfloat16: "float32",
  int64: "int64",
  int32: "int32",
  int8: "int8",
  uint8: "uint8",
  bool: "bool",
};

/** The bytes of `t` (copied to the CPU; float16/bfloat16 are widened to float32). */
export function tensorToRaw(t: Tensor, name = "tensor"): RawTensor {
  const dtype = RAW_OF[t.dtype];
  if (dtype === undefined) throw new Error(`${name}: dtype ${t.dtype} cannot be stored`);
  const a = t.toArray();
  const data = new Uint8Array(a.byteLength);
  data.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  return { dtype, shape: [...t.shape], data };
}

/** The module's state dict as raw tensors (CPU copies), in state-dict order. */
export function stateDictToRaw(sd: Map<string, Tensor>): RawStateDict {
  const out: RawStateDict = new Map();
  for (const [k, t] of sd) out.set(k, tensorToRaw(t, k));
  return out;
}

/** Options of {@link loadWeightsFile}. */
export interface LoadWeightsOptions {
  /** Throw on missing or unexpected keys (default true). */
  strict?: boolean;
  /** A prefix removed from every key first, e.g. `"module."` of DataParallel checkpoints. */
  stripPrefix?: string;
  /** For `.pth` checkpoints that wrap the state dict in a dict, the entry holding it. */
  key?: string | string[];
}

/**
 * Loads a `.pth` or safetensors weight file into `module` (in place). Returns the missing and
 * unexpected keys (non-strict); errors name the file.
 */
export async function loadWeightsFile(
  module: Module,
  path: string,
  opts: LoadWeightsOptions = {},
): Promise<{ missing: string[]; unexpected: string[] }> {
  let sd = await readWeights(path, opts.key === undefined ? {} : { key: opts.key });
  if (opts.stripPrefix) sd = stripKeyPrefix(sd, opts.stripPrefix);
  try {
    return module.loadStateDict(sd, { strict: opts.strict });
  } catch (e) {
    throw new Error(`${path}: ${(e as Error).message}`, { cause: e });
  }
}

/** Writes the module's state dict as a safetensors file (atomically: temporary file + rename). */
export async function saveSafetensors(
  module: Module,
  path: string,
  metadata?: Record<string, string>,
): Promise<void> {
  await writeSafetensors(path, stateDictToRaw(module.stateDict()), metadata);
}
