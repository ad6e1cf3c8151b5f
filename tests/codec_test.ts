/**
 * The image codecs (libjpeg-turbo and libpng in build/libecn_image.so) against Pillow, which uses
 * the same libraries: decoded pixels must be equal byte for byte, on fixtures in every layout and
 * on every image of the data sets present; encodeJpeg must write Pillow's bytes; bad input must
 * give an error naming the file, never a crash.
 *
 * Data sets: cuhk03d from ../shared/data (every image); Market-1501 and DukeMTMC-reID from
 * `$ECN_DATA_ROOT` or `<repo>/../data` (market1501/, dukemtmc/): a deterministic sample of
 * 2,000 images each plus every file whose JPEG layout is not the common baseline 4:2:0 one
 * (`ECN_CODEC_FULL=1` checks all of them).
 */
import assert from "node:assert";
import { createHash } from "node:crypto";
import { decodeImage, encodeJpeg, encodePng, type RgbImage } from "../src/data/image.ts";
import { codecVersions, nativeDecodeJpeg } from "../src/data/codec_native.ts";
import { Rng } from "../src/util/random.ts";
import { oracleAvailable, oracleTest, runOracleJson } from "./oracle/oracle.ts";

const REPO = new URL("../", import.meta.url).pathname;
const CUHK03D = new URL("../../shared/data/cuhk03d/", import.meta.url).pathname;
const SAMPLES = new URL("../../shared/weights/samples/", import.meta.url).pathname;
const DATA_ROOT = Deno.env.get("ECN_DATA_ROOT") ?? new URL("../../data/", import.meta.url).pathname;
const FULL = Deno.env.get("ECN_CODEC_FULL") === "1";

interface WireImage {
  width: number;
  height: number;
  data: string;
}

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

/** "" when `ours` equals PIL's pixels byte for byte, else what differs. */
function difference(ours: RgbImage, ref: WireImage): string {
  if (ours.width !== ref.width || ours.height !== ref.height) {
    return `size ${ours.width}x${ours.height}, PIL ${ref.width}x${ref.height}`;
  }
  const want = unb64(ref.data);
  let max = 0, n = 0;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(want[i] - ours.data[i]);
    if (d) n++;
    if (d > max) max = d;
  }
  return n ? `max diff ${max}, ${n}/${want.length} values differ` : "";
}

/** Noise over a smooth gradient. */
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

// --- the library ---------------------------------------------------------------------------

Deno.test("the codec library is libjpeg-turbo and libpng", () => {
  const v = codecVersions();
  assert.ok(/^libjpeg-turbo \d+\.\d+\.\d+, libpng 1\.6\.\d+$/.test(v), v);
});

Deno.test("a missing codec library is a clear error naming ECN_IMAGE_LIB's path", async () => {
  const deno = Deno.execPath();
  // As every command: src/cli/env.ts reads ECN_IMAGE_LIB and configures the codec.
  const code = `import { decodeImage } from "${REPO}src/data/image.ts";
    import { configureFromEnv } from "${REPO}src/cli/env.ts";
    configureFromEnv();
    try { decodeImage(new Uint8Array([0xff, 0xd8, 0xff, 0]), "x.jpg"); }
    catch (e) { console.log(e.message); }`;
  const out = await new Deno.Command(deno, {
    args: ["eval", code],
    env: { ECN_IMAGE_LIB: "/nonexistent/libecn_image.so" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  assert.ok(
    text.includes("cannot load the image codec library from /nonexistent/libecn_image.so") &&
      text.includes("deno task build"),
    text + new TextDecoder().decode(out.stderr),
  );
});

Deno.test("loader workers need no libtorch: the worker's module graph stays off src/ffi", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", `${REPO}src/data/loader_worker.ts`],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    modules: { specifier: string }[];
  };
  const specs = info.modules.map((m) => m.specifier);
  assert.ok(specs.some((s) => s.endsWith("/src/data/codec_native.ts")), "codec_native.ts not used");
  const torch = specs.filter((s) => /\/src\/(ffi|tensor|nn)\//.test(s));
  assert.ok(torch.length === 0, `the worker imports libtorch code: ${torch.join(", ")}`);
});

// --- fixtures from Pillow ------------------------------------------------------------------

oracleTest(
  "JPEG in every layout (progressive, gray, CMYK, restart intervals...) equals Pillow",
  async () => {
    const { results } = await runOracleJson<{
      results: { name: string; bytes: string; pixels: WireImage }[][];
    }>("codec_reference.py", {
      cases: [
        { op: "jpeg_make", width: 53, height: 101, seed: 3 },
        { op: "jpeg_make", width: 64, height: 128, seed: 4 },
      ],
    });
    const bad: string[] = [];
    let progressive = 0, gray = 0, cmyk = 0;
    for (const set of results) {
      for (const { name, bytes, pixels } of set) {
        const jpg = unb64(bytes);
        const d = difference(decodeImage(jpg, name), pixels);
        if (d) bad.push(`${name}: ${d}`);
        const { detail } = nativeDecodeJpeg(jpg, name);
        assert.ok((detail[1] === 1) === name.includes("progressive"), `${name}: progressive flag`);
        assert.ok(layout(jpg).includes("restart") === name.includes("restart"), `${name}: DRI`);
        if (detail[1]) progressive++;
        if (detail[0] === 1) gray++;
        if (detail[0] === 4) cmyk++;
      }
    }
    assert.ok(bad.length === 0, `differs from Pillow:\n${bad.join("\n")}`);
    assert.ok(progressive === 8 && gray === 10 && cmyk === 4, `${progressive} ${gray} ${cmyk}`);
  },
);

oracleTest(
  "PNG in every 8-bit-or-less layout (palette, tRNS, low-bit, Adam7) equals Pillow; 16-bit is refused",
  async () => {
    const { results } = await runOracleJson<{
      results: { mode: string; bytes: string; pixels?: WireImage }[][];
    }>("codec_reference.py", { cases: [{ op: "png_make", width: 37, height: 23, seed: 4 }] });
    const modes: string[] = [];
    for (const { mode, bytes, pixels } of results[0]) {
      const path = `pil_${mode}.png`;
      if (!pixels) {
        assert.throws(
          () => decodeImage(unb64(bytes), path),
          /pil_I;16\.png: unsupported PNG bit depth 16 for color type 0 \(gray\)/,
        );
        continue;
      }
      const d = difference(decodeImage(unb64(bytes), path), pixels);
      assert.ok(d === "", `${mode}: ${d}`);
      modes.push(mode);
    }
    assert.ok(modes.length === 15, modes.join(", "));
  },
);

oracleTest("encodeJpeg writes Pillow's bytes (img.save(f, 'JPEG', quality=q))", async () => {
  const images: [string, RgbImage][] = [
    ["64x128", testImage(64, 128, 1)],
    ["1x1", testImage(1, 1, 2)],
    ["17x9", testImage(17, 9, 3)],
    ["255x31", testImage(255, 31, 4)],
  ];
  try {
    const names = [...Deno.readDirSync(`${CUHK03D}bounding_box_train`)].map((e) => e.name).sort();
    for (const n of names.slice(0, 3)) {
      images.push([n, decodeImage(Deno.readFileSync(`${CUHK03D}bounding_box_train/${n}`), n)]);
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    console.warn(`codec_test: ${CUHK03D} absent; encoder checked on synthetic images only`);
  }
  const qualities = [1, 10, 50, 75, 90, 95, 100];
  const { results } = await runOracleJson<{ results: string[][] }>("codec_reference.py", {
    cases: images.map(([, img]) => ({
      op: "jpeg_save",
      image: { ...img, data: b64(img.data) },
      qualities,
    })),
  });
  images.forEach(([name, img], i) => {
    qualities.forEach((q, k) => {
      const ours = encodeJpeg(img, q);
      const theirs = unb64(results[i][k]);
      assert.ok(
        ours.length === theirs.length && ours.every((b, j) => b === theirs[j]),
        `${name} q${q}: ${ours.length} bytes, Pillow's ${theirs.length}, contents differ`,
      );
    });
  });
  // The default quality is 90.
  const img = images[0][1];
  assert.ok(encodeJpeg(img).every((b, j) => b === encodeJpeg(img, 90)[j]), "default quality");
});

oracleTest("Pillow reads encodePng output exactly; PNG round-trips", async () => {
  const imgs = [testImage(33, 17, 9), testImage(1, 1, 3), testImage(64, 128, 5)];
  const { results } = await runOracleJson<{ results: WireImage[] }>("codec_reference.py", {
    cases: imgs.map((img) => ({ op: "read", bytes: b64(encodePng(img)) })),
  });
  imgs.forEach((img, i) => {
    assert.ok(difference(img, results[i]) === "", `Pillow: ${difference(img, results[i])}`);
    const back = decodeImage(encodePng(img), "roundtrip.png");
    assert.ok(difference(back, results[i]) === "", "round trip");
  });
});

// --- data sets -----------------------------------------------------------------------------

/** All image files under `dir` (recursively), sorted; [] when absent. */
function listImages(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of Deno.readDirSync(d)) {
      if (e.isDirectory) walk(`${d}/${e.name}`);
      else if (/\.(jpe?g|png)$/i.test(e.name)) out.push(`${d}/${e.name}`);
    }
  };
  try {
    walk(dir.replace(/\/$/, ""));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
  return out.sort();
}

/**
 * The JPEG layout of a file from its markers: "baseline 3c 2x2,1x1,1x1" for the common one;
 * anything else (progressive, gray, other sampling, restart intervals, Adobe, PNG) is unusual.
 */
function layout(bytes: Uint8Array): string {
  if (bytes[0] !== 0xff || bytes[1] !== 0xd8) return "not JPEG";
  let i = 2, sof = "", extra = "";
  while (i + 4 <= bytes.length && bytes[i] === 0xff) {
    const m = bytes[i + 1];
    if (m === 0xff) {
      i++;
      continue;
    }
    const len = (bytes[i + 2] << 8) | bytes[i + 3];
    if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) {
      const n = bytes[i + 9];
      const samp = [];
      for (let k = 0; k < n; k++) {
        const s = bytes[i + 11 + 3 * k];
        samp.push(`${s >> 4}x${s & 15}`);
      }
      sof = `${m === 0xc0 ? "baseline" : `SOF${m - 0xc0}`} ${n}c ${samp.join(",")}`;
    } else if (m === 0xdd && ((bytes[i + 4] << 8) | bytes[i + 5]) > 0) extra += " restart";
    else if (m === 0xee) extra += " Adobe";
    if (m === 0xda) break;
    i += 2 + len;
  }
  return sof + extra;
}

const COMMON = "baseline 3c 2x2,1x1,1x1";

/**
 * Decodes `paths` and compares SHA-256 of the RGB bytes with Pillow's (in chunks, one Python
 * process each); returns how many files had each layout.
 */
async function compareWithPillow(paths: string[]): Promise<Map<string, number>> {
  const layouts = new Map<string, number>();
  const bad: string[] = [];
  for (let s = 0; s < paths.length; s += 4000) {
    const chunk = paths.slice(s, s + 4000);
    const { results } = await runOracleJson<{ results: [number, number, string][][] }>(
      "codec_reference.py",
      { cases: [{ op: "hash", paths: chunk }] },
    );
    chunk.forEach((p, i) => {
      const bytes = Deno.readFileSync(p);
      const kind = layout(bytes);
      layouts.set(kind, (layouts.get(kind) ?? 0) + 1);
      const img = decodeImage(bytes, p);
      const [w, h, sha] = results[0][i];
      const ours = createHash("sha256").update(img.data).digest("hex");
      if (img.width !== w || img.height !== h || ours !== sha) {
        bad.push(`${p} (${kind}): ${img.width}x${img.height}, Pillow ${w}x${h}`);
      }
    });
  }
  assert.ok(
    bad.length === 0,
    `${bad.length} files differ from Pillow:\n${bad.slice(0, 20).join("\n")}`,
  );
  return layouts;
}

function report(what: string, n: number, layouts: Map<string, number>): void {
  const kinds = [...layouts].map(([k, v]) => `${v} ${k}`).join("; ");
  console.log(`codec_test: ${what}: ${n} images equal Pillow's pixels (${kinds})`);
}

const cuhkFiles = [
  ...listImages(`${CUHK03D}bounding_box_train`),
  ...listImages(`${CUHK03D}bounding_box_test`),
  ...listImages(`${CUHK03D}query`),
];
if (cuhkFiles.length === 0) console.warn(`codec_test: ${CUHK03D} is absent; its test is skipped`);

oracleTest(
  "every cuhk03d image (and the shared sample photos) decodes to Pillow's pixels",
  async () => {
    if (cuhkFiles.length === 0) return;
    const files = [...cuhkFiles, ...listImages(SAMPLES)];
    report("cuhk03d + samples", files.length, await compareWithPillow(files));
  },
);

for (const [name, dir] of [["Market-1501", "market1501"], ["DukeMTMC-reID", "dukemtmc"]]) {
  const root = `${DATA_ROOT.replace(/\/$/, "")}/${dir}`;
  const all = listImages(root);
  if (all.length === 0) {
    console.warn(
      `codec_test: ${root} is absent (set ECN_DATA_ROOT to the folder holding ${dir}/); ` +
        `the ${name} test is skipped`,
    );
  }
  Deno.test({
    name: `${name}: ${FULL ? "every image" : "2,000 images and every unusual one"} ` +
      `decode to Pillow's pixels`,
    ignore: all.length === 0 || !oracleAvailable(),
    async fn() {
      let files = all;
      if (!FULL) {
        // Every k-th file of the sorted list, plus every file with an unusual layout.
        const step = Math.max(1, Math.floor(all.length / 2000));
        files = all.filter((p, i) => i % step === 0 || layout(Deno.readFileSync(p)) !== COMMON);
      }
      report(`${name} (${FULL ? "all" : "sample"})`, files.length, await compareWithPillow(files));
    },
  });
}

// --- bad input -----------------------------------------------------------------------------

Deno.test("decodeImage errors name the path and what was expected", () => {
  const png = encodePng(testImage(8, 8, 1));
  const jpg = encodeJpeg(testImage(32, 32, 1), 90);
  const cases: [Uint8Array, string, RegExp][] = [
    [png.subarray(0, png.length - 20), "a/trunc.png", /^a\/trunc\.png: truncated PNG/],
    [jpg.subarray(0, 200), "b/trunc.jpg", /^b\/trunc\.jpg: truncated JPEG/],
    [jpg.subarray(0, jpg.length - 2), "b/noeoi.jpg", /^b\/noeoi\.jpg: truncated JPEG/],
    [new Uint8Array(0), "c/empty.jpg", /^c\/empty\.jpg: unsupported image format.*<empty file>/],
    [new TextEncoder().encode("GIF89a..."), "d.gif", /^d\.gif: unsupported image format.*JPEG/],
    [Uint8Array.of(0xff, 0xd8, 0xff), "e.jpg", /^e\.jpg: truncated JPEG/],
    [Uint8Array.of(0xff, 0xd8, 0xff, 0xd9), "f.jpg", /^f\.jpg: unreadable JPEG \(libjpeg: /],
  ];
  // 12-bit samples: libjpeg-turbo's 8-bit API (and so Pillow) refuses them.
  const p12 = jpg.slice();
  const sof = p12.findIndex((b, i) => b === 0xff && p12[i + 1] === 0xc0);
  p12[sof + 4] = 12;
  cases.push([
    p12,
    "p12.jpg",
    /^p12\.jpg: unreadable JPEG \(libjpeg: Unsupported JPEG data precision 12\)/,
  ]);
  for (const [bytes, path, re] of cases) {
    assert.throws(() => decodeImage(bytes, path), { message: re });
  }
  // A flipped byte inside the header chunk is caught by its CRC.
  const bad = png.slice();
  assert.ok(new TextDecoder().decode(bad.subarray(12, 16)) === "IHDR", "layout");
  bad[18] ^= 0xff;
  assert.throws(() => decodeImage(bad, "g.png"), {
    message: /^g\.png: corrupt PNG \(CRC mismatch/,
  });
});

Deno.test("truncated or corrupted files never crash: every cut and 2,000 byte flips", () => {
  const jpg = encodeJpeg(testImage(48, 40, 3), 90);
  const png = encodePng(testImage(20, 10, 3));
  for (const [file, name] of [[jpg, "cut.jpg"], [png, "cut.png"]] as const) {
    for (let n = 3; n < file.length; n += 7) {
      assert.throws(
        () => decodeImage(file.subarray(0, n), name),
        { message: /^cut\.(jpg|png): (truncated|unreadable|corrupt|unsupported) / },
      );
    }
  }
  // Flips give an error naming the file or an image of the right size (libjpeg, like Pillow,
  // decodes some corrupt entropy data); either way the process survives.
  const rng = new Rng(7);
  let failed = 0;
  for (let t = 0; t < 2000; t++) {
    const [file, name] = t % 2 ? [jpg, "flip.jpg"] : [png, "flip.png"];
    const b = file.slice();
    for (let k = 0; k < 1 + (t % 4); k++) b[rng.int(2, b.length - 1)] ^= 1 << rng.int(0, 7);
    try {
      const img = decodeImage(b, name);
      assert.ok(img.data.length === img.width * img.height * 3, "size");
    } catch (e) {
      assert.ok(e instanceof Error && e.message.startsWith(`${name}: `), String(e));
      failed++;
    }
  }
  assert.ok(failed > 0, "no flip was caught");
});

Deno.test("encoder input is checked", () => {
  const img = testImage(8, 8, 1);
  for (const q of [0, 101, 50.5, NaN]) {
    assert.throws(() => encodeJpeg(img, q), /encodeJpeg: quality must be an integer in 1\.\.100/);
  }
  assert.throws(
    () => encodeJpeg({ width: 8, height: 8, data: new Uint8Array(10) }, 90),
    /encodeJpeg: expected an RGB image.*8x8 with 10 bytes/,
  );
  assert.throws(
    () => encodePng({ width: 0, height: 8, data: new Uint8Array(0) }),
    /encodePng: expected an RGB image/,
  );
  assert.throws(
    () => encodeJpeg({ width: 70000, height: 1, data: new Uint8Array(210000) }, 90),
    /encodeJpeg: JPEG sides are at most 65500 pixels/,
  );
});
