/**
 * `deno run -A src/cli/augment_grid.ts [--dir DIR] [--out FILE.png] [--images N] [--draws D]
 * [--seed S] [--height H] [--width W]`: writes a PNG grid to look at the training
 * augmentation. Each row is one image: the test transform first, then D training draws
 * (crop, flip, erasing). Argument parsing only.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { augmentationGrid } from "../data/augment_grid.ts";
import { encodePng, readImage } from "../data/image.ts";
import { configureFromEnv } from "./env.ts";

const USAGE = `usage: deno run -A src/cli/augment_grid.ts [options]
  --dir DIR       image folder (default ../shared/data/cuhk03d/bounding_box_train)
  --out FILE      output PNG (default runs/augment_grid.png)
  --images N      rows: images taken evenly from the sorted folder (default 6)
  --draws D       augmented draws per image (default 8)
  --seed S        seed of the draws (default 1)
  --height H      output height (default 256)
  --width W       output width (default 128)`;

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
  const n = Math.min(ints.images, names.length);
  const picked = Array.from({ length: n }, (_, r) => names[Math.floor((r * names.length) / n)]);
  const images = [];
  for (const name of picked) images.push(await readImage(`${values.dir}/${name}`));
  const { grid, notes } = augmentationGrid(images, {
    height: ints.height,
    width: ints.width,
    draws: ints.draws,
    seed: ints.seed,
  });
  picked.forEach((name, r) => console.log(`${name}: ${notes[r].join(" | ")}`));
  const dirEnd = values.out.lastIndexOf("/");
  if (dirEnd > 0) Deno.mkdirSync(values.out.slice(0, dirEnd), { recursive: true });
  Deno.writeFileSync(values.out, encodePng(grid));
  console.log(`wrote ${values.out}: ${n} images x (test + ${ints.draws} train draws)`);
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
