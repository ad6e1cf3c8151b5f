/**
 * ResNet-50 training-step benchmark: forward + cross-entropy + backward + SGD step (batch 16,
 * 256x128 by default) in images/s, against the same step in Python PyTorch with the same thread
 * count. The two alternate (this project, then Python, `--rounds` times) and medians are reported,
 * because this machine is shared and noisy.
 *
 *   deno run -A scripts/bench_resnet.ts [--steps 3] [--batch 16] [--height 256] [--width 128]
 *     [--threads N] [--rounds 3]
 */
import { parseArgs } from "node:util";
import * as T from "../src/tensor/mod.ts";
import { resnet } from "../src/nn/resnet.ts";
import { SGD } from "../src/optim/sgd.ts";
import { median, runPythonReference } from "./bench_common.ts";
import { configureFromEnv } from "../src/cli/env.ts";

configureFromEnv();

const { values } = parseArgs({
  args: Deno.args,
  options: {
    steps: { type: "string", default: "3" },
    batch: { type: "string", default: "16" },
    height: { type: "string", default: "256" },
    width: { type: "string", default: "128" },
    threads: { type: "string" },
    rounds: { type: "string", default: "3" },
  },
});
const steps = Number(values.steps), batch = Number(values.batch);
const height = Number(values.height), width = Number(values.width);
const rounds = Number(values.rounds);
const threads = values.threads ? T.setNumThreads(Number(values.threads)) : T.getNumThreads();

function ours(): number {
  T.manualSeed(0);
  const model = resnet(50, { numClasses: 751 }).train();
  const opt = new SGD(model.parameters(), {
    lr: 0.01,
    momentum: 0.9,
    weightDecay: 5e-4,
    nesterov: true,
  });
  const x = T.randn([batch, 3, height, width]);
  const y = T.randint(0, 751, [batch]);
  const step = () => {
    opt.zeroGrad();
    T.scope(() => {
      T.crossEntropy(model.forward(x), y).backward();
      opt.step();
    });
  };
  step();
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) step();
  const dt = (performance.now() - t0) / 1000 / steps;
  opt.zeroGrad();
  opt.dispose();
  model.dispose();
  x.dispose();
  y.dispose();
  return batch / dt;
}

async function reference(): Promise<number | null> {
  const r = await runPythonReference<{ images_per_s: number }>(
    "./bench_resnet_reference.py",
    [steps, batch, height, width, threads].map(String),
  );
  return r?.images_per_s ?? null;
}

const mine: number[] = [], theirs: number[] = [];
for (let r = 0; r < rounds; r++) {
  mine.push(ours());
  const p = await reference();
  if (p !== null) theirs.push(p);
  console.log(
    `round ${r + 1}: ours ${mine.at(-1)!.toFixed(2)} img/s, ` +
      `pytorch ${p === null ? "n/a" : p.toFixed(2)} img/s`,
  );
}
console.log(
  `ResNet-50 train step, batch ${batch}, ${height}x${width}, ${threads} threads, ${steps} steps ` +
    `x ${rounds} rounds (${T.torchVersion()}): ours ${median(mine).toFixed(2)} img/s (median), ` +
    `pytorch ${theirs.length ? median(theirs).toFixed(2) : "n/a"} img/s (median)`,
);
