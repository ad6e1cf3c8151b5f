/**
 * Tensor factories, mirroring native/creation.cpp: from data (`tensor`), filled (`full`, `zeros`,
 * `ones`), ranges (`arange`) and random draws from the global generator that `manualSeed` seeds
 * (`rand`, `randn`, `randint`, `randperm`).
 *
 * @module
 */
import { lib } from "../ffi/library.ts";
import {
  type DeviceLike,
  type DType,
  DTYPE_CODE,
  dtypeCode,
  dtypeOfArray,
  toDevice,
  type TypedArray,
} from "./dtype.ts";
import { TorchError } from "./errors.ts";
import { dimsBuffer, type Tensor, wrap } from "./tensor.ts";

/** Options for creating tensors. */
export interface TensorOptions {
  /** Element type (default float32, or the source typed array's; integer `arange`: int64). */
  dtype?: DType;
  /** Where the tensor lives (default cpu). */
  device?: DeviceLike;
  /** Track gradients for autograd (default false). */
  requiresGrad?: boolean;
}

function devArgs(device: DeviceLike | undefined): [number, number] {
  const d = toDevice(device ?? "cpu");
  return [d.type === "cuda" ? 1 : 0, d.index];
}

function finish(t: Tensor, opts: TensorOptions): Tensor {
  if (opts.requiresGrad) t.setRequiresGrad(true);
  return t;
}

/**
 * A tensor from a typed array (copied) or nested/flat number arrays. `shape` defaults to the
 * array's length (or the nesting of nested arrays); `dtype` to the array's type (float32 for
 * numbers).
 */
export function tensor(
  data: TypedArray | number[] | number[][] | number[][][] | number,
  opts: TensorOptions & { shape?: readonly number[] } = {},
): Tensor {
  let arr: TypedArray;
  let inferred: number[];
  if (typeof data === "number") {
    arr = new Float64Array([data]);
    inferred = [];
  } else if (ArrayBuffer.isView(data)) {
    arr = data;
    inferred = [data.length];
  } else {
    inferred = [];
    let probe: unknown = data;
    while (Array.isArray(probe)) {
      inferred.push(probe.length);
      probe = probe[0];
    }
    const flat = (data as unknown[]).flat(Infinity) as number[];
    arr = new Float64Array(flat);
    if (!opts.dtype) opts = { ...opts, dtype: "float32" };
  }
  const shape = opts.shape ?? inferred;
  const srcType = dtypeOfArray(arr);
  const want = opts.dtype ?? (typeof data === "number" ? "float32" : srcType);
  let n = 1;
  for (const d of shape) n *= d;
  if (n !== arr.length) {
    throw new TorchError(
      "tensor",
      `shape [${shape}] needs ${n} elements, the data has ${arr.length}`,
    );
  }
  const bytes = new Uint8Array(arr.buffer as ArrayBuffer, arr.byteOffset, arr.byteLength);
  const [dt, di] = devArgs(opts.device);
  let t = wrap(
    lib().ts_from_data(
      bytes,
      BigInt(bytes.byteLength),
      dimsBuffer(shape),
      shape.length,
      DTYPE_CODE[srcType],
      want === srcType ? dt : 0,
      want === srcType ? di : 0,
    ),
    "tensor",
  );
  if (want !== srcType) {
    const c = t.to({ dtype: want, device: opts.device ?? "cpu" });
    t.dispose();
    t = c;
  }
  return finish(t, opts);
}

/** A tensor filled with `value`. */
export function full(shape: readonly number[], value: number, opts: TensorOptions = {}): Tensor {
  const [dt, di] = devArgs(opts.device);
  return finish(
    wrap(
      lib().ts_full(
        dimsBuffer(shape),
        shape.length,
        value,
        dtypeCode(opts.dtype ?? "float32", "full"),
        dt,
        di,
      ),
      "full",
    ),
    opts,
  );
}

/** A tensor of zeros. */
export function zeros(shape: readonly number[], opts: TensorOptions = {}): Tensor {
  return full(shape, 0, opts);
}

/** A tensor of ones. */
export function ones(shape: readonly number[], opts: TensorOptions = {}): Tensor {
  return full(shape, 1, opts);
}

/** start, start+step, ... < end (int64 by default when all arguments are integers). */
export function arange(
  end: number,
  opts: TensorOptions & { start?: number; step?: number } = {},
): Tensor {
  const start = opts.start ?? 0;
  const step = opts.step ?? 1;
  const ints = [start, end, step].every(Number.isInteger);
  const [dt, di] = devArgs(opts.device);
  return finish(
    wrap(
      lib().ts_arange(
        start,
        end,
        step,
        dtypeCode(opts.dtype ?? (ints ? "int64" : "float32"), "arange"),
        dt,
        di,
      ),
      "arange",
    ),
    opts,
  );
}

/** Uniform samples in [low, high) from the seeded global generator. */
export function rand(
  shape: readonly number[],
  opts: TensorOptions & { low?: number; high?: number } = {},
): Tensor {
  const [dt, di] = devArgs(opts.device);
  return finish(
    wrap(
      lib().ts_rand(
        dimsBuffer(shape),
        shape.length,
        0,
        opts.low ?? 0,
        opts.high ?? 1,
        dtypeCode(opts.dtype ?? "float32", "rand"),
        dt,
        di,
      ),
      "rand",
    ),
    opts,
  );
}

/** Normal samples from the seeded global generator. */
export function randn(
  shape: readonly number[],
  opts: TensorOptions & { mean?: number; std?: number } = {},
): Tensor {
  const [dt, di] = devArgs(opts.device);
  return finish(
    wrap(
      lib().ts_rand(
        dimsBuffer(shape),
        shape.length,
        1,
        opts.mean ?? 0,
        opts.std ?? 1,
        dtypeCode(opts.dtype ?? "float32", "rand"),
        dt,
        di,
      ),
      "randn",
    ),
    opts,
  );
}

/** Uniform int64 samples in [low, high). */
export function randint(
  low: number,
  high: number,
  shape: readonly number[],
  opts: { device?: DeviceLike } = {},
): Tensor {
  const [dt, di] = devArgs(opts.device);
  return wrap(
    lib().ts_randint(BigInt(low), BigInt(high), dimsBuffer(shape), shape.length, dt, di),
    "randint",
  );
}

/** A random permutation of 0..n-1 (int64). */
export function randperm(n: number, opts: { device?: DeviceLike } = {}): Tensor {
  const [dt, di] = devArgs(opts.device);
  return wrap(lib().ts_randperm(BigInt(n), dt, di), "randperm");
}
