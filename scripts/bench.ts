/**
 * Benchmarks (`deno task bench [--only NAME]`): figures for the notes and README, never timed
 * assertions. Each benchmark alternates the project and the Python PyTorch reference in the same
 * run and reports medians, because this machine is shared and noisy.
 *
 * - ops: per-op overhead of small ops (a 2x2 add...) against the same op called from Python.
 * - ecn: one full ECN training step (source + target forward, backward with the exemplar-memory
 *   update, SGD) against the same step in Python PyTorch; `--arch`, `--size HxW`, `--batch`.
 */
import { parseArgs } from "node:util";
import * as T from "../src/tensor/mod.ts";
import { median, runPythonReference } from "./bench_common.ts";
import { configureFromEnv } from "../src/cli/env.ts";
import { type EcnArch, EcnNet } from "../src/reid/ecn_net.ts";
import { ExemplarMemory } from "../src/reid/memory.ts";
import { invarianceLoss } from "../src/reid/losses.ts";
import { SGD } from "../src/optim/sgd.ts";

function perOp(f: () => void, iters: number, scoped: boolean): number {
  // Scoped: 100 ops per scope, freed when it closes (the pattern of a training step). Unscoped:
  // each result disposed at once, with the finalizer backstop armed and disarmed.
  const run = (n: number) => {
    if (!scoped) {
      for (let i = 0; i < n; i++) f();
      return;
    }
    for (let i = 0; i < n; i += 100) {
      T.scope(() => {
        for (let j = 0; j < 100; j++) f();
      });
    }
  };
  run(1000);
  const t0 = performance.now();
  run(iters);
  return ((performance.now() - t0) / iters) * 1000;
}

async function benchOps(rounds: number): Promise<void> {
  const iters = 20000;
  const threads = T.getNumThreads();
  const a = T.randn([2, 2]);
  const b = T.randn([2, 2]);
  const x = T.randn([64, 64]);
  const cases: Record<string, [() => void, boolean, string]> = {
    "add 2x2 (in a scope)": [() => a.add(b), true, "add 2x2"],
    "add 2x2 (dispose each)": [() => a.add(b).dispose(), false, "add 2x2"],
    "relu 2x2 (in a scope)": [() => a.relu(), true, "relu 2x2"],
    "sum 2x2 (in a scope)": [() => a.sum(), true, "sum 2x2"],
    "mm 64x64 (in a scope)": [() => x.mm(x), true, "mm 64x64"],
  };
  const ours: Record<string, number[]> = {};
  const ref: Record<string, number[]> = {};
  for (let r = 0; r < rounds; r++) {
    for (const [name, [f, scoped]] of Object.entries(cases)) {
      (ours[name] ??= []).push(perOp(f, iters, scoped));
    }
    const p = await runPythonReference<Record<string, number>>("./bench_ops_reference.py", [
      String(threads),
      String(iters),
    ]);
    if (p) { for (const [name, v] of Object.entries(p)) (ref[name] ??= []).push(v); }
  }
  console.log(
    `\nper-op time, µs (median of ${rounds} alternating rounds, ${threads} threads, ${T.torchVersion()})`,
  );
  console.log("| op | this project (Deno FFI) | Python PyTorch | ratio |");
  console.log("| --- | --- | --- | --- |");
  for (const [name, [, , pyName]] of Object.entries(cases)) {
    const o = median(ours[name]);
    const p = ref[pyName] ? median(ref[pyName]) : NaN;
    console.log(`| ${name} | ${o.toFixed(2)} | ${p.toFixed(2)} | ${(o / p).toFixed(2)} |`);
  }
  for (const t of [a, b, x]) t.dispose();
}

/** One ECN step benchmark: network, input size, images per side, timed steps, features. */
export interface EcnBenchOptions {
  arch: EcnArch;
  height: number;
  width: number;
  batch: number;
  steps: number;
  features: number;
}

/** Seconds per ECN training step (the first, warm-up step excluded). */
export function ecnStepTimes(o: EcnBenchOptions): number[] {
  T.manualSeed(0);
  const net = new EcnNet({ arch: o.arch, numSourceIds: 100, numFeatures: o.features });
  net.train();
  const opt = new SGD(net.paramGroups().map((g) => ({ params: g.params, lrMult: g.lrMult })), {
    lr: 0.1,
    momentum: 0.9,
    weightDecay: 5e-4,
    nesterov: true,
  });
  const memory = new ExemplarMemory(1000, o.features);
  const xs = T.keep(T.randn([o.batch, 3, o.height, o.width]));
  const ys = T.keep(T.randint(0, 100, [o.batch]));
  const xt = T.keep(T.randn([o.batch, 3, o.height, o.width]));
  const it = T.keep(T.randperm(1000).slice(0, 0, o.batch));
  const times: number[] = [];
  for (let s = 0; s <= o.steps; s++) {
    const t0 = performance.now();
    T.scope(() => {
      const ls = T.crossEntropy(net.forward(xs), ys);
      const lt = invarianceLoss(memory, net.forwardTarget(xt), it, 1);
      const loss = ls.mul(0.7).add(lt.mul(0.3));
      opt.zeroGrad();
      loss.backward();
      opt.step();
    });
    if (s > 0) times.push((performance.now() - t0) / 1000);
  }
  for (const t of [xs, ys, xt, it]) t.dispose();
  memory.dispose();
  opt.dispose();
  net.dispose();
  return times;
}

async function benchEcn(rounds: number, args: Record<string, string | undefined>): Promise<void> {
  const [h, w] = (args.size ?? "256x128").split("x").map(Number);
  const o: EcnBenchOptions = {
    arch: (args.arch ?? "resnet50") as EcnArch,
    height: h,
    width: w,
    batch: Number(args.batch ?? 16),
    steps: Number(args.steps ?? 3),
    features: Number(args.features ?? 4096),
  };
  const threads = T.getNumThreads();
  const ours: number[] = [];
  const ref: number[] = [];
  for (let r = 0; r < rounds; r++) {
    ours.push(...ecnStepTimes(o));
    const p = await runPythonReference<{ stepSeconds: number[] }>("./bench_ecn_reference.py", [
      o.arch,
      String(h),
      String(w),
      String(o.batch),
      String(o.steps),
      String(threads),
      String(o.features),
    ]);
    if (p) ref.push(...p.stepSeconds);
  }
  const imgs = 2 * o.batch;
  const mo = median(ours), mp = median(ref);
  console.log(
    `\nECN training step: ${o.arch} ${h}x${w}, batch ${o.batch} source + ${o.batch} target, ` +
      `${o.features} features, ${threads} threads, ${T.torchVersion()} (median of ${ours.length} steps in ${rounds} alternating rounds)`,
  );
  console.log("| | s/step | images/s |");
  console.log("| --- | --- | --- |");
  console.log(`| this project | ${mo.toFixed(3)} | ${(imgs / mo).toFixed(1)} |`);
  console.log(`| Python PyTorch | ${mp.toFixed(3)} | ${(imgs / mp).toFixed(1)} |`);
}

const BENCHES: Record<
  string,
  (rounds: number, args: Record<string, string | undefined>) => Promise<void>
> = { ops: benchOps, ecn: benchEcn };

if (import.meta.main) {
  configureFromEnv();
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      only: { type: "string" },
      rounds: { type: "string", default: "3" },
      arch: { type: "string" },
      size: { type: "string" },
      batch: { type: "string" },
      steps: { type: "string" },
      features: { type: "string" },
    },
  });
  const names = values.only ? values.only.split(",") : Object.keys(BENCHES);
  for (const n of names) {
    const f = BENCHES[n];
    if (!f) {
      console.error(`unknown benchmark '${n}'; available: ${Object.keys(BENCHES).join(", ")}`);
      Deno.exit(2);
    }
    await f(Number(values.rounds), values as Record<string, string | undefined>);
  }
}
