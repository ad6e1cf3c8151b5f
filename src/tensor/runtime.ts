/**
 * Process-wide settings of libtorch: grad mode, random seeds and state, threads, CUDA; and the
 * count of live tensor handles.
 *
 * @module
 */
import { lib } from "../ffi/library.ts";
import { raise } from "./errors.ts";
import { check, handleOf, Tensor, wrap } from "./tensor.ts";

/** Runs `fn` with gradient recording off (restored afterwards, also on throw). */
export function noGrad<T>(fn: () => T): T {
  const prev = check(lib().ts_set_grad_enabled(0), "noGrad");
  try {
    const r = fn();
    if (r instanceof Promise) throw new Error("noGrad(fn): fn must be synchronous");
    return r;
  } finally {
    lib().ts_set_grad_enabled(prev);
  }
}

/** Whether gradients are being recorded. */
export function isGradEnabled(): boolean {
  return lib().ts_is_grad_enabled() === 1;
}

/** Seeds libtorch's global generators (CPU and CUDA): dropout, rand, randn, randperm. */
export function manualSeed(seed: number): void {
  check(lib().ts_manual_seed(BigInt(seed)), "manualSeed");
}

/** The CPU generator's state (a uint8 tensor), for checkpoints. */
export function rngState(): Tensor {
  return wrap(lib().ts_rng_get_state(), "rngState");
}

/** Restores a state from `rngState()`. */
export function setRngState(state: Tensor): void {
  check(lib().ts_rng_set_state(handleOf(state, "setRngState")), "setRngState");
}

/** Sets libtorch's intra-op threads; returns the number in effect. */
export function setNumThreads(n: number): number {
  return check(lib().ts_set_num_threads(n), "setNumThreads");
}

/**
 * Whether `conv2dFused` (the inference passes' convolution + residual sum + ReLU) calls oneDNN
 * directly as one kernel: the shim was built against a libtorch that shares Debian's libdnnl,
 * with its headers installed (scripts/build.ts), and the path is on. Otherwise it runs libtorch's
 * convolution, `add_` and `relu_`, with the same values.
 */
export function fusedConvolutionIsNative(): boolean {
  return lib().ts_conv2d_fused_native(-1) === 1;
}

/**
 * Turns the direct oneDNN path of `conv2dFused` on or off (also `configureRuntime({
 * fusedConvolution })` before loading, `ECN_FUSED_CONV=0` for the commands); returns whether it
 * is on afterwards (always false where the shim was built without it).
 */
export function setFusedConvolution(on: boolean): boolean {
  return lib().ts_conv2d_fused_native(on ? 1 : 0) === 1;
}

/** libtorch's intra-op threads. */
export function getNumThreads(): number {
  return lib().ts_get_num_threads();
}

/** Whether a CUDA device is usable (CUDA build of libtorch and a GPU). */
export function cudaAvailable(): boolean {
  return check(lib().ts_cuda_is_available(), "cudaAvailable") === 1;
}

/** Number of CUDA devices. */
export function cudaDeviceCount(): number {
  return check(lib().ts_cuda_device_count(), "cudaDeviceCount");
}

/** Waits for the CUDA device's work to finish. */
export function cudaSynchronize(index = 0): void {
  check(lib().ts_cuda_synchronize(index), "cudaSynchronize");
}

/** CUDA memory figures in bytes (all zero on CPU-only builds). */
export function cudaMemory(index = 0): {
  allocated: number;
  peakAllocated: number;
  reserved: number;
  peakReserved: number;
} {
  const f = (w: number) => {
    const v = Number(lib().ts_cuda_memory(index, w));
    if (v < 0) raise("cudaMemory");
    return v;
  };
  return { allocated: f(0), peakAllocated: f(1), reserved: f(2), peakReserved: f(3) };
}

/** Resets the CUDA peak-memory counters. */
export function cudaResetPeak(index = 0): void {
  check(lib().ts_cuda_reset_peak(index), "cudaResetPeak");
}

/** Number of tensor handles alive in the shim (for leak checks). */
export function liveTensors(): number {
  return Number(lib().ts_live_tensors());
}

/** The libtorch version string of the loaded shim, e.g. "libtorch 1.13.0 cpu". */
export function torchVersion(): string {
  const p = lib().ts_version_string();
  return p === null ? "" : Deno.UnsafePointerView.getCString(p);
}

export { Tensor };
