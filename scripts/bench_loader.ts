/**
 * Loader throughput: images/s with the full training augmentation (256x128) over the
 * cuhk03d training crops. `deno run -A scripts/bench_loader.ts [--workers N]
 * [--images N] [--batch N] [--no-recycle] [--decode]` (defaults: 2 workers, 768 images after a
 * 2-batch warm-up, batch 64). Skips with a message when ../shared/data is absent. Images are decoded
 * by build/libecn_image.so (libjpeg-turbo, libpng); `deno task bench:loader` builds it first.
 * `--decode` also times decoding alone on this thread (microseconds per image, median of 5 passes
 * over the first 500 files, read beforehand).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { DataLoader, type LoaderItem } from "../src/data/loader.ts";
import { trainTransformConfig } from "../src/data/transforms.ts";
import { codecVersions } from "../src/data/codec_native.ts";
import { decodeImage } from "../src/data/image.ts";
import { configureFromEnv } from "../src/cli/env.ts";

configureFromEnv();

const DIR = new URL("../../shared/data/cuhk03d/bounding_box_train", import.meta.url).pathname;

const { values } = parseArgs({
  args: Deno.args,
  options: {
    workers: { type: "string", default: "2" },
    images: { type: "string", default: "768" },
    batch: { type: "string", default: "64" },
    "no-recycle": { type: "boolean", default: false },
    decode: { type: "boolean", default: false },
  },
  strict: true,
});
const workers = Number(values.workers), images = Number(values.images);
const batchSize = Number(values.batch), noRecycle = values["no-recycle"];

let names: string[];
try {
  names = [...Deno.readDirSync(DIR)].map((e) => e.name).filter((n) => n.endsWith(".jpg")).sort();
} catch {
  console.log(`bench_loader: skipped, ${DIR} not found (see ../shared/data/README.md)`);
  Deno.exit(0);
}
const items: LoaderItem[] = names.map((n) => ({
  path: `${DIR}/${n}`,
  pid: Number(n.slice(0, 4)),
  cam: Number(n.slice(6, 7)) - 1,
}));

/** CPU seconds of this process, all threads (Linux /proc; NaN elsewhere). */
function cpuSeconds(): number {
  try {
    const f = Deno.readTextFileSync("/proc/self/stat").split(") ")[1].split(" ");

    return (Number(f[11]) + Number(f[12])) / 100; // utime + stime in clock ticks (USER_HZ 100)
  } catch {
    return NaN;
  }
}

const warmup = 2;
const needed = warmup + Math.ceil(images / batchSize);
using loader = new DataLoader(items, {
  batchSize,
  transform: trainTransformConfig(),
  shuffle: true,
  dropLast: true,
  seed: 1,
  workers,
  prefetch: Math.max(1, 2 * workers),
});
let t0 = 0, c0 = 0, n = 0, k = 0;
for await (const b of loader.restarting()) {
  if (++k === warmup) {
    t0 = performance.now();
    c0 = cpuSeconds();
  } else if (k > warmup) n += b.size;
  // A trainer hands the buffer back once the images are on the device.
  if (!noRecycle) loader.recycle(b);
  if (k === needed) break;
}
const s = (performance.now() - t0) / 1000;
const cpu = cpuSeconds() - c0;
const load = Deno.loadavg()[0].toFixed(2);
console.log(
  `bench_loader: ${(n / s).toFixed(0)} images/s (256x128 train augmentation, ${workers} ` +
    `workers, batch ${batchSize}${noRecycle ? ", no recycling" : ""}, ${n} images in ${
      s.toFixed(2)
    } s, ` +
    `${navigator.hardwareConcurrency} cores, load average ${load}; ${codecVersions()})`,
);
// On a shared machine the wall-clock figure depends on other load; CPU time per image does
// not, and bounds what the workers reach on otherwise idle cores.
console.log(
  `bench_loader: ${(1000 * cpu / n).toFixed(2)} CPU ms per image (all threads) -> ` +
    `${(n * Math.max(1, Math.min(workers, navigator.hardwareConcurrency)) / cpu).toFixed(0)} ` +
    `images/s if ${Math.max(1, workers)} core(s) were free`,
);

if (values.decode) {
  const files = names.slice(0, 500).map((n) => Deno.readFileSync(`${DIR}/${n}`));
  for (const f of files) decodeImage(f, "warm-up");
  const us: number[] = [];
  for (let r = 0; r < 5; r++) {
    const t = performance.now();
    for (let i = 0; i < files.length; i++) decodeImage(files[i], names[i]);
    us.push((performance.now() - t) * 1000 / files.length);
  }
  us.sort((a, b) => a - b);
  console.log(
    `bench_loader: decode alone ${us[2].toFixed(0)} us per image (median of 5 passes over ` +
      `${files.length} files; fastest ${us[0].toFixed(0)} us)`,
  );
}
