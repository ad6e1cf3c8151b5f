/**
 * Loading the native shim: `ECN_TORCH_LIB` overrides the path; otherwise the library built by
 * `deno task build` (build/libecn_torch.so next to this repository's root) is used.
 *
 * @module
 */
import { ABI_VERSION, type Native, SYMBOLS } from "./symbols.ts";

let native: Native | undefined;
let loadedPath = "";

/** The path the shim is (or would be) loaded from. */
export function libraryPath(): string {
  const env = Deno.env.get("ECN_TORCH_LIB");
  if (env) return env;
  const suffix = Deno.build.os === "darwin" ? "dylib" : Deno.build.os === "windows" ? "dll" : "so";
  // Decoded: the package may live in a folder whose name has spaces or non-ASCII characters.
  return decodeURIComponent(
    new URL(`../../build/libecn_torch.${suffix}`, import.meta.url).pathname,
  );
}

/** The number of intra-op threads set at load: `ECN_NUM_THREADS`, else the number of cores. */
function defaultThreads(): number {
  const env = Deno.env.get("ECN_NUM_THREADS");
  if (env) {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 1) {
      throw new Error(`ECN_NUM_THREADS must be a positive integer, got '${env}'`);
    }
    return n;
  }
  return navigator.hardwareConcurrency || 1;
}

/**
 * The caching CPU allocator's settings at load (native/alloc.cpp): on unless `ECN_CPU_CACHE=0`;
 * the cap on free bytes held is `ECN_CPU_CACHE_MB`, else a quarter of the machine's memory.
 */
function defaultCpuCache(): { enabled: boolean; capBytes: number } {
  const on = Deno.env.get("ECN_CPU_CACHE");
  if (on !== undefined && on !== "0" && on !== "1") {
    throw new Error(`ECN_CPU_CACHE must be 0 (off) or 1 (on), got '${on}'`);
  }
  const mb = Deno.env.get("ECN_CPU_CACHE_MB");
  let capBytes: number;
  if (mb !== undefined) {
    const n = Number(mb);
    if (!Number.isInteger(n) || n < 0) {
      throw new Error(`ECN_CPU_CACHE_MB must be a non-negative integer (MiB), got '${mb}'`);
    }
    capBytes = n * 2 ** 20;
  } else {
    let total = 16 * 2 ** 30;
    try {
      total = Deno.systemMemoryInfo().total;
    } catch {
      // No --allow-sys: assume a 16 GiB machine.
    }
    capBytes = Math.floor(total / 4);
  }
  return { enabled: on !== "0", capBytes };
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
        "or point ECN_TORCH_LIB at a built libecn_torch.so.",
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
  dl.symbols.ts_set_num_threads(defaultThreads());
  // Keep freed CPU blocks for reuse instead of page-faulting them in again every step.
  const cache = defaultCpuCache();
  if (dl.symbols.ts_cpu_cache_configure(cache.enabled ? 1 : 0, BigInt(cache.capBytes)) !== 0) {
    const p = dl.symbols.ts_last_error();
    throw new Error(
      `cannot set up the CPU cache: ${p === null ? "" : Deno.UnsafePointerView.getCString(p)}`,
    );
  }
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
