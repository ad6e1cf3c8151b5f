/**
 * Loading the native shim, once, on first use: from {@link RuntimeOptions.libraryPath}, else the
 * library built by `deno task build` (build/libecn_torch.so next to this package's root). The
 * intra-op thread count and the caching CPU allocator are set at load from the options given to
 * {@link configureRuntime} (defaults: every core, the cache on with a quarter of the memory). This
 * module reads no environment variable: the commands read `ECN_TORCH_LIB`, `ECN_NUM_THREADS`,
 * `ECN_CPU_CACHE` and `ECN_CPU_CACHE_MB` (src/cli/env.ts) and pass them here.
 *
 * @module
 */
import { ABI_VERSION, type Native, SYMBOLS } from "./symbols.ts";

/** How the native runtime is set up when it loads; see {@link configureRuntime}. */
export interface RuntimeOptions {
  /** The shim to load (default: build/libecn_torch.so beside this package's root). */
  libraryPath?: string;
  /** Intra-op threads (default: the number of cores, as Python's torch sets at import). */
  numThreads?: number;
  /** The caching CPU allocator (native/alloc.cpp) on or off (default on). */
  cpuCache?: boolean;
  /** Cap on the bytes the cache holds in free blocks, in MiB (default: a quarter of the memory). */
  cpuCacheMb?: number;
  /**
   * Inference convolutions with their residual sum and ReLU as one oneDNN kernel, where the shim
   * was built with it (`conv2dFused`; default on). Off: libtorch's separate ops, same values.
   */
  fusedConvolution?: boolean;
}

let native: Native | undefined;
let loadedPath = "";
let options: RuntimeOptions = {};

/**
 * Sets how the native runtime is loaded: call it before the first tensor operation (the shim
 * loads then, once). Options left out keep their defaults. Throws a RangeError naming the option
 * when a value is invalid, and an Error once the shim is loaded (change threads and the cache at
 * run time with `setNumThreads` and `configureCpuCache`).
 *
 * ```ts
 * configureRuntime({ numThreads: 4, cpuCache: false });
 * ```
 */
export function configureRuntime(opts: RuntimeOptions): void {
  const { libraryPath, numThreads, cpuCache, cpuCacheMb, fusedConvolution } = opts;
  if (libraryPath !== undefined && (typeof libraryPath !== "string" || libraryPath === "")) {
    throw new RangeError(`configureRuntime: libraryPath must be a file path, got '${libraryPath}'`);
  }
  if (numThreads !== undefined && !(Number.isInteger(numThreads) && numThreads >= 1)) {
    throw new RangeError(
      `configureRuntime: numThreads must be a positive integer, got ${numThreads}`,
    );
  }
  if (cpuCache !== undefined && typeof cpuCache !== "boolean") {
    throw new RangeError(`configureRuntime: cpuCache must be true or false, got ${cpuCache}`);
  }
  if (fusedConvolution !== undefined && typeof fusedConvolution !== "boolean") {
    throw new RangeError(
      `configureRuntime: fusedConvolution must be true or false, got ${fusedConvolution}`,
    );
  }
  if (cpuCacheMb !== undefined && !(Number.isSafeInteger(cpuCacheMb) && cpuCacheMb >= 0)) {
    throw new RangeError(
      `configureRuntime: cpuCacheMb must be a non-negative integer (MiB), got ${cpuCacheMb}`,
    );
  }
  if (native) {
    throw new Error(
      `configureRuntime: the shim is already loaded (from ${loadedPath}); configure the runtime ` +
        "before the first tensor operation, or use setNumThreads / configureCpuCache to change " +
        "threads and the CPU cache now",
    );
  }
  options = { ...options, ...opts };
}

/** The path the shim is (or would be) loaded from. */
export function libraryPath(): string {
  if (options.libraryPath) return options.libraryPath;
  const suffix = Deno.build.os === "darwin" ? "dylib" : Deno.build.os === "windows" ? "dll" : "so";
  // Decoded: the package may live in a folder whose name has spaces or non-ASCII characters.
  return decodeURIComponent(
    new URL(`../../build/libecn_torch.${suffix}`, import.meta.url).pathname,
  );
}

/** The cache's cap in bytes: the configured MiB, else a quarter of the machine's memory. */
function cacheCapBytes(): number {
  if (options.cpuCacheMb !== undefined) return options.cpuCacheMb * 2 ** 20;
  let total = 16 * 2 ** 30;
  try {
    total = Deno.systemMemoryInfo().total;
  } catch {
    // No --allow-sys: assume a 16 GiB machine.
  }
  return Math.floor(total / 4);
}

/**
 * The loaded shim (loaded on first use). Throws a clear error when the library is missing,
 * cannot be loaded, or was built from another version of the C API.
 */
export function lib(): Native {
  if (native) return native;
  const path = libraryPath();
  let dl: Deno.DynamicLibrary<typeof SYMBOLS>;
  try {
    dl = Deno.dlopen(path, SYMBOLS);
  } catch (e) {
    throw new Error(
      `cannot load the libtorch shim from ${path}: ${(e as Error).message}\n` +
        "Build it with `deno task build` (needs libtorch and a C++ compiler), " +
        "or give configureRuntime a libraryPath (the commands read it from ECN_TORCH_LIB).",
      { cause: e },
    );
  }
  const abi = dl.symbols.ts_abi_version();
  if (abi !== ABI_VERSION) {
    dl.close();
    throw new Error(
      `the shim at ${path} has ABI version ${abi}, this code needs ${ABI_VERSION}: ` +
        "rebuild it with `deno task build --force`",
    );
  }
  // libtorch loaded through FFI starts with one intra-op thread on some builds; Python's torch
  // sets it to the number of cores at import. Do the same, overridable.
  dl.symbols.ts_set_num_threads(options.numThreads ?? (navigator.hardwareConcurrency || 1));
  // Keep freed CPU blocks for reuse instead of page-faulting them in again every step.
  const cacheOn = options.cpuCache ?? true;
  if (dl.symbols.ts_cpu_cache_configure(cacheOn ? 1 : 0, BigInt(cacheCapBytes())) !== 0) {
    const p = dl.symbols.ts_last_error();
    throw new Error(
      `cannot set up the CPU cache: ${p === null ? "" : Deno.UnsafePointerView.getCString(p)}`,
    );
  }
  dl.symbols.ts_conv2d_fused_native((options.fusedConvolution ?? true) ? 1 : 0);
  native = dl.symbols;
  loadedPath = path;
  return native;
}

/** The path the shim was loaded from ("" before the first use). */
export function loadedLibraryPath(): string {
  return loadedPath;
}

/** The last error message recorded by the shim on this thread. */
export function lastError(): string {
  const p = lib().ts_last_error();
  return p === null ? "" : Deno.UnsafePointerView.getCString(p);
}
