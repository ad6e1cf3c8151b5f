/**
 * What every benchmark shares: medians, and running a Python PyTorch reference script that
 * prints JSON (the reference is optional: without it only this project's figures are shown).
 *
 * @module
 */

/** The interpreter with torch for the references; override with `ECN_ORACLE_PYTHON`. */
export const PYTHON: string = Deno.env.get("ECN_ORACLE_PYTHON") ?? "/usr/bin/python3";

/** Median of a non-empty list. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/**
 * Runs `scripts/<script>` with `args` (and extra environment variables) and parses its stdout as
 * JSON; null (with a warning) on failure.
 */
export async function runPythonReference<T = Record<string, unknown>>(
  script: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<T | null> {
  try {
    const out = await new Deno.Command(PYTHON, {
      args: [new URL(script, import.meta.url).pathname, ...args],
      env,
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) {
      console.warn(`python reference failed: ${new TextDecoder().decode(out.stderr).slice(-400)}`);
      return null;
    }
    return JSON.parse(new TextDecoder().decode(out.stdout)) as T;
  } catch {
    console.warn(`python reference unavailable (${PYTHON}); showing this project's figures only`);
    return null;
  }
}
