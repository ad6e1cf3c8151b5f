/**
 * ECN training-step benchmark with the MobileNetV2 backbone: a source batch (forward, cross-entropy
 * on source identities) and a target batch (target branch, exemplar memory, cross-entropy on the
 * image indexes), L = 0.7 L_src + 0.3 L_tgt, backward, SGD (backbone lr x0.1, Nesterov), in
 * images/s (source + target images) at 256x128, against the same step in Python PyTorch
 * (scripts/bench_mobilenet_reference.py) with the same thread count. The two alternate
 * `--rounds` times and medians are reported, because this machine is shared and noisy.
 *
 *   deno run -A scripts/bench_mobilenet.ts [--steps 3] [--batch 16] [--height 256] [--width 128]
 *     [--threads N] [--rounds 3]
 */
import { parseArgs } from "node:util";
import * as T from "../src/tensor/mod.ts";
import { EcnNet } from "../src/reid/ecn_net.ts";
import { SGD } from "../src/optim/sgd.ts";

const PYTHON = Deno.env.get("ECN_ORACLE_PYTHON") ?? "/usr/bin/python3";
const NUM_IDS = 702, NUM_TARGET = 12936;

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

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function ours(): number {
  T.manualSeed(0);
  const net = new EcnNet({ arch: "mobilenet_v2", numSourceIds: NUM_IDS }).train();
  const opt = new SGD(
    net.paramGroups().map((g) => ({ params: g.params, lr: 0.1 * g.lrMult, lrMult: g.lrMult })),
    { lr: 0.1, momentum: 0.9, weightDecay: 5e-4, nesterov: true },
  );
  const memory = T.keep(T.zeros([NUM_TARGET, 4096]));
  const xs = T.keep(T.randn([batch, 3, height, width]));
  const xt = T.keep(T.randn([batch, 3, height, width]));
  const ys = T.keep(T.randint(0, NUM_IDS, [batch]));
  const yt = T.keep(T.randint(0, NUM_TARGET, [batch]));
  const step = () => {
    opt.zeroGrad();
    T.scope(() => {
      const src = T.crossEntropy(net.forward(xs), ys);
      const logits = T.exemplarMemory(net.forwardTarget(xt), yt, memory, 0).div(0.05);
      src.mul(0.7).add(T.crossEntropy(logits, yt).mul(0.3)).backward();
      opt.step();
    });
  };
  step();
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) step();
  const dt = (performance.now() - t0) / 1000 / steps;
  opt.zeroGrad();
  opt.dispose();
  net.dispose();
  for (const t of [memory, xs, xt, ys, yt]) t.dispose();
  return (2 * batch) / dt;
}

async function reference(): Promise<number | null> {
  const script = new URL("./bench_mobilenet_reference.py", import.meta.url).pathname;
  try {
    const out = await new Deno.Command(PYTHON, {
      args: [script, ...[steps, batch, height, width, threads].map(String)],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) {
      console.warn(`python reference failed: ${new TextDecoder().decode(out.stderr).slice(-400)}`);
      return null;
    }
    return JSON.parse(new TextDecoder().decode(out.stdout)).images_per_s;
  } catch {
    console.warn(`python reference unavailable (${PYTHON})`);
    return null;
  }
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
  `ECN MobileNetV2 train step, ${batch} source + ${batch} target, ${height}x${width}, ` +
    `${threads} threads, ${steps} steps x ${rounds} rounds (${T.torchVersion()}): ours ` +
    `${median(mine).toFixed(2)} img/s (median), pytorch ` +
    `${theirs.length ? median(theirs).toFixed(2) : "n/a"} img/s (median)`,
);
