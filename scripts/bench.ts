/**
 * Benchmarks (`deno task bench [--only NAME]`): figures for the notes and README, never timed
 * assertions. Each benchmark alternates the project and the Python PyTorch reference in the same
 * run and reports medians, because this machine is shared and noisy.
 *
 * - ops: per-op overhead of small ops (a 2x2 add...) against the same op called from Python.
 */
import { parseArgs } from "node:util";
import * as T from "../src/tensor/mod.ts";

const PYTHON = Deno.env.get("ECN_ORACLE_PYTHON") ?? "/usr/bin/python3";

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function perOp(f: () => void, iters: number): number {
  for (let i = 0; i < 1000; i++) f();
  const t0 = performance.now();
  for (let i = 0; i < iters; i++) f();
  return ((performance.now() - t0) / iters) * 1000;
}

async function python(script: string, args: string[]): Promise<Record<string, number> | null> {
  try {
    const out = await new Deno.Command(PYTHON, {
      args: [new URL(script, import.meta.url).pathname, ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) {
      console.warn(`python reference failed: ${new TextDecoder().decode(out.stderr).slice(-400)}`);
      return null;
    }
    return JSON.parse(new TextDecoder().decode(out.stdout));
  } catch {
    console.warn(`python reference unavailable (${PYTHON}); showing this project's figures only`);
    return null;
  }
}

async function benchOps(rounds: number): Promise<void> {
  const iters = 20000;
  const threads = T.getNumThreads();
  const a = T.randn([2, 2]);
  const b = T.randn([2, 2]);
  const x = T.randn([64, 64]);
  const cases: Record<string, () => void> = {
    "add 2x2": () => a.add(b).dispose(),
    "relu 2x2": () => a.relu().dispose(),
    "mm 64x64": () => x.mm(x).dispose(),
    "sum 2x2": () => a.sum().dispose(),
  };
  const ours: Record<string, number[]> = {};
  const ref: Record<string, number[]> = {};
  for (let r = 0; r < rounds; r++) {
    for (const [name, f] of Object.entries(cases)) (ours[name] ??= []).push(perOp(f, iters));
    const p = await python("./bench_ops_reference.py", [String(threads), String(iters)]);
    if (p) { for (const [name, v] of Object.entries(p)) (ref[name] ??= []).push(v); }
  }
  console.log(
    `\nper-op time, µs (median of ${rounds} alternating rounds, ${threads} threads, ${T.torchVersion()})`,
  );
  console.log("| op | this project (Deno FFI) | Python PyTorch | ratio |");
  console.log("| --- | --- | --- | --- |");
  for (const name of Object.keys(cases)) {
    const o = median(ours[name]);
    const p = ref[name] ? median(ref[name]) : NaN;
    console.log(`| ${name} | ${o.toFixed(2)} | ${p.toFixed(2)} | ${(o / p).toFixed(2)} |`);
  }
  for (const t of [a, b, x]) t.dispose();
}

const BENCHES: Record<string, (rounds: number) => Promise<void>> = { ops: benchOps };

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { only: { type: "string" }, rounds: { type: "string", default: "5" } },
  });
  const names = values.only ? values.only.split(",") : Object.keys(BENCHES);
  for (const n of names) {
    const f = BENCHES[n];
    if (!f) {
      console.error(`unknown benchmark '${n}'; available: ${Object.keys(BENCHES).join(", ")}`);
      Deno.exit(2);
    }
    await f(Number(values.rounds));
  }
}
