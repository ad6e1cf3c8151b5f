// BMP files (as VIPeR ships) decode to Pillow's pixels: 1/4/8-bit palettes, 24-bit, 32-bit
// BI_BITFIELDS, bottom-up and top-down; unsupported kinds and truncation fail naming the file.
import assert from "node:assert";
import { decodeImage } from "../src/data/image.ts";
import { decodeBmp } from "../src/data/bmp.ts";
import { PYTHON, runOracleJson } from "./oracle/oracle.ts";

let havePil = false;
try {
  havePil = new Deno.Command(PYTHON, { args: ["-c", "import PIL"], stderr: "null" })
    .outputSync().success;
} catch {
  // no Python
}
if (!havePil) {
  console.warn(`bmp_test: ${PYTHON} cannot import PIL; the Pillow test is skipped`);
}

Deno.test({
  name: "BMP: every kind Pillow writes decodes to Pillow's RGB pixels",
  ignore: !havePil,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "ecn_bmp_" });
    try {
      const { files } = await runOracleJson<{ files: [string, number, number][] }>(
        "bmp_reference.py",
        { dir },
      );
      assert.ok(files.length >= 7);
      for (const [name, w, h] of files) {
        const img = decodeImage(await Deno.readFile(`${dir}/${name}.bmp`), `${name}.bmp`);
        assert.deepStrictEqual([img.width, img.height], [w, h], name);
        const want = await Deno.readFile(`${dir}/${name}.rgb`);
        assert.ok(img.data.every((v, i) => v === want[i]), `${name}: pixels differ from Pillow's`);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("BMP: truncated, compressed and 16-bit files are refused with the file's name", () => {
  const header = (bpp: number, compression: number, w = 2, h = 2) => {
    const b = new Uint8Array(54 + 64);
    const dv = new DataView(b.buffer);
    b.set([0x42, 0x4d]);
    dv.setUint32(10, 54, true);
    dv.setUint32(14, 40, true);
    dv.setInt32(18, w, true);
    dv.setInt32(22, h, true);
    dv.setUint16(26, 1, true);
    dv.setUint16(28, bpp, true);
    dv.setUint32(30, compression, true);
    return b;
  };
  assert.strictEqual(decodeBmp(header(24, 0), "ok.bmp").data.length, 12);
  assert.throws(() => decodeBmp(header(8, 1), "rle.bmp"), /rle\.bmp: compressed BMP/);
  assert.throws(() => decodeBmp(header(16, 0), "hi.bmp"), /hi\.bmp: unsupported 16-bit BMP/);
  assert.throws(() => decodeBmp(header(24, 0, 100, 100), "big.bmp"), /big\.bmp: truncated pixel/);
  assert.throws(() => decodeBmp(header(24, 0, 0, 2), "zero.bmp"), /zero\.bmp: bad BMP size 0x2/);
  assert.throws(() => decodeBmp(new Uint8Array([0x42, 0x4d, 1]), "t.bmp"), /t\.bmp: not a BMP/);
});
