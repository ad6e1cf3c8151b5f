/**
 * Data types and devices.
 *
 * @module
 */
import { TorchError } from "./errors.ts";

/** Element types a tensor can have. */
export type DType =
  | "float32"
  | "float16"
  | "bfloat16"
  | "float64"
  | "int64"
  | "int32"
  | "int16"
  | "int8"
  | "uint8"
  | "bool";

/** c10::ScalarType codes, as the shim takes them. */
export const DTYPE_CODE: Readonly<Record<DType, number>> = {
  uint8: 0,
  int8: 1,
  int16: 2,
  int32: 3,
  int64: 4,
  float16: 5,
  float32: 6,
  float64: 7,
  bool: 11,
  bfloat16: 15,
};

const CODE_DTYPE: Map<number, DType> = new Map(
  Object.entries(DTYPE_CODE).map(([k, v]) => [v, k as DType]),
);

/** The DType of a c10::ScalarType code; throws for codes this library does not handle. */
export function dtypeFromCode(code: number): DType {
  const d = CODE_DTYPE.get(code);
  if (!d) throw new Error(`unsupported scalar type code ${code}`);
  return d;
}

/** The shim's code for `d`; throws TorchError(op) for an unknown type name. */
export function dtypeCode(d: DType, op: string): number {
  const c = DTYPE_CODE[d];
  if (c === undefined) {
    throw new TorchError(
      op,
      `unknown dtype '${d}': expected one of ${Object.keys(DTYPE_CODE).join(", ")}`,
    );
  }
  return c;
}

/** Bytes per element. */
export const DTYPE_SIZE: Readonly<Record<DType, number>> = {
  uint8: 1,
  int8: 1,
  int16: 2,
  int32: 4,
  int64: 8,
  float16: 2,
  float32: 4,
  float64: 8,
  bool: 1,
  bfloat16: 2,
};

/** Whether the type is a floating-point type (can require grad). */
export function isFloating(d: DType): boolean {
  return d === "float32" || d === "float16" || d === "bfloat16" || d === "float64";
}

/** A device: the CPU or one CUDA device. */
export interface Device {
  /** Device kind. */
  readonly type: "cpu" | "cuda";
  /** CUDA device ordinal (0 for the CPU). */
  readonly index: number;
}

/** A device or its name: "cpu", "cuda", "cuda:1". */
export type DeviceLike = Device | string;

/** Parses "cpu", "cuda" or "cuda:N". */
export function toDevice(d: DeviceLike): Device {
  if (typeof d !== "string") return d;
  if (d === "cpu") return { type: "cpu", index: 0 };
  const m = d.match(/^cuda(?::(\d+))?$/);
  if (!m) {
    throw new TorchError("device", `unknown device '${d}': expected "cpu", "cuda" or "cuda:N"`);
  }
  return { type: "cuda", index: m[1] ? Number(m[1]) : 0 };
}

/** The device's name, "cpu" or "cuda:N". */
export function deviceName(d: Device): string {
  return d.type === "cpu" ? "cpu" : `cuda:${d.index}`;
}

/** Typed arrays a tensor's data can come from or go to. */
export type TypedArray =
  | Float32Array
  | Float64Array
  | Int32Array
  | Int16Array
  | Int8Array
  | Uint8Array
  | BigInt64Array
  | Uint16Array;

/** The natural DType of a typed array (Uint16Array is taken as raw float16 bits). */
export function dtypeOfArray(a: TypedArray): DType {
  if (a instanceof Float32Array) return "float32";
  if (a instanceof Float64Array) return "float64";
  if (a instanceof Int32Array) return "int32";
  if (a instanceof Int16Array) return "int16";
  if (a instanceof Int8Array) return "int8";
  if (a instanceof Uint8Array) return "uint8";
  if (a instanceof BigInt64Array) return "int64";
  if (a instanceof Uint16Array) return "float16";
  throw new Error("unsupported typed array");
}
