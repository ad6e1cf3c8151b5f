/**
 * The caching CPU allocator of the shim (native/alloc.cpp).
 *
 * libtorch frees every activation as soon as autograd is done with it; with glibc's allocator the
 * large blocks go back to the kernel and the next step faults them in again, page by page, which
 * made a ResNet-50 forward pass several times slower than with tcmalloc. The shim keeps freed
 * blocks of 64 KiB and more for reuse, by size class, up to a cap on the bytes it holds while
 * they are free. It is on by default for every process that loads the shim (the commands and any
 * program importing `mod.ts`); `configureRuntime({ cpuCache, cpuCacheMb })` before the first op,
 * or `configureCpuCache()` at any time, turns it off or sets the cap (the commands, scripts and
 * tests map `ECN_CPU_CACHE=0` and `ECN_CPU_CACHE_MB` onto them). Results do not depend on it.
 *
 * @module
 */
import { lib } from "../ffi/library.ts";
import { check } from "./tensor.ts";

/** Figures of the caching CPU allocator, in bytes unless said otherwise. */
export interface CpuCacheStats {
  /** Whether the cache is registered as libtorch's CPU allocator. */
  enabled: boolean;
  /** Most bytes held in free blocks. */
  capBytes: number;
  /** Bytes in blocks handed out by the cache and not yet freed. */
  inUseBytes: number;
  /** Bytes held in free blocks, kept for reuse. */
  heldBytes: number;
  /** Peak of `inUseBytes` since the start or the last `resetCpuCachePeaks()`. */
  peakInUseBytes: number;
  /** Peak of `heldBytes` since the start or the last `resetCpuCachePeaks()`. */
  peakHeldBytes: number;
  /** Allocations served from a held block. */
  hits: number;
  /** Allocations that went to the system. */
  misses: number;
  /** Bytes served from held blocks, in total. */
  reusedBytes: number;
  /** Bytes of freed blocks given back to the system because of the cap (or the cache being off). */
  evictedBytes: number;
  /** Blocks handed out and not yet freed. */
  blocksInUse: number;
}

const STATS = 11;

/**
 * Turns the cache on or off and sets its cap (bytes held in free blocks). Turning it off gives
 * every held block back and registers libtorch's default allocator again; blocks still in use
 * return to the system when their tensors are freed.
 */
export function configureCpuCache(options: { enabled: boolean; capBytes?: number }): void {
  const cap = options.capBytes ?? cpuCacheStats().capBytes;
  if (!Number.isSafeInteger(cap) || cap < 0) {
    throw new RangeError(`configureCpuCache: capBytes must be a non-negative integer, got ${cap}`);
  }
  check(lib().ts_cpu_cache_configure(options.enabled ? 1 : 0, BigInt(cap)), "configureCpuCache");
}

/** The cache's figures now. */
export function cpuCacheStats(): CpuCacheStats {
  const out = new BigInt64Array(STATS);
  check(lib().ts_cpu_cache_stats(out, STATS), "cpuCacheStats");
  const n = (i: number) => Number(out[i]);
  return {
    enabled: out[0] === 1n,
    capBytes: n(1),
    inUseBytes: n(2),
    heldBytes: n(3),
    peakInUseBytes: n(4),
    peakHeldBytes: n(5),
    hits: n(6),
    misses: n(7),
    reusedBytes: n(8),
    evictedBytes: n(9),
    blocksInUse: n(10),
  };
}

/** Gives every held (free) block back to the system; blocks in use are not affected. */
export function releaseCpuCache(): void {
  check(lib().ts_cpu_cache_release(), "releaseCpuCache");
}

/** Starts the peak figures anew from the current ones. */
export function resetCpuCachePeaks(): void {
  check(lib().ts_cpu_cache_reset_peaks(), "resetCpuCachePeaks");
}
