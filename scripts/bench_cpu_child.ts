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
import { ExemplarMemory } from "../src/reid/memory.ts";
import { invarianceLoss } from "../src/reid/losses.ts";
import { SGD } from "../src/optim/sgd.ts";

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

/** ECN training steps with the reference's step (source CE + target invariance, SGD). */
function ecn(arch: EcnArch, h: number, w: number, batch: number, steps: number): number[] {
  const features = arch === "mobilenet_v2" ? 1024 : 4096;
  const net = new EcnNet({ arch, numSourceIds: 100, numFeatures: features });
  net.train();
  const opt = new SGD(net.paramGroups().map((g) => ({ params: g.params, lrMult: g.lrMult })), {
    lr: 0.1,
    momentum: 0.9,
    weightDecay: 5e-4,
    nesterov: true,
  });
  const memory = new ExemplarMemory(1000, features);
  const xs = T.keep(T.randn([batch, 3, h, w]));
  const ys = T.keep(T.randint(0, 100, [batch]));
  const xt = T.keep(T.randn([batch, 3, h, w]));
  const it = T.keep(T.randperm(1000).slice(0, 0, batch));
  return timeSteps(steps, () => {
    const ls = T.crossEntropy(net.forward(xs), ys);
    const lt = invarianceLoss(memory, net.forwardTarget(xt), it, 1);
    const loss = ls.mul(0.7).add(lt.mul(0.3));
    opt.zeroGrad();
    loss.backward();
    opt.step();
  });
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
  const [mode, arch, h, w, batch, steps] = Deno.args;
  T.manualSeed(0);
  const run = mode === "ecn" ? ecn : mode === "features" ? features : null;
  if (!run) {
    console.error(`bench_cpu_child: mode must be 'ecn' or 'features', got '${mode}'`);
    Deno.exit(2);
  }
  const seconds = run(arch as EcnArch, Number(h), Number(w), Number(batch), Number(steps));
  console.log(JSON.stringify({ seconds, peakRssBytes: peakRssBytes(), cpuCache: cpuCacheStats() }));
}
