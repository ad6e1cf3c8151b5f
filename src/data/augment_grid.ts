/**
 * A picture of the training augmentation: one row per image, its test transform first, then
 * `draws` training draws (crop, flip, erasing), tiled with a grey gap, and a note per draw.
 *
 * @module
 */
import type { RgbImage } from "./image.ts";
import {
  applyTransform,
  denormalizeToRgb,
  testTransformConfig,
  trainTransformConfig,
} from "./transforms.ts";
import { Rng } from "../util/random.ts";

const GAP = 4;

/** Tiles equally sized images into rows x columns with a grey gap. */
export function tileImages(cells: RgbImage[][]): RgbImage {
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

/** Options of {@link augmentationGrid}. */
export interface AugmentationGridOptions {
  /** Output height of each cell. */
  height: number;
  /** Output width of each cell. */
  width: number;
  /** Training draws per image. */
  draws: number;
  /** Seed of the draws (draw d of row r uses `Rng(seed, r, d)`). */
  seed: number;
}

/**
 * The grid of `images` (one row each) and, per row, what each draw did
 * (`WxH@x,y` crop or `resize`, then ` flip` and ` erase` when drawn).
 */
export function augmentationGrid(
  images: readonly RgbImage[],
  opts: AugmentationGridOptions,
): { grid: RgbImage; notes: string[][] } {
  const size = { height: opts.height, width: opts.width };
  const train = trainTransformConfig(size), test = testTransformConfig(size);
  const rows: RgbImage[][] = [];
  const notes: string[][] = [];
  images.forEach((img, r) => {
    const row = [denormalizeToRgb(applyTransform(img, test).out, test)];
    const rowNotes: string[] = [];
    for (let d = 0; d < opts.draws; d++) {
      const { out, draws } = applyTransform(img, train, new Rng(opts.seed, r, d));
      row.push(denormalizeToRgb(out, train));
      const c = draws.crop;
      rowNotes.push(
        (c ? `${c.width}x${c.height}@${c.x},${c.y}` : "resize") + (draws.flipped ? " flip" : "") +
          (draws.erased ? " erase" : ""),
      );
    }
    rows.push(row);
    notes.push(rowNotes);
  });
  return { grid: tileImages(rows), notes };
}
