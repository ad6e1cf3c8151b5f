// Helpers of the multi-process tests: a free loopback port and N ranks of a script run as children.
import { fileURLToPath } from "node:url";

/** A TCP port free on 127.0.0.1 right now. */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** What one rank printed and how it ended; `result` is its `RESULT {json}` line. */
export interface RankRun {
  code: number;
  output: string;
  // deno-lint-ignore no-explicit-any
  result: Record<string, any> | null;
}

/**
 * Runs `script` as `world` processes with RANK/WORLD_SIZE/MASTER_* set (1 thread each), killed
 * after `timeoutSeconds`, or as soon as rank `killOthersWhenRankExits` has exited.
 */
export async function runRanks(
  script: string,
  world: number,
  env: Record<string, string>,
  port: number,
  timeoutSeconds = 120,
  killOthersWhenRankExits?: number,
): Promise<RankRun[]> {
  const path = script.startsWith("file:") ? fileURLToPath(script) : script;
  const children = Array.from({ length: world }, (_, rank) =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", path],
      env: {
        ECN_NUM_THREADS: "1",
        ...env,
        RANK: String(rank),
        LOCAL_RANK: String(rank),
        WORLD_SIZE: String(world),
        MASTER_ADDR: "127.0.0.1",
        MASTER_PORT: String(port),
      },
      stdout: "piped",
      stderr: "piped",
    }).spawn());
  const timer = setTimeout(() => killAll(), timeoutSeconds * 1000);
  const killAll = () => {
    for (const c of children) {
      try {
        c.kill("SIGKILL");
      } catch { /* already gone */ }
    }
  };
  if (killOthersWhenRankExits !== undefined) {
    children[killOthersWhenRankExits].status.then(killAll);
  }
  try {
    return await Promise.all(children.map(async (c) => {
      const o = await c.output();
      const output = new TextDecoder().decode(o.stdout) + new TextDecoder().decode(o.stderr);
      const line = output.split("\n").find((l) => l.startsWith("RESULT "));
      return { code: o.code, output, result: line ? JSON.parse(line.slice(7)) : null };
    }));
  } finally {
    clearTimeout(timer);
  }
}
