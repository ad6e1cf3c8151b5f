import assert from "node:assert";
import {
  decodeImage,
  encodeJpeg,
  encodePng,
  readImage,
  resample,
  type ResampleFilter,
  resizeBicubic,
  resizeBilinear,
  type RgbImage,
} from "../src/data/image.ts";
import { Rng } from "../src/util/random.ts";
import { oracleTest, runOracleJson } from "./oracle/oracle.ts";

function b64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

function unb64(s: string): Uint8Array {
  return Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
}

interface WireImage {
  width: number;
  height: number;
  data: string;
}

const wire = (img: RgbImage): WireImage => ({ ...img, data: b64(img.data) });
const unwire = (w: WireImage): RgbImage => ({ ...w, data: unb64(w.data) });

/** Noise over a smooth gradient: hard for resampling (every rounding shows). */
function testImage(width: number, height: number, seed: number): RgbImage {
  const rng = new Rng(seed);
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) {
        const base = (x * 255) / width * (c === 0 ? 1 : 0.5) + (y * 255) / height * (c / 2);
        data[(y * width + x) * 3 + c] = Math.max(0, Math.min(255, base + rng.int(-60, 60)));
      }
    }
  }
  return { width, height, data };
}

function maxAbsDiff(a: Uint8Array, b: Uint8Array): number {
  assert.deepStrictEqual(a.length, b.length, "lengths differ");
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

Deno.test("encodePng/decodeImage round-trips exactly", () => {
  for (const [w, h] of [[1, 1], [7, 3], [64, 128]]) {
    const img = testImage(w, h, w * 31 + h);
    const back = decodeImage(encodePng(img), "roundtrip.png");
    assert.deepStrictEqual(back.width, w);
    assert.deepStrictEqual(back.height, h);
    assert.strictEqual(maxAbsDiff(back.data, img.data), 0);
  }
});

Deno.test("encodeJpeg output decodes close to the original", () => {
  // Smooth content: JPEG at quality 95 must stay within a few levels on average.
  const img = resizeBilinear(testImage(16, 32, 3), 64, 128);
  const back = decodeImage(encodeJpeg(img, 95), "q95.jpg");
  assert.deepStrictEqual([back.width, back.height], [64, 128]);
  let sum = 0;
  for (let i = 0; i < img.data.length; i++) sum += Math.abs(img.data[i] - back.data[i]);
  const mean = sum / img.data.length;
  // 4:2:0 chroma subsampling (Pillow's default) costs about 5 levels here: Pillow's own q95 file scores 4.90.
  assert.ok(mean < 6, `mean abs error ${mean} too large for quality 95`);
});

Deno.test("readImage names a missing file", async () => {
  let msg = "";
  try {
    await readImage("/nonexistent/dir/x.jpg");
  } catch (e) {
    msg = (e as Error).message;
  }
  assert.ok(msg.startsWith("/nonexistent/dir/x.jpg: cannot read image file"), msg);
});

Deno.test("resample: identity, flip and crop are exact; sizes checked", () => {
  const img = testImage(20, 30, 5);
  for (const f of ["bilinear", "bicubic"] as ResampleFilter[]) {
    assert.deepStrictEqual(resample(img, 20, 30, f).data, img.data);
    const flipped = resample(img, 20, 30, f, { flip: true });
    for (let y = 0; y < 30; y++) {
      for (let x = 0; x < 20; x++) {
        for (let c = 0; c < 3; c++) {
          assert.deepStrictEqual(
            flipped.data[(y * 20 + x) * 3 + c],
            img.data[(y * 20 + 19 - x) * 3 + c],
          );
        }
      }
    }
    const crop = resample(img, 5, 7, f, { crop: { x: 3, y: 4, width: 5, height: 7 } });
    for (let y = 0; y < 7; y++) {
      for (let i = 0; i < 15; i++) {
        assert.deepStrictEqual(crop.data[y * 15 + i], img.data[(y + 4) * 60 + 9 + i]);
      }
    }
  }
  assert.throws(
    () => resample(img, 5, 5, "bilinear", { crop: { x: 18, y: 0, width: 5, height: 5 } }),
    /not inside the 20x30 image/,
  );
  assert.throws(() => resizeBilinear(img, 0, 4), /positive integer output size/);
});

oracleTest("resample equals PIL resize (bilinear/bicubic, up/down, crop, flip)", async () => {
  const big = testImage(97, 203, 11);
  const small = testImage(64, 128, 12);
  interface Case {
    image: RgbImage;
    width: number;
    height: number;
    filter: ResampleFilter;
    crop?: [number, number, number, number];
    flip?: number;
  }
  const cases: Case[] = [
    { image: small, width: 128, height: 256, filter: "bilinear" },
    { image: small, width: 128, height: 256, filter: "bicubic" },
    { image: big, width: 64, height: 128, filter: "bilinear" },
    { image: big, width: 64, height: 128, filter: "bicubic" },
    { image: big, width: 40, height: 250, filter: "bicubic" },
    { image: small, width: 128, height: 256, filter: "bilinear", crop: [5, 9, 51, 113] },
    { image: small, width: 128, height: 256, filter: "bilinear", crop: [0, 3, 44, 125], flip: 1 },
    { image: big, width: 32, height: 64, filter: "bicubic", crop: [10, 20, 60, 150], flip: 1 },
  ];
  const { results } = await runOracleJson<{ results: WireImage[] }>(
    "transforms_reference.py",
    { cases: cases.map((c) => ({ ...c, op: "resize", image: wire(c.image) })) },
  );
  cases.forEach((c, i) => {
    const [x, y, width, height] = c.crop ?? [0, 0, c.image.width, c.image.height];
    const ours = resample(c.image, c.width, c.height, c.filter, {
      crop: { x, y, width, height },
      flip: c.flip === 1,
    });
    const ref = unwire(results[i]);
    // Same fixed-point algorithm as Pillow, so no rounding difference is expected.
    assert.strictEqual(maxAbsDiff(ours.data, ref.data), 0, `case ${i}: ${JSON.stringify(c.crop)}`);
  });
  assert.deepStrictEqual(
    resizeBicubic(small, 128, 256).data,
    resample(small, 128, 256, "bicubic").data,
  );
});
