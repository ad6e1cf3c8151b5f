/**
 * The Python test oracle: Debian's python3-torch / python3-torchvision (and NumPy).
 *
 * Python is never needed to run the project; tests use it to check that the project
 * computes what PyTorch computes. Where the oracle is missing the oracle tests are
 * ignored with a message, except under CI (`CI` set), where a missing oracle fails.
 */

/** The interpreter that has torch; override with `ECN_ORACLE_PYTHON`. */
export const PYTHON: string = Deno.env.get("ECN_ORACLE_PYTHON") ?? "/usr/bin/python3";

let available: boolean | undefined;

/** Whether the oracle interpreter can import torch (checked once). */
export function oracleAvailable(): boolean {
  if (available === undefined) {
    try {
      const out = new Deno.Command(PYTHON, {
        args: ["-c", "import torch, numpy"],
        stdout: "null",
        stderr: "null",
      }).outputSync();
      available = out.success;
    } catch {
      available = false;
    }
    if (!available) {
      const msg = `oracle tests: ${PYTHON} cannot import torch and numpy ` +
        `(apt-get install python3-torch python3-torchvision); oracle tests are skipped`;
      if (Deno.env.get("CI")) throw new Error(msg + " -- but CI is set, so this is an error");
      console.warn(msg);
    }
  }
  return available;
}

/**
 * Runs `tests/oracle/<script>` with the oracle interpreter, `input` as JSON on stdin,
 * and parses its stdout as JSON. Throws with the script's stderr when it fails.
 */
export async function runOracleJson<T = unknown>(
  script: string,
  input: unknown,
  args: string[] = [],
): Promise<T> {
  const path = new URL(`./${script}`, import.meta.url).pathname;
  const child = new Deno.Command(PYTHON, {
    args: [path, ...args],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: { PYTHONHASHSEED: "0", OMP_NUM_THREADS: "1" },
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(JSON.stringify(input ?? null)));
  await writer.close();
  const out = await child.output();
  if (!out.success) {
    throw new Error(`oracle ${script} failed:\n${new TextDecoder().decode(out.stderr)}`);
  }
  return JSON.parse(new TextDecoder().decode(out.stdout)) as T;
}

/** `Deno.test` that is ignored (with a message) when the oracle is missing. */
export function oracleTest(name: string, fn: () => void | Promise<void>): void {
  Deno.test({ name, ignore: !oracleAvailable(), fn });
}
