/**
 * The Tensor class: a handle to a libtorch tensor, with the ops ResNet training, ECN and
 * evaluation need. Every op returns a new Tensor owned by the caller (or by the enclosing
 * `scope`); release it with `dispose()`, `using`, or a scope. A FinalizationRegistry frees
 * forgotten handles only as a backstop.
 *
 * Longer than the library's 500-line aim on purpose: the class is one short method per shim entry
 * point of native/creation.cpp (metadata, copies), math.cpp, indexing.cpp and autograd.cpp, and
 * its methods cannot be spread over files without giving up the private handle field. The
 * factories are in creation.ts; the handle plumbing is in handle.ts, re-exported here for the
 * rest of `src/` (mod.ts exports none of it).
 *
 * @module
 */
import { lib } from "../ffi/library.ts";
import {
  type Device,
  type DeviceLike,
  deviceName,
  type DType,
  DTYPE_SIZE,
  dtypeCode,
  dtypeFromCode,
  toDevice,
  type TypedArray,
} from "./dtype.ts";
import { TorchError } from "./errors.ts";
import { currentScope } from "./scope.ts";
import {
  armLater,
  bindTensor,
  check,
  dimsBuffer,
  finalizer,
  handleList,
  OUT2,
  OUT_F64,
  OUT_I32,
  OUT_SHAPE,
  type Ptr,
  readOut2,
  wrap,
} from "./handle.ts";

export { check, dimsBuffer, handleList, handleOf, keptTensor, type Ptr, wrap } from "./handle.ts";

// The class's private handle access: set in its static block, which also hands it to handle.ts.
let ptrOf: (t: Tensor, op: string) => Ptr;
const INTERNAL: unique symbol = Symbol("Tensor.internal");

/** Binary op codes of the shim (native/math.cpp). */
const enum Bin {
  Add = 0,
  Sub = 1,
  Mul = 2,
  Div = 3,
  Pow = 4,
  Max = 5,
  Min = 6,
  Eq = 7,
  Ne = 8,
  Lt = 9,
  Le = 10,
  Gt = 11,
  Ge = 12,
  And = 13,
  Or = 14,
  RSub = 15,
  RDiv = 16,
}

/** Unary op codes of the shim (native/math.cpp). */
const enum Un {
  Neg = 0,
  Exp = 1,
  Log = 2,
  Sqrt = 3,
  Rsqrt = 4,
  Abs = 5,
  Relu = 6,
  Sigmoid = 7,
  Tanh = 8,
  Relu6 = 9,
  Sign = 10,
  Floor = 11,
  Ceil = 12,
  Round = 13,
  Not = 14,
  Square = 15,
  Reciprocal = 16,
  IsNan = 17,
  IsInf = 18,
  IsFinite = 19,
  Sin = 20,
  Cos = 21,
}

const BIN_NAMES = [
  "add",
  "sub",
  "mul",
  "div",
  "pow",
  "maximum",
  "minimum",
  "eq",
  "ne",
  "lt",
  "le",
  "gt",
  "ge",
  "logicalAnd",
  "logicalOr",
  "rsub",
  "rdiv",
];
/** Memory layouts of {@link Tensor.contiguous}: row-major, or channels-last for 4-D tensors. */
export type MemoryFormat = "contiguous" | "channels_last";

function memoryFormatCode(format: MemoryFormat): number {
  if (format === "contiguous") return 0;
  if (format === "channels_last") return 1;
  throw new TypeError(
    `memory format ${JSON.stringify(format)}: expected "contiguous" or "channels_last"`,
  );
}

/** A tensor handle. */
export class Tensor {
  #ptr: Ptr | null;
  #shape: readonly number[] | undefined;
  #registered = false;
  #pendingArm = false;

  static {
    ptrOf = (t, op) => {
      if (!(t instanceof Object) || !(#ptr in t)) {
        throw new TorchError(op, `expected a Tensor, got ${Object.prototype.toString.call(t)}`);
      }
      if (t.#ptr === null) throw new TorchError(op, "tensor was disposed (use after dispose)");
      return t.#ptr;
    };
    bindTensor((p) => new Tensor(INTERNAL, p), ptrOf, (t) => t.#armNow());
  }

  /**
   * Not callable from outside the library: tensors come from the factory functions (`tensor`,
   * `zeros`, `randn`, ...) and from ops.
   */
  private constructor(key: typeof INTERNAL, ptr: Ptr) {
    if (key !== INTERNAL) {
      throw new TypeError("Tensor cannot be constructed directly; use tensor(), zeros(), ...");
    }
    this.#ptr = ptr;
    // Inside a scope the scope frees the handle; the finalizer backstop (costly in V8: about a
    // microsecond per tensor) is only armed for tensors that no scope owns.
    const s = currentScope();
    if (s) s.owned.add(this);
    else this.escape();
  }

  /**
   * Arms the finalizer backstop once no scope owns this tensor (called by `keep` and scopes).
   * Registration is deferred to a microtask, so a tensor disposed in the same synchronous run
   * (the usual case in loops) never pays for it.
   */
  escape(): void {
    if (this.#registered || this.#ptr === null || this.#pendingArm) return;
    this.#pendingArm = true;
    armLater(this);
  }

  /** Registers with the finalizer if still alive (see `escape`). */
  #armNow(): void {
    this.#pendingArm = false;
    if (this.#registered || this.#ptr === null) return;
    finalizer.register(this, this.#ptr, this);
    this.#registered = true;
  }

  /** Whether `dispose()` has been called. */
  get disposed(): boolean {
    return this.#ptr === null;
  }

  /** Frees the handle now (idempotent). */
  dispose(): void {
    if (this.#ptr === null) return;
    if (this.#registered) finalizer.unregister(this);
    lib().ts_free(this.#ptr);
    this.#ptr = null;
    currentScope()?.owned.delete(this);
  }

  /** `using t = ...` support. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  // ---- metadata ---------------------------------------------------------------------------

  /** Sizes of each dimension. */
  get shape(): readonly number[] {
    if (this.#shape === undefined) {
      const n = check(lib().ts_shape(ptrOf(this, "shape"), OUT_SHAPE, 64), "shape");
      const s: number[] = new Array(n);
      for (let i = 0; i < n; i++) s[i] = Number(OUT_SHAPE[i]);
      this.#shape = Object.freeze(s);
    }
    return this.#shape;
  }

  /** Number of dimensions. */
  get ndim(): number {
    return this.shape.length;
  }

  /** Number of elements. */
  get numel(): number {
    let n = 1;
    for (const d of this.shape) n *= d;
    return n;
  }

  /** Element type. */
  get dtype(): DType {
    return dtypeFromCode(check(lib().ts_dtype(ptrOf(this, "dtype")), "dtype"));
  }

  /** The device holding the data. */
  get device(): Device {
    check(lib().ts_device(ptrOf(this, "device"), OUT_I32), "device");
    return OUT_I32[0] === 1 ? { type: "cuda", index: OUT_I32[1] } : { type: "cpu", index: 0 };
  }

  /** Size of dimension `d` (negative counts from the end). */
  size(d: number): number {
    const s = this.shape;
    const i = d < 0 ? s.length + d : d;
    if (i < 0 || i >= s.length) {
      throw new TorchError("size", `dimension ${d} out of range for shape [${s}]`);
    }
    return s[i];
  }

  /** A short description: `Tensor[2, 3] float32 cpu`. */
  toString(): string {
    if (this.#ptr === null) return "Tensor(disposed)";
    return `Tensor[${this.shape.join(", ")}] ${this.dtype} ${deviceName(this.device)}`;
  }

  // ---- data -------------------------------------------------------------------------------

  /**
   * The elements as a flat typed array in row-major order (copied to the CPU): Float32Array for
   * float32/float16/bfloat16, Float64Array, BigInt64Array for int64, Int32Array, Int16Array,
   * Int8Array, Uint8Array for uint8 and bool.
   */
  toArray(): TypedArray {
    const dt = this.dtype;
    if (dt === "float16" || dt === "bfloat16") {
      using f = this.to({ dtype: "float32" });
      return f.toArray();
    }
    const n = this.numel;
    const out = makeArray(dt, n);
    check(
      lib().ts_copy_to_buffer(
        ptrOf(this, "toArray"),
        out as Uint8Array<ArrayBuffer>,
        BigInt(n * DTYPE_SIZE[dt]),
      ),
      "toArray",
    );
    return out;
  }

  /** The elements as a flat number[] (int64 converted with Number()). */
  toNumbers(): number[] {
    const a = this.toArray();
    return a instanceof BigInt64Array ? Array.from(a, Number) : Array.from(a as Float32Array);
  }

  /** The value of a one-element tensor. */
  item(): number {
    check(lib().ts_item(ptrOf(this, "item"), OUT_F64), "item");
    return OUT_F64[0];
  }

  // ---- conversion and copies ----------------------------------------------------------------

  /** Converts dtype and/or device (returns a new handle even when nothing changes). */
  to(opts: { dtype?: DType; device?: DeviceLike; copy?: boolean } | DeviceLike): Tensor {
    const o = typeof opts === "string" || "type" in opts
      ? { device: opts as DeviceLike }
      : opts as { dtype?: DType; device?: DeviceLike; copy?: boolean };
    const dev = o.device === undefined ? undefined : toDevice(o.device);
    return wrap(
      lib().ts_to(
        ptrOf(this, "to"),
        o.dtype === undefined ? -1 : dtypeCode(o.dtype, "to"),
        dev === undefined ? -1 : dev.type === "cuda" ? 1 : 0,
        dev?.index ?? 0,
        o.copy ? 1 : 0,
      ),
      "to",
    );
  }

  /** Copy on the CPU. */
  cpu(): Tensor {
    return this.to({ device: "cpu" });
  }

  /** Copy on CUDA device `index`. */
  cuda(index = 0): Tensor {
    return this.to({ device: { type: "cuda", index } });
  }

  /** A copy with its own storage (keeps autograd history). */
  clone(): Tensor {
    return wrap(lib().ts_clone(ptrOf(this, "clone")), "clone");
  }

  /** The same data, cut from the autograd graph. */
  detach(): Tensor {
    return wrap(lib().ts_detach(ptrOf(this, "detach")), "detach");
  }

  /**
   * A dense version in `format`: "contiguous" (row-major, the default) or "channels_last" (4-D
   * only: N, H, W, C in memory, the layout oneDNN convolutions run fastest in on the CPU). The
   * shape and values are the same; only the strides differ. Returns a new handle to the same
   * storage when the tensor already is in that format.
   */
  contiguous(format: MemoryFormat = "contiguous"): Tensor {
    const self = ptrOf(this, "contiguous");
    if (format === "contiguous") return wrap(lib().ts_contiguous(self), "contiguous");
    return wrap(lib().ts_contiguous_format(self, memoryFormatCode(format)), "contiguous");
  }

  /**
   * How many times the data was modified in place (libtorch's version counter, shared by views
   * of the same storage): a cache of values derived from a tensor is stale when it changed.
   */
  get version(): number {
    return check(Number(lib().ts_version(ptrOf(this, "version"))), "version");
  }

  /** Whether the tensor is dense in `format` ("contiguous", row-major, by default). */
  isContiguous(format: MemoryFormat = "contiguous"): boolean {
    const self = ptrOf(this, "isContiguous");
    return check(lib().ts_is_contiguous_format(self, memoryFormatCode(format)), "isContiguous") ===
      1;
  }

  /** A second handle to the same tensor (same storage and autograd identity). */
  alias(): Tensor {
    return wrap(lib().ts_alias(ptrOf(this, "alias")), "alias");
  }

  /** Copies `src` into this tensor in place (broadcasting; no autograd). Returns this. */
  copy_(src: Tensor): this {
    check(lib().ts_copy_(ptrOf(this, "copy_"), ptrOf(src, "copy_")), "copy_");
    return this;
  }

  /** Fills with `value` in place (no autograd). Returns this. */
  fill_(value: number): this {
    check(lib().ts_fill_(ptrOf(this, "fill_"), value), "fill_");
    return this;
  }

  /** Fills with zeros in place. Returns this. */
  zero_(): this {
    return this.fill_(0);
  }

  // ---- elementwise ------------------------------------------------------------------------------

  #bin(op: Bin, other: Tensor | number): Tensor {
    const name = BIN_NAMES[op];
    if (typeof other === "number") {
      return wrap(lib().ts_binary_scalar(op, ptrOf(this, name), other), name);
    }
    return wrap(lib().ts_binary(op, ptrOf(this, name), ptrOf(other, name)), name);
  }

  #binInplace(op: Bin, other: Tensor | number): this {
    const name = BIN_NAMES[op] + "_";
    if (typeof other === "number") {
      check(lib().ts_binary_scalar_(op, ptrOf(this, name), other), name);
    } else {
      check(lib().ts_binary_(op, ptrOf(this, name), ptrOf(other, name)), name);
    }
    return this;
  }

  #un(op: Un, name: string): Tensor {
    return wrap(lib().ts_unary(op, ptrOf(this, name)), name);
  }

  /** this + other (broadcasting). */
  add(other: Tensor | number): Tensor {
    return this.#bin(Bin.Add, other);
  }
  /** this - other. */
  sub(other: Tensor | number): Tensor {
    return this.#bin(Bin.Sub, other);
  }
  /** this * other. */
  mul(other: Tensor | number): Tensor {
    return this.#bin(Bin.Mul, other);
  }
  /** this / other (true division). */
  div(other: Tensor | number): Tensor {
    return this.#bin(Bin.Div, other);
  }
  /** this ** exponent. */
  pow(exponent: Tensor | number): Tensor {
    return this.#bin(Bin.Pow, exponent);
  }
  /** other - this. */
  rsub(other: number): Tensor {
    return this.#bin(Bin.RSub, other);
  }
  /** other / this. */
  rdiv(other: number): Tensor {
    return this.#bin(Bin.RDiv, other);
  }
  /** Elementwise maximum (with a number: clamp from below). */
  maximum(other: Tensor | number): Tensor {
    return this.#bin(Bin.Max, other);
  }
  /** Elementwise minimum (with a number: clamp from above). */
  minimum(other: Tensor | number): Tensor {
    return this.#bin(Bin.Min, other);
  }
  /** this == other (bool). */
  eq(other: Tensor | number): Tensor {
    return this.#bin(Bin.Eq, other);
  }
  /** this != other (bool). */
  ne(other: Tensor | number): Tensor {
    return this.#bin(Bin.Ne, other);
  }
  /** this < other (bool). */
  lt(other: Tensor | number): Tensor {
    return this.#bin(Bin.Lt, other);
  }
  /** this <= other (bool). */
  le(other: Tensor | number): Tensor {
    return this.#bin(Bin.Le, other);
  }
  /** this > other (bool). */
  gt(other: Tensor | number): Tensor {
    return this.#bin(Bin.Gt, other);
  }
  /** this >= other (bool). */
  ge(other: Tensor | number): Tensor {
    return this.#bin(Bin.Ge, other);
  }
  /** Logical and of two bool tensors. */
  logicalAnd(other: Tensor): Tensor {
    return this.#bin(Bin.And, other);
  }
  /** Logical or of two bool tensors. */
  logicalOr(other: Tensor): Tensor {
    return this.#bin(Bin.Or, other);
  }
  /** In-place this += other. */
  add_(other: Tensor | number): this {
    return this.#binInplace(Bin.Add, other);
  }
  /** In-place this -= other. */
  sub_(other: Tensor | number): this {
    return this.#binInplace(Bin.Sub, other);
  }
  /** In-place this *= other. */
  mul_(other: Tensor | number): this {
    return this.#binInplace(Bin.Mul, other);
  }
  /** In-place this /= other. */
  div_(other: Tensor | number): this {
    return this.#binInplace(Bin.Div, other);
  }

  /** -this. */
  neg(): Tensor {
    return this.#un(Un.Neg, "neg");
  }
  /** e ** this. */
  exp(): Tensor {
    return this.#un(Un.Exp, "exp");
  }
  /** Natural logarithm. */
  log(): Tensor {
    return this.#un(Un.Log, "log");
  }
  /** Square root. */
  sqrt(): Tensor {
    return this.#un(Un.Sqrt, "sqrt");
  }
  /** 1 / sqrt(this). */
  rsqrt(): Tensor {
    return this.#un(Un.Rsqrt, "rsqrt");
  }
  /** Absolute value. */
  abs(): Tensor {
    return this.#un(Un.Abs, "abs");
  }
  /** max(this, 0). */
  relu(): Tensor {
    return this.#un(Un.Relu, "relu");
  }
  /**
   * In-place max(this, 0) (NaN stays NaN). For tensors no backward pass needs, e.g. a
   * convolution's output in an inference pass: it saves a new activation.
   */
  relu_(): this {
    check(lib().ts_binary_scalar_(Bin.Max, ptrOf(this, "relu_"), 0), "relu_");
    return this;
  }
  /** min(max(this, 0), 6). */
  relu6(): Tensor {
    return this.#un(Un.Relu6, "relu6");
  }
  /** Logistic sigmoid. */
  sigmoid(): Tensor {
    return this.#un(Un.Sigmoid, "sigmoid");
  }
  /** Hyperbolic tangent. */
  tanh(): Tensor {
    return this.#un(Un.Tanh, "tanh");
  }
  /** Sign (-1, 0, 1). */
  sign(): Tensor {
    return this.#un(Un.Sign, "sign");
  }
  /** Round down. */
  floor(): Tensor {
    return this.#un(Un.Floor, "floor");
  }
  /** Round up. */
  ceil(): Tensor {
    return this.#un(Un.Ceil, "ceil");
  }
  /** Round half to even. */
  round(): Tensor {
    return this.#un(Un.Round, "round");
  }
  /** Logical not. */
  logicalNot(): Tensor {
    return this.#un(Un.Not, "logicalNot");
  }
  /** this * this. */
  square(): Tensor {
    return this.#un(Un.Square, "square");
  }
  /** 1 / this. */
  reciprocal(): Tensor {
    return this.#un(Un.Reciprocal, "reciprocal");
  }
  /** Elementwise isnan (bool). */
  isnan(): Tensor {
    return this.#un(Un.IsNan, "isnan");
  }
  /** Elementwise isinf (bool). */
  isinf(): Tensor {
    return this.#un(Un.IsInf, "isinf");
  }
  /** Elementwise isfinite (bool). */
  isfinite(): Tensor {
    return this.#un(Un.IsFinite, "isfinite");
  }
  /** Sine. */
  sin(): Tensor {
    return this.#un(Un.Sin, "sin");
  }
  /** Cosine. */
  cos(): Tensor {
    return this.#un(Un.Cos, "cos");
  }
  /** Clamps into [min, max] (either may be omitted). */
  clamp(min?: number, max?: number): Tensor {
    return wrap(
      lib().ts_clamp(
        ptrOf(this, "clamp"),
        min ?? 0,
        max ?? 0,
        min === undefined ? 0 : 1,
        max === undefined ? 0 : 1,
      ),
      "clamp",
    );
  }
  /** this with `value` where `mask` is true. */
  maskedFill(mask: Tensor, value: number): Tensor {
    return wrap(
      lib().ts_masked_fill(ptrOf(this, "maskedFill"), ptrOf(mask, "maskedFill"), value),
      "maskedFill",
    );
  }

  // ---- reductions -------------------------------------------------------------------------------

  #reduce(op: number, name: string, dims?: number | number[], keepdim = false): Tensor {
    const d = dims === undefined ? [] : typeof dims === "number" ? [dims] : dims;
    return wrap(
      lib().ts_reduce(op, ptrOf(this, name), dimsBuffer(d), d.length, keepdim ? 1 : 0),
      name,
    );
  }

  /** Sum over `dims` (all when omitted). */
  sum(dims?: number | number[], keepdim = false): Tensor {
    return this.#reduce(0, "sum", dims, keepdim);
  }
  /** Mean over `dims` (all when omitted). */
  mean(dims?: number | number[], keepdim = false): Tensor {
    return this.#reduce(1, "mean", dims, keepdim);
  }
  /** Maximum over `dims` (all when omitted). */
  amax(dims?: number | number[], keepdim = false): Tensor {
    return this.#reduce(2, "amax", dims, keepdim);
  }
  /** Minimum over `dims` (all when omitted). */
  amin(dims?: number | number[], keepdim = false): Tensor {
    return this.#reduce(3, "amin", dims, keepdim);
  }
  /** log(sum(exp(this))) over `dims`. */
  logsumexp(dims?: number | number[], keepdim = false): Tensor {
    return this.#reduce(4, "logsumexp", dims, keepdim);
  }
  /** Variance over `dims` (biased unless `unbiased`). */
  var(dims?: number | number[], keepdim = false, unbiased = false): Tensor {
    return this.#reduce(unbiased ? 6 : 5, "var", dims, keepdim);
  }
  /** Whether any element (along `dim`) is true. */
  any(dim?: number, keepdim = false): Tensor {
    return this.#reduce(7, "any", dim, keepdim);
  }
  /** Whether all elements (along `dim`) are true. */
  all(dim?: number, keepdim = false): Tensor {
    return this.#reduce(8, "all", dim, keepdim);
  }
  /** Index of the maximum (over all elements when `dim` is omitted). */
  argmax(dim?: number, keepdim = false): Tensor {
    return wrap(
      lib().ts_argreduce(
        0,
        ptrOf(this, "argmax"),
        BigInt(dim ?? 0),
        dim === undefined ? 0 : 1,
        keepdim ? 1 : 0,
      ),
      "argmax",
    );
  }
  /** Index of the minimum (over all elements when `dim` is omitted). */
  argmin(dim?: number, keepdim = false): Tensor {
    return wrap(
      lib().ts_argreduce(
        1,
        ptrOf(this, "argmin"),
        BigInt(dim ?? 0),
        dim === undefined ? 0 : 1,
        keepdim ? 1 : 0,
      ),
      "argmin",
    );
  }
  /** p-norm over `dims` (all when omitted). */
  norm(p = 2, dims?: number | number[], keepdim = false): Tensor {
    const d = dims === undefined ? [] : typeof dims === "number" ? [dims] : dims;
    return wrap(
      lib().ts_norm(ptrOf(this, "norm"), p, dimsBuffer(d), d.length, keepdim ? 1 : 0),
      "norm",
    );
  }
  /** Cumulative sum along `dim`. */
  cumsum(dim: number): Tensor {
    return wrap(lib().ts_cumsum(ptrOf(this, "cumsum"), BigInt(dim)), "cumsum");
  }

  // ---- linear algebra, softmax, sorting ---------------------------------------------------------

  /** Matrix product with broadcasting (torch.matmul). */
  matmul(other: Tensor): Tensor {
    return wrap(lib().ts_matmul(ptrOf(this, "matmul"), ptrOf(other, "matmul")), "matmul");
  }
  /** 2-d matrix product. */
  mm(other: Tensor): Tensor {
    return wrap(lib().ts_mm(ptrOf(this, "mm"), ptrOf(other, "mm")), "mm");
  }
  /** Transpose of a 2-d tensor. */
  t(): Tensor {
    if (this.ndim !== 2) {
      throw new TorchError("t", `expects a 2-d tensor, got shape [${this.shape}]`);
    }
    return this.transpose(0, 1);
  }
  /** Softmax along `dim`. */
  softmax(dim: number): Tensor {
    return wrap(lib().ts_softmax(ptrOf(this, "softmax"), BigInt(dim), 0), "softmax");
  }
  /** Log-softmax along `dim`. */
  logSoftmax(dim: number): Tensor {
    return wrap(lib().ts_softmax(ptrOf(this, "logSoftmax"), BigInt(dim), 1), "logSoftmax");
  }
  /** The k largest (or smallest) entries along `dim` and their indices. */
  topk(
    k: number,
    opts: { dim?: number; largest?: boolean; sorted?: boolean } = {},
  ): { values: Tensor; indices: Tensor } {
    check(
      lib().ts_topk(
        ptrOf(this, "topk"),
        BigInt(k),
        BigInt(opts.dim ?? -1),
        opts.largest === false ? 0 : 1,
        opts.sorted === false ? 0 : 1,
        OUT2,
      ),
      "topk",
    );
    const [values, indices] = readOut2("topk");
    return { values, indices };
  }
  /** Sorted values along `dim` and the permutation (stable when asked). */
  sort(
    dim = -1,
    opts: { descending?: boolean; stable?: boolean } = {},
  ): { values: Tensor; indices: Tensor } {
    check(
      lib().ts_sort(
        ptrOf(this, "sort"),
        BigInt(dim),
        opts.descending ? 1 : 0,
        opts.stable ? 1 : 0,
        OUT2,
      ),
      "sort",
    );
    const [values, indices] = readOut2("sort");
    return { values, indices };
  }
  /** The permutation that sorts along `dim`. */
  argsort(dim = -1, opts: { descending?: boolean; stable?: boolean } = {}): Tensor {
    const { values, indices } = this.sort(dim, opts);
    values.dispose();
    return indices;
  }

  // ---- views and indexing -------------------------------------------------------------------------

  /** Same data with a new shape (copies when needed; one dim may be -1). */
  reshape(shape: readonly number[]): Tensor {
    return wrap(
      lib().ts_reshape(ptrOf(this, "reshape"), dimsBuffer(shape), shape.length),
      "reshape",
    );
  }
  /** A view with a new shape (never copies; fails when the strides do not allow it). */
  view(shape: readonly number[]): Tensor {
    return wrap(lib().ts_view(ptrOf(this, "view"), dimsBuffer(shape), shape.length), "view");
  }
  /** Reorders dimensions. */
  permute(dims: readonly number[]): Tensor {
    return wrap(lib().ts_permute(ptrOf(this, "permute"), dimsBuffer(dims), dims.length), "permute");
  }
  /** Swaps two dimensions. */
  transpose(d0: number, d1: number): Tensor {
    return wrap(lib().ts_transpose(ptrOf(this, "transpose"), BigInt(d0), BigInt(d1)), "transpose");
  }
  /** Broadcasts to `shape` without copying (-1 keeps a size). */
  expand(shape: readonly number[]): Tensor {
    return wrap(lib().ts_expand(ptrOf(this, "expand"), dimsBuffer(shape), shape.length), "expand");
  }
  /** Tiles the tensor. */
  repeat(repeats: readonly number[]): Tensor {
    return wrap(
      lib().ts_repeat(ptrOf(this, "repeat"), dimsBuffer(repeats), repeats.length),
      "repeat",
    );
  }
  /** Reverses the order along `dims`. */
  flip(dims: readonly number[]): Tensor {
    return wrap(lib().ts_flip(ptrOf(this, "flip"), dimsBuffer(dims), dims.length), "flip");
  }
  /** Removes size-1 dims (only `dim` when given). */
  squeeze(dim?: number): Tensor {
    return wrap(
      lib().ts_squeeze(ptrOf(this, "squeeze"), BigInt(dim ?? 0), dim === undefined ? 0 : 1),
      "squeeze",
    );
  }
  /** Inserts a size-1 dim at `dim`. */
  unsqueeze(dim: number): Tensor {
    return wrap(lib().ts_unsqueeze(ptrOf(this, "unsqueeze"), BigInt(dim)), "unsqueeze");
  }
  /** Flattens dims start..end into one. */
  flatten(start = 0, end = -1): Tensor {
    return wrap(lib().ts_flatten(ptrOf(this, "flatten"), BigInt(start), BigInt(end)), "flatten");
  }
  /** Elements start, start+step, ... < end along `dim` (a view). */
  slice(dim: number, start: number, end: number, step = 1): Tensor {
    return wrap(
      lib().ts_slice(ptrOf(this, "slice"), BigInt(dim), BigInt(start), BigInt(end), BigInt(step)),
      "slice",
    );
  }
  /** `length` elements from `start` along `dim` (a view). */
  narrow(dim: number, start: number, length: number): Tensor {
    return this.slice(dim, start, start + length);
  }
  /** The slice at `index` of `dim`, with that dim removed (a view). */
  select(dim: number, index: number): Tensor {
    return wrap(lib().ts_select(ptrOf(this, "select"), BigInt(dim), BigInt(index)), "select");
  }
  /** Rows (along `dim`) picked by an int64 index tensor. */
  indexSelect(dim: number, index: Tensor): Tensor {
    return wrap(
      lib().ts_index_select(ptrOf(this, "indexSelect"), BigInt(dim), ptrOf(index, "indexSelect")),
      "indexSelect",
    );
  }
  /** A copy with rows `index` (along `dim`) replaced by `src`. */
  indexCopy(dim: number, index: Tensor, src: Tensor): Tensor {
    return wrap(
      lib().ts_index_copy(
        ptrOf(this, "indexCopy"),
        BigInt(dim),
        ptrOf(index, "indexCopy"),
        ptrOf(src, "indexCopy"),
      ),
      "indexCopy",
    );
  }
  /** Replaces rows `index` (along `dim`) by `src`, in place. Returns this. */
  indexCopy_(dim: number, index: Tensor, src: Tensor): this {
    check(
      lib().ts_index_copy_(
        ptrOf(this, "indexCopy_"),
        BigInt(dim),
        ptrOf(index, "indexCopy_"),
        ptrOf(src, "indexCopy_"),
      ),
      "indexCopy_",
    );
    return this;
  }
  /** torch.gather along `dim`. */
  gather(dim: number, index: Tensor): Tensor {
    return wrap(
      lib().ts_gather(ptrOf(this, "gather"), BigInt(dim), ptrOf(index, "gather")),
      "gather",
    );
  }
  /** torch.scatter (out of place) with a source tensor or a value. */
  scatter(dim: number, index: Tensor, src: Tensor | number): Tensor {
    if (typeof src === "number") {
      return wrap(
        lib().ts_scatter_value(ptrOf(this, "scatter"), BigInt(dim), ptrOf(index, "scatter"), src),
        "scatter",
      );
    }
    return wrap(
      lib().ts_scatter(
        ptrOf(this, "scatter"),
        BigInt(dim),
        ptrOf(index, "scatter"),
        ptrOf(src, "scatter"),
      ),
      "scatter",
    );
  }
  /** The elements where `mask` is true, flattened. */
  maskedSelect(mask: Tensor): Tensor {
    return wrap(
      lib().ts_masked_select(ptrOf(this, "maskedSelect"), ptrOf(mask, "maskedSelect")),
      "maskedSelect",
    );
  }

  // ---- autograd ------------------------------------------------------------------------------------

  /** Whether gradients are recorded for this tensor. */
  get requiresGrad(): boolean {
    return check(lib().ts_requires_grad(ptrOf(this, "requiresGrad")), "requiresGrad") === 1;
  }
  /** Turns gradient recording on or off (leaf tensors only). Returns this. */
  setRequiresGrad(flag = true): this {
    check(
      lib().ts_set_requires_grad(ptrOf(this, "setRequiresGrad"), flag ? 1 : 0),
      "setRequiresGrad",
    );
    return this;
  }
  /** Whether this is a leaf of the autograd graph. */
  get isLeaf(): boolean {
    return check(lib().ts_is_leaf(ptrOf(this, "isLeaf")), "isLeaf") === 1;
  }
  /** Back-propagates from this tensor (a scalar unless `grad` is given). */
  backward(grad?: Tensor, opts: { retainGraph?: boolean } = {}): void {
    check(
      lib().ts_backward(
        ptrOf(this, "backward"),
        grad ? ptrOf(grad, "backward") : null,
        opts.retainGraph ? 1 : 0,
      ),
      "backward",
    );
  }
  /** The accumulated gradient (a new handle), or null when there is none. */
  get grad(): Tensor | null {
    const has = check(lib().ts_grad(ptrOf(this, "grad"), OUT2), "grad");
    if (has === 0) return null;
    return wrap(Deno.UnsafePointer.create(OUT2[0]), "grad");
  }
  /** Sets the gradient (null clears it). */
  setGrad(grad: Tensor | null): void {
    check(
      lib().ts_set_grad(ptrOf(this, "setGrad"), grad ? ptrOf(grad, "setGrad") : null),
      "setGrad",
    );
  }
  /** Clears the gradient (PyTorch's `zero_grad(set_to_none=True)`). */
  zeroGrad(): void {
    this.setGrad(null);
  }
}

function makeArray(dt: DType, n: number): TypedArray {
  switch (dt) {
    case "float32":
      return new Float32Array(n);
    case "float64":
      return new Float64Array(n);
    case "int64":
      return new BigInt64Array(n);
    case "int32":
      return new Int32Array(n);
    case "int16":
      return new Int16Array(n);
    case "int8":
      return new Int8Array(n);
    case "uint8":
    case "bool":
      return new Uint8Array(n);
    default:
      throw new TorchError("toArray", `no typed array for ${dt}`);
  }
}

// ---- ops on several tensors, as free functions (math.cpp, indexing.cpp) -------------------------

/** Concatenates along `dim`. */
export function cat(tensors: readonly Tensor[], dim = 0): Tensor {
  return wrap(lib().ts_cat(handleList(tensors, "cat"), tensors.length, BigInt(dim)), "cat");
}

/** Stacks along a new dim. */
export function stack(tensors: readonly Tensor[], dim = 0): Tensor {
  return wrap(lib().ts_stack(handleList(tensors, "stack"), tensors.length, BigInt(dim)), "stack");
}

/** Elementwise choice: `a` where `cond`, else `b`. */
export function where(cond: Tensor, a: Tensor, b: Tensor): Tensor {
  return wrap(lib().ts_where(ptrOf(cond, "where"), ptrOf(a, "where"), ptrOf(b, "where")), "where");
}

/** beta * bias + alpha * (a @ b). */
export function addmm(bias: Tensor, a: Tensor, b: Tensor, beta = 1, alpha = 1): Tensor {
  return wrap(
    lib().ts_addmm(ptrOf(bias, "addmm"), ptrOf(a, "addmm"), ptrOf(b, "addmm"), beta, alpha),
    "addmm",
  );
}

/** One-hot encoding of int64 indices (int64 result). */
export function oneHot(index: Tensor, numClasses: number): Tensor {
  return wrap(lib().ts_one_hot(ptrOf(index, "oneHot"), BigInt(numClasses)), "oneHot");
}
