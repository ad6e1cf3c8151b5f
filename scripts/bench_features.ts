/**
 * `deno task bench:features`: evaluation speed on real data. Extracts ResNet-50 pool5 features
 * (256x128) of Market-1501's query + gallery images (3,368 + 15,913 = 19,281, junk pid -1
 * dropped by the project's reader) with this project's evaluation pipeline, and with Python
 * PyTorch's usual one (DataLoader + PIL + torchvision transforms) on the same list, batch size,
 * loader workers and threads, in the same run. Each side runs in a process of its own (so its
 * peak resident memory is its own), the sides alternating in rounds; medians are reported.
 *
 * - this project: scripts/bench_features_child.ts (`extractFeatures`: loader threads decoding
 *   with libjpeg-turbo, bicubic resize + ImageNet normalization, libtorch);
 * - Python + tcmalloc (LD_PRELOAD, when Debian's libtcmalloc-minimal4 is installed), same list;
 * - Python with its default allocator, over the first `--python-default-limit` images only
 *   (it is about 10x slower here: glibc malloc returns the big activations to the kernel).
 *
 * Usage: deno task bench:features [--data DIR] [--limit N] [--batch-size 64] [--workers 2]
 *   [--rounds 1] [--python-default-limit 640] [--weights FILE] [--json FILE]
 * Data: --data, else $ECN_DATA_ROOT/market1501, else <repo>/../data/market1501; when it is
 * absent the benchmark says so and exits 0. Threads: ECN_NUM_THREADS (default: all cores), the
 * same number for Python.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { loadReidDataset, MARKET_SPLIT_DIRS } from "../src/data/datasets.ts";
import { dataRootFromEnv } from "../src/cli/env.ts";
import { median, PYTHON, runPythonReference } from "./bench_common.ts";

const TCMALLOC = [
  "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4",
  "/usr/lib/aarch64-linux-gnu/libtcmalloc_minimal.so.4",
].find((p) => existsSync(p));

/** One side's run, as its child process reports it. */
interface Run {
  images: number;
  seconds: number;
  imagesPerS: number;
  peakRssBytes: number;
  /** Python only: the largest DataLoader worker process. */
  workerPeakRssBytes?: number;
  threads: number;
  dim: number;
  height: number;
  width: number;
  batchSize: number;
  workers: number;
}

interface PythonOut {
  images: number;
  seconds: number;
  images_per_s: number;
  peak_rss: number;
  peak_rss_worker: number;
  threads: number;
  dim: number;
  height: number;
  width: number;
  batch_size: number;
  workers: number;
}

interface Side {
  label: string;
  run: () => Promise<Run | null>;
  runs: Run[];
}

const HELP = `deno task bench:features [options]
  --data DIR                  Market-1501 root (default $ECN_DATA_ROOT/market1501 or ../data/market1501)
  --limit N                   only the first N query + gallery images (default all)
  --batch-size N              images per batch, both sides (default 64)
  --workers N                 loader workers, both sides (default 2)
  --rounds R                  alternating rounds; medians are reported (default 1)
  --python-default-limit N    images for Python with its default allocator (default 640)
  --weights FILE              ResNet-50 weights for this project's side (default random init)
  --json FILE                 also write every figure as JSON
`;

async function ours(list: string, batch: number, workers: number, weights?: string) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("./bench_features_child.ts", import.meta.url).pathname,
      list,
      String(batch),
      String(workers),
      ...(weights ? [weights] : []),
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    console.warn(`this project's side failed: ${new TextDecoder().decode(out.stderr).slice(-600)}`);
    return null;
  }
  return JSON.parse(new TextDecoder().decode(out.stdout)) as Run;
}

async function python(
  list: string,
  batch: number,
  workers: number,
  threads: number,
  limit: number,
  tcmalloc: boolean,
): Promise<Run | null> {
  const r = await runPythonReference<PythonOut>(
    "./bench_features_reference.py",
    [list, batch, workers, threads, limit].map(String),
    tcmalloc && TCMALLOC ? { LD_PRELOAD: TCMALLOC } : {},
  );
  return r && {
    images: r.images,
    seconds: r.seconds,
    imagesPerS: r.images_per_s,
    peakRssBytes: r.peak_rss * 1024,
    workerPeakRssBytes: r.peak_rss_worker * 1024,
    threads: r.threads,
    dim: r.dim,
    height: r.height,
    width: r.width,
    batchSize: r.batch_size,
    workers: r.workers,
  };
}

function positive(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) {
    throw new Error(`--${name} must be a positive integer, got '${v}'`);
  }
  return n;
}

function cpuModel(): string {
  try {
    return Deno.readTextFileSync("/proc/cpuinfo").match(/^model name\s*:\s*(.*)$/m)?.[1] ??
      "unknown CPU";
  } catch {
    return "unknown CPU";
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      help: { type: "boolean" },
      data: { type: "string" },
      limit: { type: "string" },
      "batch-size": { type: "string" },
      workers: { type: "string" },
      rounds: { type: "string" },
      "python-default-limit": { type: "string" },
      weights: { type: "string" },
      json: { type: "string" },
    },
  });
  if (values.help) return console.log(HELP);
  const limit = positive("limit", values.limit);
  const batch = positive("batch-size", values["batch-size"]) ?? 64;
  const workers = positive("workers", values.workers) ?? 2;
  const rounds = positive("rounds", values.rounds) ?? 1;
  const pyDefaultLimit = positive("python-default-limit", values["python-default-limit"]) ?? 640;
  const threads = Number(Deno.env.get("ECN_NUM_THREADS") ?? navigator.hardwareConcurrency);

  const root = resolve(values.data ?? join(dataRootFromEnv(), "market1501"));
  const missing = [MARKET_SPLIT_DIRS.query, MARKET_SPLIT_DIRS.gallery]
    .filter((d) => !existsSync(join(root, d))).map((d) => `${d}/`);
  if (missing.length > 0) {
    console.log(
      `bench_features: skipped, no Market-1501 at ${root} (missing ${missing.join(", ")}); ` +
        "give --data DIR or set ECN_DATA_ROOT to the folder that holds market1501/",
    );
    return;
  }
  const ds = loadReidDataset(root, { name: "market1501" });
  const all = [...ds.query, ...ds.gallery];
  const items = all.slice(0, limit ?? all.length);
  const list = await Deno.makeTempFile({ prefix: "bench_features_", suffix: ".json" });
  try {
    await Deno.writeTextFile(
      list,
      JSON.stringify(items.map(({ path, pid, cam }) => ({ path, pid, cam }))),
    );
    const pyDefaultImages = Math.min(pyDefaultLimit, items.length);
    const sides: Side[] = [
      {
        label: "this project (libtorch, libjpeg-turbo loader threads)",
        run: () => ours(list, batch, workers, values.weights),
        runs: [],
      },
    ];
    if (TCMALLOC) {
      sides.push({
        label: "Python PyTorch + tcmalloc",
        run: () => python(list, batch, workers, threads, items.length, true),
        runs: [],
      });
    } else {
      console.warn(
        "libtcmalloc_minimal.so.4 not found: no tcmalloc row (apt libtcmalloc-minimal4)",
      );
    }
    sides.push({
      label: "Python PyTorch, default allocator",
      run: () => python(list, batch, workers, threads, pyDefaultImages, false),
      runs: [],
    });

    console.log(
      `Feature extraction, ResNet-50 pool5, ${items.length} of Market-1501's ` +
        `${ds.query.length} query + ${ds.gallery.length} gallery images (${root})`,
    );
    for (let r = 0; r < rounds; r++) {
      for (const s of sides) {
        const run = await s.run();
        if (run) s.runs.push(run);
      }
    }

    const ourRuns = sides[0].runs;
    const machine = {
      cores: navigator.hardwareConcurrency,
      cpu: cpuModel(),
      libtorchThreads: ourRuns[0]?.threads ?? threads,
      pythonThreads: threads,
      python: PYTHON,
      tcmalloc: TCMALLOC ?? null,
    };
    const summary = sides.map((s) => ({
      label: s.label,
      images: s.runs[0]?.images ?? NaN,
      seconds: s.runs.length ? median(s.runs.map((r) => r.seconds)) : NaN,
      imagesPerS: s.runs.length ? median(s.runs.map((r) => r.imagesPerS)) : NaN,
      peakRssBytes: s.runs.length ? Math.max(...s.runs.map((r) => r.peakRssBytes)) : NaN,
    }));
    const rate = (label: string) => summary.find((s) => s.label === label)?.imagesPerS ?? NaN;
    const pyDefault = rate("Python PyTorch, default allocator");
    const pyTc = rate("Python PyTorch + tcmalloc");
    const settings = sides.map((s) => s.runs[0]).filter((r): r is Run => !!r);
    const same = (f: (r: Run) => number | string) => new Set(settings.map(f)).size <= 1;
    const first = settings[0];

    console.log(
      `machine: ${machine.cores} cores, ${machine.cpu}; libtorch threads ${machine.libtorchThreads}` +
        `, Python torch threads ${threads}`,
    );
    if (first) {
      console.log(
        `both sides: input ${first.height}x${first.width}, batch ${first.batchSize}, ` +
          `${first.workers} loader workers, ${first.dim}-d features; ` +
          `median of ${rounds} alternating round(s)`,
      );
    }
    if (!same((r) => `${r.height}x${r.width} b${r.batchSize} w${r.workers} d${r.dim}`)) {
      console.warn("warning: the sides ran with different settings:", settings);
    }
    console.log(
      "\n| side | images | seconds | images/s | peak RSS (GiB) | x Python default | " +
        "x Python + tcmalloc |",
    );
    console.log("| --- | --- | --- | --- | --- | --- | --- |");
    for (const s of summary) {
      if (Number.isNaN(s.imagesPerS)) {
        console.log(`| ${s.label} | failed | | | | | |`);
        continue;
      }
      console.log(
        `| ${s.label} | ${s.images} | ${s.seconds.toFixed(1)} | ${s.imagesPerS.toFixed(1)} | ` +
          `${(s.peakRssBytes / 2 ** 30).toFixed(2)} | ${(s.imagesPerS / pyDefault).toFixed(2)} | ` +
          `${(s.imagesPerS / pyTc).toFixed(2)} |`,
      );
    }
    const workerPeak = Math.max(
      ...sides.slice(1).flatMap((s) => s.runs.map((r) => r.workerPeakRssBytes ?? 0)),
    );
    if (workerPeak > 0) {
      console.log(
        `\nPeak RSS is the main process's. Python's ${workers} DataLoader workers are processes of ` +
          `their own (largest ${(workerPeak / 2 ** 30).toFixed(2)} GiB each); this project's ` +
          "loader threads are inside its figure.",
      );
    }
    if (values.json) {
      await Deno.writeTextFile(
        values.json,
        JSON.stringify(
          {
            data: root,
            images: items.length,
            query: ds.query.length,
            gallery: ds.gallery.length,
            batchSize: batch,
            workers,
            rounds,
            pythonDefaultLimit: pyDefaultImages,
            weights: values.weights ?? null,
            machine,
            summary,
            runs: Object.fromEntries(sides.map((s) => [s.label, s.runs])),
          },
          null,
          2,
        ) + "\n",
      );
      console.log(`wrote ${values.json}`);
    }
  } finally {
    await Deno.remove(list).catch(() => {});
  }
}

if (import.meta.main) {
  try {
    await main();
  } catch (e) {
    console.error(`bench_features: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
