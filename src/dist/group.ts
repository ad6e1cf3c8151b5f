/**
 * A process group on libtorch's c10d: rendezvous through a TCPStore hosted by rank 0, collectives
 * over Gloo (CPU tensors). Calls block until the collective is done; a failed or timed-out
 * collective throws a {@link DistError} naming the ranks that stopped, and every later call on the
 * group fails at once with the same message.
 *
 * ```ts
 * const pg = ProcessGroup.init({ rank: 0, worldSize: 2, masterAddr: "127.0.0.1", masterPort: 29500 });
 * pg.allReduce(grads, { average: true });
 * pg.destroy();
 * ```
 *
 * @module
 */
import { lastError, lib } from "../ffi/library.ts";
import { check, handleList, handleOf, wrap } from "../tensor/tensor.ts";
import { type Tensor, TorchError } from "../tensor/mod.ts";

/** A failed rendezvous or collective; `message` names the ranks that stopped where it can. */
export class DistError extends Error {
  /** Makes the error. */
  constructor(message: string) {
    super(message);
    this.name = "DistError";
  }
}

/** Where and who: the rendezvous of one process. */
export interface GroupOptions {
  /** This process's rank in [0, worldSize). */
  rank: number;
  /** Number of processes. */
  worldSize: number;
  /** Address of rank 0, which hosts the TCP store. */
  masterAddr: string;
  /** Port of the TCP store on rank 0. */
  masterPort: number;
  /**
   * What Gloo binds to: an address or hostname of this machine, or "iface:NAME" for a network
   * interface. Default: {@link defaultBind} of `masterAddr` and `socketInterface`.
   */
  bind?: string;
  /**
   * Network interface(s) for Gloo when `bind` is not given, as `GLOO_SOCKET_IFNAME` names them
   * (comma-separated; the first is used). Default: none.
   */
  socketInterface?: string;
  /** Bound on the rendezvous and on every collective, in seconds (default 300). */
  timeoutSeconds?: number;
}

/** Default flat bucket size of gradient all-reduce (25 MiB, as PyTorch's DDP). */
export const DEFAULT_BUCKET_BYTES = 25 * 1024 * 1024;

function cString(s: string): Uint8Array<ArrayBuffer> {
  const b = new TextEncoder().encode(s);
  const out = new Uint8Array(b.length + 1);
  out.set(b);
  return out;
}

/** Whether this build of the shim has c10d/Gloo; when not, `reason` says what is missing. */
export function distAvailable(): { available: boolean; reason: string } {
  const ok = lib().ts_dist_available() === 1;
  return { available: ok, reason: ok ? "" : lastError() };
}

function isLoopback(addr: string): boolean {
  return addr === "localhost" || addr === "::1" || /^127\./.test(addr);
}

/**
 * The default Gloo bind of {@link GroupOptions.bind}: the first of `socketInterface`'s interfaces
 * when given; 127.0.0.1 when the master is on loopback; otherwise "" (this machine's hostname).
 */
export function defaultBind(masterAddr: string, socketInterface?: string): string {
  if (socketInterface) return `iface:${socketInterface.split(",")[0]}`;
  return isLoopback(masterAddr) ? "127.0.0.1" : "";
}

/** One process's membership of a group of `worldSize` processes. */
export class ProcessGroup {
  /** This process's rank. */
  readonly rank: number;
  /** Number of processes. */
  readonly worldSize: number;
  /** Seconds spent in collectives since the last {@link takeCommSeconds}. */
  #comm = 0;
  #id: bigint | null;

  private constructor(id: bigint, rank: number, worldSize: number) {
    this.#id = id;
    this.rank = rank;
    this.worldSize = worldSize;
  }

  /**
   * Joins the group: blocks until all `worldSize` processes have reached the store (at most the
   * timeout), then connects Gloo's full mesh.
   */
  static init(opts: GroupOptions): ProcessGroup {
    const { available, reason } = distAvailable();
    if (!available) throw new DistError(reason);
    const timeout = opts.timeoutSeconds ?? 300;
    if (!(timeout > 0)) throw new DistError(`timeout must be > 0 seconds, got ${timeout}`);
    const id = lib().ts_dist_init(
      cString(opts.masterAddr),
      opts.masterPort,
      opts.rank,
      opts.worldSize,
      cString(opts.bind ?? defaultBind(opts.masterAddr, opts.socketInterface)),
      BigInt(Math.ceil(timeout * 1000)),
    );
    if (id < 0n) throw new DistError(lastError());
    return new ProcessGroup(id, opts.rank, opts.worldSize);
  }

  #group(op: string): bigint {
    if (this.#id === null) throw new DistError(`${op}: the process group was destroyed`);
    return this.#id;
  }

  #timed<T>(op: string, f: (id: bigint) => T): T {
    const id = this.#group(op);
    const t0 = performance.now();
    try {
      return f(id);
    } catch (e) {
      throw e instanceof TorchError ? new DistError(e.detail) : e;
    } finally {
      this.#comm += (performance.now() - t0) / 1000;
    }
  }

  /**
   * Sums (or, with `average`, averages) `tensors` in place across the group, flattened into
   * buckets of at most `bucketBytes` (one all-reduce per bucket).
   */
  allReduce(
    tensors: readonly Tensor[],
    opts: { average?: boolean; bucketBytes?: number } = {},
  ): void {
    if (tensors.length === 0) return;
    this.#timed("allReduce", (id) => {
      const list = handleList(tensors, "allReduce");
      check(
        lib().ts_dist_allreduce(
          id,
          list,
          tensors.length,
          opts.average ? 1 : 0,
          BigInt(opts.bucketBytes ?? DEFAULT_BUCKET_BYTES),
        ),
        "allReduce",
      );
    });
  }

  /** Copies rank `root`'s `tensors` into every rank's (in place, in buckets). */
  broadcast(tensors: readonly Tensor[], root = 0, bucketBytes = DEFAULT_BUCKET_BYTES): void {
    if (tensors.length === 0) return;
    this.#timed("broadcast", (id) => {
      const list = handleList(tensors, "broadcast");
      check(
        lib().ts_dist_broadcast(id, list, tensors.length, root, BigInt(bucketBytes)),
        "broadcast",
      );
    });
  }

  /**
   * Every rank's `t` concatenated along dimension 0 in rank order (first dimensions may differ
   * between ranks; the other dimensions and the dtype must agree). A new tensor, on the CPU.
   */
  allGather(t: Tensor): Tensor {
    return this.#timed("allGather", (id) => {
      return wrap(lib().ts_dist_all_gather(id, handleOf(t, "allGather")), "allGather");
    });
  }

  /** Waits for every rank; `timeoutSeconds` overrides the group's bound for this call. */
  barrier(timeoutSeconds?: number): void {
    this.#timed("barrier", (id) => {
      check(
        lib().ts_dist_barrier(id, BigInt(Math.ceil((timeoutSeconds ?? 0) * 1000))),
        "barrier",
      );
    });
  }

  /** Seconds spent in this group's collectives since the last call; resets the count. */
  takeCommSeconds(): number {
    const s = this.#comm;
    this.#comm = 0;
    return s;
  }

  /** Leaves the group (closes the connections; rank 0 stops the store). Idempotent. */
  destroy(): void {
    if (this.#id === null) return;
    const id = this.#id;
    this.#id = null;
    lib().ts_dist_destroy(id);
  }

  /** Same as {@link destroy}. */
  [Symbol.dispose](): void {
    this.destroy();
  }
}
