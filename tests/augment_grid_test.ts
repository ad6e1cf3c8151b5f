// The augmentation picture of `src/cli/augment_grid.ts`: one row per image (the test transform,
// then the training draws) with a grey gap, one note per draw, the same for the same seed.
import assert from "node:assert";
import { augmentationGrid } from "../src/data/augment_grid.ts";
import type { RgbImage } from "../src/data/image.ts";
import { mulberry32 } from "../src/util/random.ts";

function noise(width: number, height: number, seed: number): RgbImage {
  const rnd = mulberry32(seed);
  return {
    width,
    height,
    data: Uint8Array.from({ length: width * height * 3 }, () => rnd() * 256),
  };
}

Deno.test("augmentationGrid: rows of test + draws, a note per draw, repeatable", () => {
  const images = [noise(40, 90, 1), noise(30, 70, 2)];
  const opts = { height: 32, width: 16, draws: 3, seed: 5 };
  const { grid, notes } = augmentationGrid(images, opts);
  assert.strictEqual(grid.width, 4 * 16 + 5 * 4);
  assert.strictEqual(grid.height, 2 * 32 + 3 * 4);
  assert.strictEqual(grid.data.length, grid.width * grid.height * 3);
  assert.deepStrictEqual(grid.data.subarray(0, 3), new Uint8Array([128, 128, 128]), "grey gap");
  assert.deepStrictEqual(notes.map((r) => r.length), [3, 3]);
  for (const n of notes.flat()) assert.match(n, /^(\d+x\d+@\d+,\d+|resize)( flip)?( erase)?$/);
  const again = augmentationGrid(images, opts);
  assert.deepStrictEqual(again.notes, notes);
  assert.ok(again.grid.data.every((v, i) => v === grid.data[i]), "same seed, same pixels");
});
