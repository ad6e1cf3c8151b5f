import { existsSync } from "node:fs";
import assert from "node:assert";
import { loadReidDataset } from "../src/data/datasets.ts";
import {
  adjustSharpness,
  backgroundIndex,
  camStyleFileName,
  CamStyleIndex,
  camStyleNamingFor,
  fitSharpness,
  generateCamStyle,
  labToRgb,
  learnCameraStyles,
  personMask,
  rgbToLab,
  sharpnessOf,
  transferBackground,
  transferStyle,
} from "../src/data/camstyle.ts";
import { encodePng, readImage, type RgbImage } from "../src/data/image.ts";
import { mulberry32 } from "../src/util/random.ts";
import { main as camstyleMain } from "../src/cli/camstyle.ts";

/** A textured image whose colours depend on the camera: cam 0 warm and bright, cam 1 cool and dark. */
function cameraImage(cam: number, seed: number): RgbImage {
  const r = mulberry32(seed);
  const w = 16, h = 32;
  const data = new Uint8Array(w * h * 3);
  const base = cam === 0 ? [200, 140, 90] : [40, 60, 110];
  const spread = cam === 0 ? 50 : 20;
  for (let i = 0; i < w * h; i++) {
    const t = r() * 2 - 1;
    for (let c = 0; c < 3; c++) {
      data[3 * i + c] = Math.max(0, Math.min(255, Math.round(base[c] + spread * t + 8 * r())));
    }
  }
  return { width: w, height: h, data };
}

/** Market-layout folder: 2 cameras, 3 train images each (PNG), 1 query, 1 gallery. */
function makeDataset(): string {
  const root = Deno.makeTempDirSync({ prefix: "ecn_cs_" });
  for (const d of ["bounding_box_train", "query", "bounding_box_test"]) {
    Deno.mkdirSync(`${root}/${d}`);
  }
  let seed = 1;
  for (const cam of [0, 1]) {
    for (let k = 0; k < 3; k++) {
      const name = `000${k + 1}_c${cam + 1}s1_00000${k}_00.png`;
      Deno.writeFileSync(`${root}/bounding_box_train/${name}`, encodePng(cameraImage(cam, seed++)));
    }
  }
  Deno.writeFileSync(`${root}/query/0009_c1s1_000001_00.png`, encodePng(cameraImage(0, 99)));
  Deno.writeFileSync(
    `${root}/bounding_box_test/0009_c2s1_000001_00.png`,
    encodePng(cameraImage(1, 98)),
  );
  return root;
}

function meanRgb(img: RgbImage): number[] {
  const m = [0, 0, 0];
  for (let i = 0; i < img.data.length; i++) m[i % 3] += img.data[i];
  return m.map((v) => v / (img.width * img.height));
}

function dist(a: number[], b: number[]): number {
  return Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);
}

Deno.test("CamStyle file names follow the reference (1-based cameras)", () => {
  assert.deepStrictEqual(
    camStyleFileName("0002_c1s1_000451_03", 0, 4, "pair"),
    "0002_c1s1_000451_03_fake_1to5.jpg",
  );
  assert.deepStrictEqual(
    camStyleFileName("0000_000_01_0303morning_0015_0", 0, 14, "target"),
    "0000_000_01_0303morning_0015_0_fake_15.jpg",
  );
});

Deno.test("lookup: own camera gives the original, others the copy; draws are uniform", () => {
  const root = makeDataset();
  const ds = loadReidDataset(root, { quiet: true });
  assert.strictEqual(camStyleNamingFor(ds), "pair");
  Deno.removeSync(root, { recursive: true });
  const index = new CamStyleIndex(ds, { dir: "/elsewhere/cs" });
  const item = ds.train[0]; // camera 0
  assert.deepStrictEqual(index.pathFor(item, 0), item.path);
  assert.strictEqual(index.pathFor(item, 1), `/elsewhere/cs/0001_c1s1_000000_00_fake_1to2.jpg`);
  assert.strictEqual(new CamStyleIndex(ds).dir, `${root}/bounding_box_train_camstyle`);
  const msmt = new CamStyleIndex(ds, { dir: "/x", naming: "target" });
  assert.strictEqual(msmt.pathFor(item, 1), "/x/0001_c1s1_000000_00_fake_2.jpg");
  const rng = mulberry32(7);
  let own = 0;
  const n = 4000;
  for (let i = 0; i < n; i++) if (index.pickCamStyle(item, rng) === item.path) own++;
  assert.ok(Math.abs(own / n - 0.5) < 0.03, `own-camera share ${own / n}, expected about 1/2`);
  let threw = false;
  try {
    index.pathFor(item, 2);
  } catch (e) {
    threw = (e as Error).message.includes("out of range 0..1");
  }
  assert.ok(threw, "camera 2 of 2 must be rejected");
});

Deno.test("check(): missing copies are reported once, with count and pattern", () => {
  const root = makeDataset();
  const ds = loadReidDataset(root, { quiet: true });
  const dir = `${root}/cs`;
  Deno.mkdirSync(dir);
  const index = new CamStyleIndex(ds, { dir });
  // Provide all but two of the six needed copies.
  const needed = ds.train.map((it) => index.pathFor(it, 1 - it.cam));
  for (const p of needed.slice(2)) Deno.writeFileSync(p, new Uint8Array(0));
  let msg = "";
  try {
    index.check();
  } catch (e) {
    msg = (e as Error).message;
  }
  assert.ok(msg.includes("2 of 6 expected files"), msg);
  assert.ok(msg.includes(`${dir}/{stem}_fake_{c}to{c'}.jpg`), msg);
  assert.ok(msg.includes(needed[0]), msg);
  assert.ok(msg.includes("deno task camstyle"), msg);
  const report = index.check({ throwOnMissing: false });
  assert.deepStrictEqual(report.missing, needed.slice(0, 2));
  for (const p of needed.slice(0, 2)) Deno.writeFileSync(p, new Uint8Array(0));
  // The report is cached; a fresh index sees the completed folder.
  assert.strictEqual(index.check({ throwOnMissing: false }).missing.length, 2);
  assert.strictEqual(new CamStyleIndex(ds, { dir }).check().missing.length, 0);
  const absent = new CamStyleIndex(ds, { dir: `${root}/nope` }).check({ throwOnMissing: false });
  assert.strictEqual(absent.missing.length, 6);
  Deno.removeSync(root, { recursive: true });
});

Deno.test("l-alpha-beta round trip is within one level", () => {
  const img = cameraImage(0, 3);
  img.data[0] = 0;
  img.data[1] = 0;
  img.data[2] = 0;
  img.data[3] = 255;
  img.data[4] = 255;
  img.data[5] = 255;
  const back = labToRgb(rgbToLab(img), img.width, img.height);
  let worst = 0;
  for (let i = 0; i < img.data.length; i++) {
    worst = Math.max(worst, Math.abs(back.data[i] - img.data[i]));
  }
  assert.ok(worst <= 1, `round-trip error ${worst}`);
});

Deno.test("generateCamStyle writes every copy and moves colours towards the target camera", async () => {
  const root = makeDataset();
  const ds = loadReidDataset(root, { quiet: true });
  const styles = await learnCameraStyles(ds);
  assert.deepStrictEqual(styles.map((s) => s.images), [3, 3]);
  const src = await readImage(ds.train[0].path); // camera 0
  const tgtMean = meanRgb(await readImage(ds.train[3].path)); // camera 1
  for (const mode of ["quantile", "reinhard"] as const) {
    const out = transferStyle(src, styles[0], styles[1], mode);
    const before = dist(meanRgb(src), tgtMean), after = dist(meanRgb(out), tgtMean);
    assert.ok(after < 0.25 * before, `${mode}: mean colour distance ${before} -> ${after}`);
  }
  const out = `${root}/generated`;
  const res = await generateCamStyle(ds, out, { quality: 95 });
  assert.strictEqual(res.written, 6);
  const names = [...Deno.readDirSync(out)].map((e) => e.name).sort();
  assert.deepStrictEqual(names, [
    "0001_c1s1_000000_00_fake_1to2.jpg",
    "0001_c2s1_000000_00_fake_2to1.jpg",
    "0002_c1s1_000001_00_fake_1to2.jpg",
    "0002_c2s1_000001_00_fake_2to1.jpg",
    "0003_c1s1_000002_00_fake_1to2.jpg",
    "0003_c2s1_000002_00_fake_2to1.jpg",
    "camstyle.json",
  ]);
  const fake = await readImage(`${out}/0001_c1s1_000000_00_fake_1to2.jpg`);
  assert.deepStrictEqual([fake.width, fake.height], [src.width, src.height]);
  assert.ok(
    dist(meanRgb(fake), tgtMean) < 0.25 * dist(meanRgb(src), tgtMean),
    "written copy not moved",
  );
  assert.strictEqual(new CamStyleIndex(ds, { dir: out }).check().missing.length, 0);
  // A second run keeps what exists (resume).
  const again = await generateCamStyle(ds, out);
  assert.deepStrictEqual([again.written, again.kept], [0, 6]);
  Deno.removeSync(root, { recursive: true });
});

Deno.test("camstyle CLI refuses the shared folder and asks for --out", async () => {
  const errors: string[] = [];
  const orig = console.error;
  console.error = (...a: unknown[]) => errors.push(a.join(" "));
  try {
    // The project's ../shared beside the repository (it need not exist: the refusal comes first).
    const shared = new URL("../../shared/data/cuhk03d", import.meta.url).pathname;
    const rc = await camstyleMain(["--data", decodeURIComponent(shared)]);
    assert.strictEqual(rc, 1);
  } finally {
    console.error = orig;
  }
  assert.ok(errors.join("\n").includes("refusing to write"), errors.join("\n"));
  assert.ok(errors.join("\n").includes("--out"), errors.join("\n"));
});

Deno.test("camstyle CLI: sharpness by default, --colour-only without, not both; --background", async () => {
  const root = makeDataset();
  const [log, err] = [console.log, console.error];
  const errors: string[] = [];
  console.log = () => {};
  console.error = (...a: unknown[]) => errors.push(a.join(" "));
  try {
    const settings = (dir: string) =>
      JSON.parse(Deno.readTextFileSync(`${root}/${dir}/camstyle.json`)).sharpness;
    assert.strictEqual(await camstyleMain(["--data", root, "--out", `${root}/a`]), 0);
    assert.strictEqual(settings("a"), true);
    const colourOnly = ["--data", root, "--out", `${root}/b`, "--colour-only"];
    assert.strictEqual(await camstyleMain(colourOnly), 0);
    assert.strictEqual(settings("b"), false);
    assert.strictEqual(await camstyleMain([...colourOnly, "--sharpness"]), 2);
    assert.strictEqual(
      await camstyleMain(["--data", root, "--out", `${root}/c`, "--background"]),
      0,
    );
    const c = JSON.parse(Deno.readTextFileSync(`${root}/c/camstyle.json`));
    assert.deepStrictEqual([c.sharpness, c.background, c.personWidth], [true, true, 0.22]);
    assert.strictEqual(
      JSON.parse(Deno.readTextFileSync(`${root}/a/camstyle.json`)).background,
      undefined,
    );
    // The person width is recorded; it needs --background and a fraction in (0, 1].
    const narrow = ["--data", root, "--out", `${root}/d`, "--background", "--person-width"];
    assert.strictEqual(await camstyleMain([...narrow, "0.2"]), 0);
    assert.strictEqual(
      JSON.parse(Deno.readTextFileSync(`${root}/d/camstyle.json`)).personWidth,
      0.2,
    );
    assert.strictEqual(await camstyleMain([...narrow, "1.5"]), 2);
    assert.strictEqual(await camstyleMain([...narrow, "wide"]), 2);
    const noBg = ["--data", root, "--out", `${root}/e`, "--person-width", "0.2"];
    assert.strictEqual(await camstyleMain(noBg), 2);
  } finally {
    [console.log, console.error] = [log, err];
  }
  const all = errors.join("\n");
  assert.ok(all.includes("--sharpness and --colour-only"), all);
  assert.ok(
    all.includes('--person-width must be a fraction of the crop width in (0, 1], got "1.5"'),
    all,
  );
  assert.ok(all.includes('got "wide"'), all);
  assert.ok(all.includes("--person-width needs --background"), all);
  Deno.removeSync(root, { recursive: true });
});

/** A 32x16 texture of random 2x2 blocks on a gradient: sharp, with a known structure. */
function texture(seed: number): RgbImage {
  const r = mulberry32(seed);
  const w = 16, h = 32;
  const blocks = Array.from({ length: (w / 2) * (h / 2) }, () => [r(), r(), r()]);
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const b = blocks[(y >> 1) * (w / 2) + (x >> 1)];
      for (let c = 0; c < 3; c++) {
        data[3 * (y * w + x) + c] = Math.round(40 + 3 * y + 120 * b[c]);
      }
    }
  }
  return { width: w, height: h, data };
}

Deno.test("sharpness: blur lowers it, sharpening raises it, contrast leaves it", () => {
  const img = texture(5);
  const s = sharpnessOf(img);
  assert.ok(Number.isFinite(s) && s > 0, `sharpness ${s}`);
  assert.strictEqual(adjustSharpness(img, 0), img);
  let prev = 0;
  for (const a of [-2, -1, -0.5, 0, 0.5, 1, 2]) {
    const v = sharpnessOf(adjustSharpness(img, a));
    assert.ok(v > prev, `amount ${a}: sharpness ${v} not above ${prev}`);
    prev = v;
  }
  // Scale-free: halving the contrast (around 128) keeps it (up to 8-bit rounding).
  const low = { ...img, data: img.data.map((v) => Math.round(128 + (v - 128) / 2)) };
  assert.ok(Math.abs(sharpnessOf(low) / s - 1) < 0.05, `${sharpnessOf(low)} vs ${s}`);
  const flat = { width: 8, height: 8, data: new Uint8Array(8 * 8 * 3).fill(77) };
  assert.ok(Number.isNaN(sharpnessOf(flat)));
  assert.throws(() => adjustSharpness(img, -4), /sharpness adjustment -4 is outside -3\.\.3/);
});

Deno.test("fitSharpness recovers the blur or sharpening that made a target", () => {
  const samples = [1, 2, 3, 4, 5].map(texture);
  const target = (a: number) => {
    const v = samples.map((s) => sharpnessOf(adjustSharpness(s, a))).sort((x, y) => x - y);
    return v[2];
  };
  for (const a of [-1.2, -0.4, 0.6, 1.5]) {
    const got = fitSharpness(samples, target(a));
    assert.ok(Math.abs(got - a) < 0.1, `made with ${a}, fitted ${got}`);
  }
  assert.strictEqual(fitSharpness(samples, 1e-9), -3);
  assert.strictEqual(fitSharpness(samples, 1e9), 3);
  assert.strictEqual(fitSharpness(samples, NaN), 0);
});

Deno.test("generateCamStyle with sharpness blurs copies for a blurry camera and sharpens the reverse", async () => {
  const root = Deno.makeTempDirSync({ prefix: "ecn_cs_sharp_" });
  for (const d of ["bounding_box_train", "query", "bounding_box_test"]) {
    Deno.mkdirSync(`${root}/${d}`);
  }
  // Camera 1 sharp, camera 2 the same kind of scene through a blurrier lens.
  for (let k = 0; k < 4; k++) {
    const sharp = texture(10 + k), blurry = adjustSharpness(texture(20 + k), -1);
    Deno.writeFileSync(
      `${root}/bounding_box_train/000${k + 1}_c1s1_00000${k}_00.png`,
      encodePng(sharp),
    );
    Deno.writeFileSync(
      `${root}/bounding_box_train/000${k + 5}_c2s1_00000${k}_00.png`,
      encodePng(blurry),
    );
  }
  Deno.writeFileSync(`${root}/query/0009_c1s1_000001_00.png`, encodePng(texture(99)));
  Deno.writeFileSync(`${root}/bounding_box_test/0009_c2s1_000001_00.png`, encodePng(texture(98)));
  const ds = loadReidDataset(root, { quiet: true });
  const res = await generateCamStyle(ds, `${root}/out`, { sharpness: true, quality: 100 });
  assert.strictEqual(res.written, 8);
  const t = res.sharpness!;
  assert.ok(t.sharpness[0] > 1.5 * t.sharpness[1], `camera sharpness ${t.sharpness}`);
  assert.ok(Math.abs(t.amount[0][1] + 1) < 0.25, `c1 -> c2 ${t.amount[0][1]} (made with -1)`);
  assert.ok(t.amount[1][0] > 0, `c2 -> c1 ${t.amount[1][0]}`);
  const src = await readImage(ds.train.find((it) => it.cam === 0)!.path);
  const fake = await readImage(`${root}/out/0001_c1s1_000000_00_fake_1to2.jpg`);
  const [s0, s1, sf] = [t.sharpness[0], t.sharpness[1], sharpnessOf(fake)];
  assert.ok(sharpnessOf(src) > 1.5 * sf, `copy not blurred: ${sharpnessOf(src)} -> ${sf}`);
  assert.ok(
    Math.abs(sf - s1) < Math.abs(sf - s0),
    `copy ${sf} nearer camera 1 (${s0}) than 2 (${s1})`,
  );
  // The default transfers sharpness too; colour only leaves it as it was.
  const byDefault = await generateCamStyle(ds, `${root}/default`, { quality: 100 });
  assert.deepStrictEqual(byDefault.sharpness, t);
  const plain = await generateCamStyle(ds, `${root}/plain`, { quality: 100, sharpness: false });
  assert.strictEqual(plain.sharpness, undefined);
  const kept = sharpnessOf(await readImage(`${root}/plain/0001_c1s1_000000_00_fake_1to2.jpg`));
  assert.ok(Math.abs(kept / sharpnessOf(src) - 1) < 0.15, `${kept} vs ${sharpnessOf(src)}`);
  Deno.removeSync(root, { recursive: true });
});

Deno.test("generateCamStyle refuses to resume a folder made with other settings", async () => {
  const root = makeDataset();
  const ds = loadReidDataset(root, { quiet: true });
  const out = `${root}/generated`;
  await generateCamStyle(ds, out, { quality: 90, sharpness: false });
  const manifest = JSON.parse(Deno.readTextFileSync(`${out}/camstyle.json`));
  assert.deepStrictEqual(manifest, {
    mode: "quantile",
    sharpness: false,
    quality: 90,
    naming: "pair",
  });
  // The default (sharpness too) does not resume a colour-only folder.
  await assert.rejects(
    () => generateCamStyle(ds, out, { quality: 90 }),
    (e: Error) =>
      e.message.includes(`${out}/camstyle.json`) && e.message.includes('"sharpness":true') &&
      e.message.includes("--overwrite"),
  );
  // Nothing was rewritten by the refused run; the same settings resume; overwrite remakes.
  const same = await generateCamStyle(ds, out, { quality: 90, sharpness: false });
  assert.deepStrictEqual(same.written, 0);
  const again = await generateCamStyle(ds, out, { quality: 90, overwrite: true });
  assert.strictEqual(again.written, 6);
  assert.strictEqual(JSON.parse(Deno.readTextFileSync(`${out}/camstyle.json`)).sharpness, true);
  // Copies without a manifest (made before it existed): their settings are unknown.
  Deno.removeSync(`${out}/camstyle.json`);
  await assert.rejects(
    () => generateCamStyle(ds, out, { quality: 90 }),
    (e: Error) => e.message.includes("6 CamStyle image(s) but no camstyle.json"),
  );
  assert.strictEqual((await generateCamStyle(ds, out, { overwrite: true })).written, 6);
  Deno.removeSync(root, { recursive: true });
});

Deno.test("personMask: the centre is the person, the sides and corners the scene", () => {
  const w = 64, h = 128, m = personMask(w, h);
  const at = (x: number, y: number) => m[y * w + x];
  assert.strictEqual(at(32, 64), 1);
  assert.strictEqual(at(31, 0), 1, "head row, centre: person");
  for (const [x, y] of [[0, 0], [63, 0], [0, 127], [63, 127], [0, 64], [63, 64]]) {
    assert.strictEqual(at(x, y), 0, `(${x}, ${y})`);
  }
  for (let x = 0; x < 31; x++) {
    assert.ok(at(x, 64) <= at(x + 1, 64), `not monotone towards the centre at x=${x}`);
    assert.strictEqual(at(x, 64), at(w - 1 - x, 64), `not symmetric at x=${x}`);
  }
  // The default half width is BACKGROUND_MASK's; a narrower ellipse gives more to the scene.
  assert.deepStrictEqual(personMask(w, h, 0.22), m);
  const narrow = personMask(w, h, 0.18);
  assert.strictEqual(narrow[64 * w + 32], 1);
  for (let x = 0; x < 32; x++) assert.ok(narrow[64 * w + x] <= m[64 * w + x], `x=${x}`);
  assert.ok(narrow[64 * w + 12] < m[64 * w + 12], "row 64, x=12: no more scene");
  assert.throws(
    () => personMask(w, h, 0),
    /half width 0: expected a fraction of the width in \(0, 1\]/,
  );
});

Deno.test("transferBackground keeps the person and takes the scene from the other image", () => {
  const img = cameraImage(0, 1), scene = cameraImage(1, 2);
  const out = transferBackground(img, scene);
  const px = (
    im: RgbImage,
    x: number,
    y: number,
  ) => [...im.data.slice(3 * (y * 16 + x), 3 * (y * 16 + x) + 3)];
  assert.deepStrictEqual(px(out, 8, 16), px(img, 8, 16));
  assert.deepStrictEqual(px(out, 0, 16), px(scene, 0, 16));
  assert.deepStrictEqual(px(out, 15, 0), px(scene, 15, 0));
  // A scene of another size is resized to the image's.
  const big = transferBackground(img, {
    width: 32,
    height: 64,
    data: new Uint8Array(32 * 64 * 3).fill(7),
  });
  assert.deepStrictEqual(px(big, 0, 0), [7, 7, 7]);
  assert.throws(() => transferBackground(img, scene, new Float32Array(3)), /3 values for a 16x32/);
});

Deno.test("backgroundIndex: deterministic, in range, spread over the candidates", () => {
  const counts = new Array(7).fill(0);
  for (let k = 0; k < 7000; k++) {
    const j = backgroundIndex(k, 3, 7);
    assert.strictEqual(j, backgroundIndex(k, 3, 7));
    counts[j]++;
  }
  for (const c of counts) assert.ok(c > 850 && c < 1150, `counts ${counts}`);
  assert.notDeepStrictEqual(
    [0, 1, 2, 3].map((k) => backgroundIndex(k, 0, 1000)),
    [0, 1, 2, 3].map((k) => backgroundIndex(k, 1, 1000)),
  );
});

Deno.test("generateCamStyle with background: the copy's sides come from another identity of the target camera", async () => {
  const root = makeDataset();
  const ds = loadReidDataset(root, { quiet: true });
  const res = await generateCamStyle(ds, `${root}/bg`, { quality: 100, background: true });
  assert.strictEqual(res.written, 6);
  assert.deepStrictEqual(JSON.parse(Deno.readTextFileSync(`${root}/bg/camstyle.json`)), {
    mode: "quantile",
    sharpness: true,
    quality: 100,
    naming: "pair",
    background: true,
    personWidth: 0.22,
  });
  const side = (im: RgbImage) => {
    const v: number[] = [];
    for (let y = 0; y < im.height; y++) {
      v.push(...im.data.slice(3 * y * im.width, 3 * y * im.width + 3));
    }
    return v;
  };
  const mad = (a: number[], b: number[]) =>
    a.reduce((s, x, i) => s + Math.abs(x - b[i]), 0) / a.length;
  for (const item of ds.train) {
    const to = 1 - item.cam;
    const copy = await readImage(
      `${root}/bg/${
        camStyleFileName(item.path.split("/").pop()!.slice(0, -4), item.cam, to, "pair")
      }`,
    );
    const scenes = ds.train.filter((it) => it.cam === to);
    const d = await Promise.all(
      scenes.map(async (it) => mad(side(copy), side(await readImage(it.path)))),
    );
    const best = d.indexOf(Math.min(...d));
    assert.ok(d[best] < 2, `copy of ${item.path}: its left column matches no scene (${d})`);
    assert.notStrictEqual(
      scenes[best].pid,
      item.pid,
      `scene of the same identity for ${item.path}`,
    );
  }
  // A folder made without background does not resume with it.
  await generateCamStyle(ds, `${root}/plain`, { quality: 100 });
  await assert.rejects(
    () => generateCamStyle(ds, `${root}/plain`, { quality: 100, background: true }),
    (e: Error) => e.message.includes('"background":true') && e.message.includes("--overwrite"),
  );
  // Another person width is another kind of copy: recorded, and not mixed with the default's.
  await assert.rejects(
    () => generateCamStyle(ds, `${root}/w`, { personWidth: 0.2 }),
    /a person width \(0.2\) needs background copies/,
  );
  await assert.rejects(
    () => generateCamStyle(ds, `${root}/w`, { background: true, personWidth: 1.5 }),
    /half width 1.5: expected a fraction of the width in \(0, 1\]/,
  );
  assert.ok(!existsSync(`${root}/w`), "a refused width created its folder");
  await assert.rejects(
    () => generateCamStyle(ds, `${root}/bg`, { quality: 100, background: true, personWidth: 0.2 }),
    (e: Error) => e.message.includes('"personWidth":0.2'),
  );
  // A background folder whose camstyle.json records no width was made at 0.28, the default of
  // then: it resumes with 0.28 only.
  const manifest = `${root}/bg/camstyle.json`;
  const { personWidth: _, ...unrecorded } = JSON.parse(Deno.readTextFileSync(manifest));
  Deno.writeTextFileSync(manifest, JSON.stringify(unrecorded));
  await assert.rejects(
    () => generateCamStyle(ds, `${root}/bg`, { quality: 100, background: true }),
    (e: Error) =>
      e.message.includes('"personWidth":0.28') && e.message.includes('"personWidth":0.22') &&
      e.message.includes("--overwrite"),
  );
  const resumed = await generateCamStyle(ds, `${root}/bg`, {
    quality: 100,
    background: true,
    personWidth: 0.28,
  });
  assert.deepStrictEqual([resumed.written, resumed.kept], [0, 6]);
  assert.strictEqual(JSON.parse(Deno.readTextFileSync(manifest)).personWidth, 0.28);
  Deno.removeSync(root, { recursive: true });
});
