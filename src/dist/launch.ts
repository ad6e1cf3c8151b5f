/**
 * Starting data-parallel runs: the torchrun environment (RANK, WORLD_SIZE, LOCAL_RANK,
 * MASTER_ADDR, MASTER_PORT) read and checked, and a launcher that starts `nproc` processes of a
 * script on this machine (ranks `nodeRank × nproc …`), watches them, and when one dies names it and
 * stops the others within a bounded time.
 *
 * @module
 */

/** The rendezvous of one process, as torchrun's environment gives it. */
export interface DistEnv {
  /** Global rank. */
  rank: number;
  /** Number of processes in all. */
  worldSize: number;
  /** Rank on this machine. */
  localRank: number;
  /** Address of rank 0 (the TCP store). */
  masterAddr: string;
  /** Port of the TCP store. */
  masterPort: number;
}

/** Set by the launcher in its children, so that they do not launch again. */
export const CHILD_MARK = "ECN_DIST_CHILD";

function intVar(env: Record<string, string | undefined>, name: string, min: number): number {
  const v = env[name];
  const n = Number(v);
  if (v === undefined || v === "" || !Number.isInteger(n) || n < min) {
    throw new Error(`environment variable ${name} is '${v ?? ""}', expected an integer >= ${min}`);
  }
  return n;
}

/**
 * The torchrun variables of `env` (e.g. the process environment), or null when WORLD_SIZE is unset.
 * Throws naming the variable when one is missing or malformed.
 */
export function distEnvFrom(env: Record<string, string | undefined>): DistEnv | null {
  if (env.WORLD_SIZE === undefined) return null;
  const worldSize = intVar(env, "WORLD_SIZE", 1);
  const rank = intVar(env, "RANK", 0);
  if (rank >= worldSize) {
    throw new Error(`RANK ${rank} out of range for WORLD_SIZE ${worldSize}`);
  }
  const localRank = env.LOCAL_RANK === undefined ? rank : intVar(env, "LOCAL_RANK", 0);
  const masterAddr = env.MASTER_ADDR ?? (worldSize === 1 ? "127.0.0.1" : "");
  if (!masterAddr) throw new Error("environment variable MASTER_ADDR is unset (rank 0's address)");
  const masterPort = env.MASTER_PORT === undefined && worldSize === 1
    ? 29500
    : intVar(env, "MASTER_PORT", 1);
  if (masterPort > 65535) throw new Error(`MASTER_PORT ${masterPort} out of range 1..65535`);
  return { rank, worldSize, localRank, masterAddr, masterPort };
}

/** A bad {@link LaunchOptions} value; `option` names the field. */
export class LaunchOptionError extends Error {
  /** The field of {@link LaunchOptions} that was wrong. */
  readonly option: keyof LaunchOptions;
  /** What was wrong with it. */
  readonly detail: string;
  /** Makes the error: the message is `option detail`. */
  constructor(option: keyof LaunchOptions, detail: string) {
    super(`${option} ${detail}`);
    this.name = "LaunchOptionError";
    this.option = option;
    this.detail = detail;
  }
}

/** What {@link launch} starts. */
export interface LaunchOptions {
  /** Processes on this machine. */
  nproc: number;
  /** Machines (default 1). */
  nnodes?: number;
  /** This machine's index in [0, nnodes) (default 0); its ranks are nodeRank × nproc + local. */
  nodeRank?: number;
  /** Rank 0's address (default 127.0.0.1; with several machines, the address of node 0). */
  masterAddr?: string;
  /** The store's port (default: a free one on one machine; required with several). */
  masterPort?: number;
  /** The script each process runs (`deno run -A script ...args`). */
  script: string;
  /** Its arguments. */
  args: string[];
  /** How long the others may take to stop after one failed, in seconds (default 60). */
  graceSeconds?: number;
  /** Intra-op threads of each process, set as its ECN_NUM_THREADS (default: cores / nproc). */
  threadsPerProcess?: number;
  /**
   * Where the launcher's own lines go (which processes started, which failed) and the other
   * ranks' stderr, prefixed `[rank r]`; default: dropped.
   */
  log?: (line: string) => void;
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/**
 * Starts the processes and waits for them. Rank 0's output is passed through; the others' stdout
 * is dropped and their stderr given to `log` with a `[rank r]` prefix. Each gets ECN_NUM_THREADS =
 * `threadsPerProcess` (default cores / nproc). When a process fails, the launcher names it, gives the others `graceSeconds`
 * to stop (their collectives fail on the lost connection), then kills them. Returns the exit
 * status: 0 when all succeeded, else the first failure's (128 + signal number for a signal).
 */
export async function launch(opts: LaunchOptions): Promise<number> {
  const nnodes = opts.nnodes ?? 1;
  const nodeRank = opts.nodeRank ?? 0;
  const log = opts.log ?? (() => {});
  if (!Number.isInteger(opts.nproc) || opts.nproc < 1) {
    throw new LaunchOptionError("nproc", `must be a positive integer, got ${opts.nproc}`);
  }
  if (!Number.isInteger(nnodes) || nnodes < 1) {
    throw new LaunchOptionError("nnodes", `must be a positive integer, got ${nnodes}`);
  }
  if (!Number.isInteger(nodeRank) || nodeRank < 0 || nodeRank >= nnodes) {
    throw new LaunchOptionError("nodeRank", `must be in [0, ${nnodes}), got ${nodeRank}`);
  }
  if (nnodes > 1 && (!opts.masterAddr || !opts.masterPort)) {
    throw new LaunchOptionError(
      "masterAddr",
      "and masterPort (node 0's) are needed with nnodes > 1",
    );
  }
  const threadsPerProcess = opts.threadsPerProcess ??
    Math.max(1, Math.floor((navigator.hardwareConcurrency || 1) / opts.nproc));
  if (!Number.isInteger(threadsPerProcess) || threadsPerProcess < 1) {
    throw new LaunchOptionError(
      "threadsPerProcess",
      `must be a positive integer, got ${threadsPerProcess}`,
    );
  }
  const masterAddr = opts.masterAddr ?? "127.0.0.1";
  const masterPort = opts.masterPort ?? freePort();
  const world = nnodes * opts.nproc;
  const threads = String(threadsPerProcess);
  const children = Array.from({ length: opts.nproc }, (_, local) => {
    const rank = nodeRank * opts.nproc + local;
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", opts.script, ...opts.args],
      env: {
        [CHILD_MARK]: "1",
        ECN_NUM_THREADS: threads,
        RANK: String(rank),
        LOCAL_RANK: String(local),
        WORLD_SIZE: String(world),
        MASTER_ADDR: masterAddr,
        MASTER_PORT: String(masterPort),
      },
      stdin: "null",
      stdout: rank === 0 ? "inherit" : "null",
      stderr: rank === 0 ? "inherit" : "piped",
    }).spawn();
    return { rank, child };
  });
  log(
    `launch: ${opts.nproc} process(es) of ${world} (ranks ${children[0].rank}..${
      children[children.length - 1].rank
    }, pids ${children.map((c) => c.child.pid).join(" ")}), store ${masterAddr}:${masterPort}, ` +
      `${threads} thread(s) each`,
  );
  const relays = children.filter((c) => c.rank !== 0).map(async ({ rank, child }) => {
    let rest = "";
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      const lines = (rest + chunk).split("\n");
      rest = lines.pop()!;
      for (const l of lines) log(`[rank ${rank}] ${l}`);
    }
    if (rest) log(`[rank ${rank}] ${rest}`);
  });
  const forward = (sig: Deno.Signal) => () => {
    for (const { child } of children) {
      try {
        child.kill(sig);
      } catch { /* gone */ }
    }
  };
  const onInt = forward("SIGINT"), onTerm = forward("SIGTERM");
  Deno.addSignalListener("SIGINT", onInt);
  Deno.addSignalListener("SIGTERM", onTerm);
  let first: { rank: number; code: number } | null = null;
  let killer: number | undefined;
  const describe = (s: Deno.CommandStatus) =>
    s.signal ? `was killed by ${s.signal}` : `exited with status ${s.code}`;
  try {
    await Promise.all(children.map(async ({ rank, child }) => {
      const s = await child.status;
      if (s.success || first) {
        if (!s.success) log(`launch: rank ${rank} (pid ${child.pid}) ${describe(s)}`);
        return;
      }
      first = { rank, code: s.signal ? 128 + signalNumber(s.signal) : s.code || 1 };
      const grace = opts.graceSeconds ?? 60;
      log(
        `launch: rank ${rank} (pid ${child.pid}) ${describe(s)}; stopping the others ` +
          `(killed after ${grace} s if still running)`,
      );
      killer = setTimeout(forward("SIGKILL"), grace * 1000);
    }));
    await Promise.all(relays);
  } finally {
    clearTimeout(killer);
    Deno.removeSignalListener("SIGINT", onInt);
    Deno.removeSignalListener("SIGTERM", onTerm);
  }
  const f = first as { rank: number; code: number } | null;
  return f ? f.code : 0;
}

function signalNumber(sig: Deno.Signal): number {
  const n: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGABRT: 6, SIGKILL: 9 };
  return n[sig] ?? (sig === "SIGSEGV" ? 11 : sig === "SIGTERM" ? 15 : 1);
}
