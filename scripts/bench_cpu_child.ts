/**
 * One measurement of `deno task bench:cpu` in a process of its own (so that the allocator and the
 * peak resident memory are this case's alone): an ECN training step or feature extraction, timed.
 * Prints JSON {seconds: number[] (per step or batch, warm-up excluded), peakRssBytes, cpuCache}.
 *
 * Usage: deno run -A scripts/bench_cpu_child.ts ecn|features ARCH HEIGHT WIDTH BATCH STEPS
 */
import * as T from "../src/tensor/mod.ts";
import { cpuCacheStats } from "../src/tensor/cpu_cache.ts";
import { type EcnArch, EcnNet } from "../src/reid/ecn_net.ts";
import { ecnStepTimes } from "./bench.ts";
import { configureFromEnv } from "../src/cli/env.ts";

/** Peak resident memory of this process (VmHWM), in bytes. */
export function peakRssBytes(): number {
  const m = Deno.readTextFileSync("/proc/self/status").match(/VmHWM:\s+(\d+) kB/);
  return m ? Number(m[1]) * 1024 : NaN;
}

function timeSteps(steps: number, step: () => void): number[] {
  const times: number[] = [];
  for (let s = 0; s <= steps; s++) {
    const t0 = performance.now();
    T.scope(step);
    if (s > 0) times.push((performance.now() - t0) / 1000);
  }
  return times;
}

/** Evaluation features (pool5, eval mode, no gradients) of one batch per step. */
function features(arch: EcnArch, h: number, w: number, batch: number, steps: number): number[] {
  const net = new EcnNet({ arch, numSourceIds: 100 });
  const x = T.keep(T.randn([batch, 3, h, w]));
  return timeSteps(steps, () => {
    net.extract(x);
  });
}

if (import.meta.main) {
  configureFromEnv();
  const [mode, arch, h, w, batch, steps] = Deno.args;
  T.manualSeed(0);
  // The ECN step is `deno task bench`'s (bench.ts), with the reference's feature sizes.
  const ecn = (arch: EcnArch, height: number, width: number, batch: number, steps: number) =>
    ecnStepTimes({
      arch,
      height,
      width,
      batch,
      steps,
      features: arch === "mobilenet_v2" ? 1024 : 4096,
    });
  const run = mode === "ecn" ? ecn : mode === "features" ? features : null;
  if (!run) {
    console.error(`bench_cpu_child: mode must be 'ecn' or 'features', got '${mode}'`);
    Deno.exit(2);
  }
  const seconds = run(arch as EcnArch, Number(h), Number(w), Number(batch), Number(steps));
  console.log(JSON.stringify({ seconds, peakRssBytes: peakRssBytes(), cpuCache: cpuCacheStats() }));
}
