/**
 * `deno task bench:cpu`: what the caching CPU allocator (native/alloc.cpp) buys, side by side in
 * one run. Each case runs in a process of its own, alternating in rounds (the machine is shared
 * and noisy; medians are reported):
 *
 * - this project with the cache (the default) and without it (`ECN_CPU_CACHE=0`, glibc malloc);
 * - the Python PyTorch reference with its default allocator, and with tcmalloc preloaded when
 *   Debian's libtcmalloc-minimal4 is installed;
 * - for feature extraction, this project without the fused oneDNN convolution
 *   (`ECN_FUSED_CONV=0`, native/fused_conv.cpp): libtorch's convolution, add_ and relu_.
 *
 * Cases: the ECN training step (ResNet-50 256x128 16+16, MobileNetV2 128x64 32+32) and feature
 * extraction (ResNet-50 and MobileNetV2 at 256x128, batches of 32). Peak resident memory is each
 * process's VmHWM / ru_maxrss.
 *
 * Usage: deno task bench:cpu [--rounds 3] [--only ecn-resnet50,features-mobilenet_v2,...]
 */
import { parseArgs } from "node:util";
import { existsSync } from "node:fs";
import { median, runPythonReference } from "./bench_common.ts";

interface Case {
  name: string;
  mode: "ecn" | "features";
  arch: "resnet50" | "mobilenet_v2";
  height: number;
  width: number;
  batch: number;
  steps: number;
}

const CASES: Case[] = [
  {
    name: "ecn-resnet50",
    mode: "ecn",
    arch: "resnet50",
    height: 256,
    width: 128,
    batch: 16,
    steps: 3,
  },
  {
    name: "ecn-mobilenet_v2",
    mode: "ecn",
    arch: "mobilenet_v2",
    height: 128,
    width: 64,
    batch: 32,
    steps: 3,
  },
  {
    name: "features-resnet50",
    mode: "features",
    arch: "resnet50",
    height: 256,
    width: 128,
    batch: 32,
    steps: 3,
  },
  {
    name: "features-mobilenet_v2",
    mode: "features",
    arch: "mobilenet_v2",
    height: 256,
    width: 128,
    batch: 32,
    steps: 3,
  },
];

const TCMALLOC = [
  "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4",
  "/usr/lib/aarch64-linux-gnu/libtcmalloc_minimal.so.4",
].find((p) => existsSync(p));

interface Sample {
  seconds: number[];
  peakRssBytes: number;
}

const DENO = Deno.execPath();
const CHILD = new URL("./bench_cpu_child.ts", import.meta.url).pathname;

async function ours(c: Case, cache: boolean, fused = true): Promise<Sample | null> {
  const out = await new Deno.Command(DENO, {
    args: [
      "run",
      "-A",
      CHILD,
      c.mode,
      c.arch,
      ...[c.height, c.width, c.batch, c.steps].map(String),
    ],
    env: { ECN_CPU_CACHE: cache ? "1" : "0", ECN_FUSED_CONV: fused ? "1" : "0" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    console.warn(
      `${c.name} (cache ${cache}, fused ${fused}) failed: ${
        new TextDecoder().decode(out.stderr).slice(-400)
      }`,
    );
    return null;
  }
  return JSON.parse(new TextDecoder().decode(out.stdout)) as Sample;
}

async function python(c: Case, threads: number, tcmalloc: boolean): Promise<Sample | null> {
  const r = await runPythonReference<{ stepSeconds: number[]; peakRssBytes: number }>(
    "./bench_ecn_reference.py",
    [
      c.arch,
      ...[c.height, c.width, c.batch, c.steps, threads, c.arch === "mobilenet_v2" ? 1024 : 4096]
        .map(String),
      c.mode,
    ],
    tcmalloc && TCMALLOC ? { LD_PRELOAD: TCMALLOC } : {},
  );
  return r && { seconds: r.stepSeconds, peakRssBytes: r.peakRssBytes };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { rounds: { type: "string", default: "3" }, only: { type: "string" } },
  });
  const rounds = Number(values.rounds);
  const only = values.only?.split(",");
  const cases = CASES.filter((c) => !only || only.includes(c.name));
  const threads = Number(Deno.env.get("ECN_NUM_THREADS") ?? navigator.hardwareConcurrency);
  const configs: [string, (c: Case) => Promise<Sample | null>][] = [
    ["this project, caching allocator (default)", (c) => ours(c, true)],
    ["this project, ECN_CPU_CACHE=0 (glibc malloc)", (c) => ours(c, false)],
    ["Python PyTorch, default allocator", (c) => python(c, threads, false)],
  ];
  const PYTHON_DEFAULT = 2; // the column the speed-ups divide by
  // Feature extraction only: the oneDNN convolution with the residual sum and ReLU fused
  // (native/fused_conv.cpp) against libtorch's separate ops (training steps do not use it).
  if (cases.some((c) => c.mode === "features")) {
    configs.push([
      "this project, ECN_FUSED_CONV=0 (libtorch's separate ops)",
      (c) => c.mode === "features" ? ours(c, true, false) : Promise.resolve(null),
    ]);
  }
  if (TCMALLOC) {
    configs.push(["Python PyTorch, tcmalloc preloaded", (c) => python(c, threads, true)]);
  } else {console.warn(
      "libtcmalloc_minimal.so.4 not found: no tcmalloc column (apt libtcmalloc-minimal4)",
    );}
  console.log(
    `CPU allocator benchmark: ${threads} threads, ${navigator.hardwareConcurrency} cores, ` +
      `median of ${rounds} alternating rounds (warm-up step excluded)`,
  );
  for (const c of cases) {
    const samples = configs.map(() => ({ seconds: [] as number[], peak: [] as number[] }));
    for (let r = 0; r < rounds; r++) {
      for (const [i, [, run]] of configs.entries()) {
        const s = await run(c);
        if (s) {
          samples[i].seconds.push(...s.seconds);
          samples[i].peak.push(s.peakRssBytes);
        }
      }
    }
    const images = c.mode === "ecn" ? 2 * c.batch : c.batch;
    const what = c.mode === "ecn"
      ? `ECN training step, ${c.arch} ${c.height}x${c.width}, ${c.batch}+${c.batch}`
      : `feature extraction, ${c.arch} ${c.height}x${c.width}, batches of ${c.batch}`;
    const base = samples[PYTHON_DEFAULT].seconds.length
      ? median(samples[PYTHON_DEFAULT].seconds)
      : NaN;
    console.log(`\n${what}`);
    console.log("| | s per step | images/s | x Python default | peak RSS (GiB) |");
    console.log("| --- | --- | --- | --- | --- |");
    for (const [i, [label]] of configs.entries()) {
      const s = samples[i];
      if (!s.seconds.length && c.mode === "ecn" && label.includes("ECN_FUSED_CONV")) continue;
      if (!s.seconds.length) {
        console.log(`| ${label} | failed | | | |`);
        continue;
      }
      const m = median(s.seconds);
      console.log(
        `| ${label} | ${m.toFixed(3)} | ${(images / m).toFixed(1)} | ${(base / m).toFixed(2)} | ` +
          `${(Math.max(...s.peak) / 2 ** 30).toFixed(2)} |`,
      );
    }
  }
}
