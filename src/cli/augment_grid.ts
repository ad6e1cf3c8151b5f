/**
 * `deno run -A src/cli/augment_grid.ts [--dir DIR] [--out FILE.png] [--images N] [--draws D]
 * [--seed S] [--height H] [--width W]`: writes a PNG grid to look at the training
 * augmentation. Each row is one image: the test transform first, then D training draws
 * (crop, flip, erasing). Argument parsing only.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { encodePng, readImage, type RgbImage } from "../data/image.ts";
import {
  applyTransform,
  denormalizeToRgb,
  testTransformConfig,
  trainTransformConfig,
} from "../data/transforms.ts";
import { Rng } from "../util/random.ts";
import { configureFromEnv } from "./env.ts";

const USAGE = `usage: deno run -A src/cli/augment_grid.ts [options]
  --dir DIR       image folder (default ../shared/data/cuhk03d/bounding_box_train)
  --out FILE      output PNG (default runs/augment_grid.png)
  --images N      rows: images taken evenly from the sorted folder (default 6)
  --draws D       augmented draws per image (default 8)
  --seed S        seed of the draws (default 1)
  --height H      output height (default 256)
  --width W       output width (default 128)`;

const GAP = 4;

/** Tiles equally sized images into `rows` x `cols` with a grey gap. */
function tile(cells: RgbImage[][]): RgbImage {
  const h = cells[0][0].height, w = cells[0][0].width;
  const rows = cells.length, cols = cells[0].length;
  const width = cols * w + (cols + 1) * GAP, height = rows * h + (rows + 1) * GAP;
  const data = new Uint8Array(width * height * 3).fill(128);
  cells.forEach((row, r) =>
    row.forEach((img, c) => {
      const x0 = GAP + c * (w + GAP), y0 = GAP + r * (h + GAP);
      for (let y = 0; y < h; y++) {
        data.set(img.data.subarray(y * w * 3, (y + 1) * w * 3), ((y0 + y) * width + x0) * 3);
      }
    })
  );
  return { width, height, data };
}

/** Runs the command with `args`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        dir: {
          type: "string",
          default: new URL("../../../shared/data/cuhk03d/bounding_box_train", import.meta.url)
            .pathname,
        },
        out: { type: "string", default: "runs/augment_grid.png" },
        images: { type: "string", default: "6" },
        draws: { type: "string", default: "8" },
        seed: { type: "string", default: "1" },
        height: { type: "string", default: "256" },
        width: { type: "string", default: "128" },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
    }));
  } catch (e) {
    console.error(`${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  try {
    configureFromEnv();
  } catch (e) {
    console.error(`augment_grid: ${(e as Error).message}`);
    return 1;
  }
  const ints: Record<string, number> = {};
  for (const k of ["images", "draws", "seed", "height", "width"] as const) {
    const v = Number(values[k]);
    if (!Number.isInteger(v) || (k !== "seed" && v <= 0)) {
      console.error(`--${k}: expected a positive integer, got ${values[k]}\n${USAGE}`);
      return 2;
    }
    ints[k] = v;
  }
  let names: string[];
  try {
    names = [...Deno.readDirSync(values.dir)]
      .filter((e) => e.isFile && /\.(jpe?g|png)$/i.test(e.name))
      .map((e) => e.name)
      .sort();
  } catch (e) {
    console.error(`--dir ${values.dir}: cannot list images: ${(e as Error).message}`);
    return 1;
  }
  if (names.length === 0) {
    console.error(`--dir ${values.dir}: no .jpg/.png images`);
    return 1;
  }
  const size = { height: ints.height, width: ints.width };
  const train = trainTransformConfig(size), test = testTransformConfig(size);
  const rows: RgbImage[][] = [];
  const n = Math.min(ints.images, names.length);
  for (let r = 0; r < n; r++) {
    const name = names[Math.floor((r * names.length) / n)];
    const img = await readImage(`${values.dir}/${name}`);
    const row = [denormalizeToRgb(applyTransform(img, test).out, test)];
    const notes: string[] = [];
    for (let d = 0; d < ints.draws; d++) {
      const { out, draws } = applyTransform(img, train, new Rng(ints.seed, r, d));
      row.push(denormalizeToRgb(out, train));
      const c = draws.crop;
      notes.push(
        (c ? `${c.width}x${c.height}@${c.x},${c.y}` : "resize") + (draws.flipped ? " flip" : "") +
          (draws.erased ? " erase" : ""),
      );
    }
    console.log(`${name}: ${notes.join(" | ")}`);
    rows.push(row);
  }
  const dirEnd = values.out.lastIndexOf("/");
  if (dirEnd > 0) Deno.mkdirSync(values.out.slice(0, dirEnd), { recursive: true });
  Deno.writeFileSync(values.out, encodePng(tile(rows)));
  console.log(`wrote ${values.out}: ${n} images x (test + ${ints.draws} train draws)`);
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
