/**
 * How a Tensor owns its native handle, and the helpers every foreign call goes through: `wrap`
 * (an owned handle from the shim becomes a Tensor), `handleOf` (a Tensor's handle, borrowed for
 * one call), `check` (an int32 status), `dimsBuffer`, `handleList`, the scratch out-parameters,
 * and the finalizer backstop.
 *
 * Private to the library: mod.ts exports none of it, so callers never hold a raw pointer. Only
 * `./tensor.ts` imports this module: its class hands over its private constructor and handle
 * access (`bindTensor`) when it is defined, and it re-exports these helpers for the rest of
 * `src/`. Importing them from `./tensor.ts` is what guarantees that binding has happened.
 *
 * @module
 */
import { lib } from "../ffi/library.ts";
import { raise, TorchError } from "./errors.ts";
import { keep } from "./scope.ts";
import type { Tensor } from "./tensor.ts";

/** A native libtorch tensor handle, owned by exactly one {@link Tensor}. */
export type Ptr = Deno.PointerObject;

// The Tensor class's private constructor and handle access (see bindTensor).
let makeTensor: (p: Ptr) => Tensor;
let ptrOf: (t: Tensor, op: string) => Ptr;
let armNow: (t: Tensor) => void;

/**
 * Called once, from the Tensor class's static block: `make` wraps an owned handle, `ptr` reads a
 * live tensor's handle (throwing TorchError(op) for a disposed tensor or a non-Tensor), `arm`
 * registers a tensor with the finalizer.
 */
export function bindTensor(
  make: (p: Ptr) => Tensor,
  ptr: (t: Tensor, op: string) => Ptr,
  arm: (t: Tensor) => void,
): void {
  makeTensor = make;
  ptrOf = ptr;
  armNow = arm;
}

/** Frees the handles of tensors that were never disposed: a backstop, not the way to free. */
export const finalizer: FinalizationRegistry<Ptr> = new FinalizationRegistry<Ptr>((p) => {
  try {
    lib().ts_free(p);
  } catch {
    // The process is going away or the library was never loaded: nothing to free.
  }
});

// Tensors waiting for their finalizer registration (see Tensor.escape).
let pendingArm: Tensor[] = [];
function armPending(): void {
  const list = pendingArm;
  pendingArm = [];
  for (const t of list) armNow(t);
}

/** Registers `t` with the finalizer in a microtask (see Tensor.escape). */
export function armLater(t: Tensor): void {
  pendingArm.push(t);
  if (pendingArm.length === 1) queueMicrotask(armPending);
}

// Scratch buffers for shapes and small out-parameters (calls are synchronous, so reuse is safe).
const SHAPE_A = new BigInt64Array(64);
const SHAPE_B = new BigInt64Array(64);
/** Out-parameter for a shape (ts_shape), up to rank 64. */
export const OUT_SHAPE: BigInt64Array<ArrayBuffer> = new BigInt64Array(64);
/** Out-parameter for two handles (ts_topk, ts_sort, ts_grad). */
export const OUT2: BigUint64Array<ArrayBuffer> = new BigUint64Array(2);
/** Out-parameter for one double (ts_item). */
export const OUT_F64: Float64Array<ArrayBuffer> = new Float64Array(1);
/** Out-parameter for two int32 (ts_device: type and index). */
export const OUT_I32: Int32Array<ArrayBuffer> = new Int32Array(2);

/** Fills a scratch buffer with dims; returns it (the count is passed separately). */
export function dimsBuffer(dims: readonly number[], which: 0 | 1 = 0): BigInt64Array<ArrayBuffer> {
  const buf = which === 0 ? SHAPE_A : SHAPE_B;
  if (dims.length > 64) throw new TorchError("shape", `rank ${dims.length} exceeds 64`);
  for (let i = 0; i < dims.length; i++) {
    const d = dims[i];
    if (!Number.isInteger(d)) {
      throw new TorchError("shape", `dimension ${i} is ${d}, expected an integer (in [${dims}])`);
    }
    buf[i] = BigInt(d);
  }
  return buf;
}

/** Wraps an owned handle returned by the shim; throws the shim's error as TorchError(op) for null. */
export function wrap(p: Ptr | null, op: string): Tensor {
  if (p === null) raise(op);
  return makeTensor(p);
}

/** Wraps an owned handle as a tensor that no scope owns (long-lived state). */
export function keptTensor(p: Ptr): Tensor {
  return keep(makeTensor(p));
}

/**
 * The raw handle of `t`, borrowed for one foreign call; throws TorchError(op) if `t` was disposed
 * or is not a Tensor.
 */
export function handleOf(t: Tensor, op = "tensor"): Ptr {
  return ptrOf(t, op);
}

/** Checks an int32 status; throws TorchError(op) for a negative one. */
export function check(status: number, op: string): number {
  if (status < 0) raise(op);
  return status;
}

/** A handle list for ts_cat / ts_stack / ts_sgd_step. */
export function handleList(ts: readonly Tensor[], op: string): BigUint64Array<ArrayBuffer> {
  const a = new BigUint64Array(ts.length);
  for (let i = 0; i < ts.length; i++) a[i] = BigInt(Deno.UnsafePointer.value(ptrOf(ts[i], op)));
  return a;
}

/** The two owned handles a call left in OUT2, as tensors; throws TorchError(op) for a null one. */
export function readOut2(op: string): [Tensor, Tensor] {
  const a = Deno.UnsafePointer.create(OUT2[0]);
  const b = Deno.UnsafePointer.create(OUT2[1]);
  if (a === null || b === null) raise(op);
  return [makeTensor(a), makeTensor(b)];
}
