/**
 * The environment variables of the commands, read and checked in one place; the library gets
 * explicit options instead. Every process the project starts (the commands, scripts/, the test
 * helpers) calls {@link configureFromEnv} before its first tensor operation.
 *
 * - `ECN_TORCH_LIB`: the libtorch shim to load (default build/libecn_torch.so).
 * - `ECN_NUM_THREADS`: intra-op threads (default: the number of cores).
 * - `ECN_CPU_CACHE`: 0 turns the caching CPU allocator off (default 1, on).
 * - `ECN_CPU_CACHE_MB`: the cache's cap on free bytes held, MiB (default: a quarter of the memory).
 * - `ECN_FUSED_CONV`: 0 turns the fused oneDNN inference convolution off (default 1, on).
 * - `ECN_IMAGE_LIB`: the image codec library (default build/libecn_image.so).
 * - `ECN_QUIET=1`: no progress bars.
 * - `ECN_DATA_ROOT`: where data sets given by name are looked up (default ../data).
 * - `XDG_CACHE_HOME` / `HOME`: the download cache of `deno task weights`.
 * - `GLOO_SOCKET_IFNAME`: the network interface Gloo binds to.
 *
 * @module
 */
import { join } from "node:path";
import { configureImageCodec } from "../data/codec_native.ts";
import { configureRuntime, type RuntimeOptions } from "../ffi/library.ts";
import { defaultDataRoot, resolveDataset } from "../reid/config.ts";

/** An environment: variable name to value. */
export type Env = Record<string, string | undefined>;

function processEnv(): Env {
  return Deno.env.toObject();
}

/**
 * The runtime settings of `ECN_TORCH_LIB`, `ECN_NUM_THREADS`, `ECN_CPU_CACHE`,
 * `ECN_CPU_CACHE_MB` and `ECN_FUSED_CONV` (unset: the library's defaults). Throws naming the variable when a value is
 * malformed.
 */
export function runtimeFromEnv(env: Env = processEnv()): RuntimeOptions {
  const out: RuntimeOptions = {};
  if (env.ECN_TORCH_LIB) out.libraryPath = env.ECN_TORCH_LIB;
  const threads = env.ECN_NUM_THREADS;
  if (threads) {
    const n = Number(threads);
    if (!Number.isInteger(n) || n < 1) {
      throw new Error(`ECN_NUM_THREADS must be a positive integer, got '${threads}'`);
    }
    out.numThreads = n;
  }
  const on = env.ECN_CPU_CACHE;
  if (on !== undefined) {
    if (on !== "0" && on !== "1") {
      throw new Error(`ECN_CPU_CACHE must be 0 (off) or 1 (on), got '${on}'`);
    }
    out.cpuCache = on === "1";
  }
  const fused = env.ECN_FUSED_CONV;
  if (fused !== undefined) {
    if (fused !== "0" && fused !== "1") {
      throw new Error(`ECN_FUSED_CONV must be 0 (off) or 1 (on), got '${fused}'`);
    }
    out.fusedConvolution = fused === "1";
  }
  const mb = env.ECN_CPU_CACHE_MB;
  if (mb !== undefined) {
    const n = Number(mb);
    if (mb === "" || !Number.isInteger(n) || n < 0) {
      throw new Error(`ECN_CPU_CACHE_MB must be a non-negative integer (MiB), got '${mb}'`);
    }
    out.cpuCacheMb = n;
  }
  return out;
}

/**
 * Configures the native runtime (libtorch shim, threads, CPU cache) and the image codec from the
 * environment. Call it before the first tensor operation.
 */
export function configureFromEnv(env: Env = processEnv()): void {
  configureRuntime(runtimeFromEnv(env));
  if (env.ECN_IMAGE_LIB) configureImageCodec({ libraryPath: env.ECN_IMAGE_LIB });
}

/** Whether progress bars are off (`ECN_QUIET=1`). */
export function quietFromEnv(env: Env = processEnv()): boolean {
  return env.ECN_QUIET === "1";
}

/** Where data sets given by name are looked up: `ECN_DATA_ROOT`, else the library's default. */
export function dataRootFromEnv(env: Env = processEnv()): string {
  return env.ECN_DATA_ROOT || defaultDataRoot();
}

/** A data set argument as a folder (see resolveDataset), names looked up under the data root. */
export function resolveDatasetArg(arg: string, env: Env = processEnv()): string {
  try {
    return resolveDataset(arg, dataRootFromEnv(env));
  } catch (e) {
    throw new Error(
      `${(e as Error).message}; ECN_DATA_ROOT sets the folder that holds the data sets`,
    );
  }
}

/** The download cache of `deno task weights`: `$XDG_CACHE_HOME/ecn-reid` or `~/.cache/ecn-reid`. */
export function defaultCacheDir(env: Env = processEnv()): string {
  if (env.XDG_CACHE_HOME) return join(env.XDG_CACHE_HOME, "ecn-reid");
  if (env.HOME) return join(env.HOME, ".cache", "ecn-reid");
  throw new Error("no cache folder: set XDG_CACHE_HOME or HOME, or pass --cache DIR");
}

/** The network interface(s) Gloo binds to (`GLOO_SOCKET_IFNAME`), if set. */
export function glooInterfaceFromEnv(env: Env = processEnv()): string | undefined {
  return env.GLOO_SOCKET_IFNAME || undefined;
}
