import assert from "node:assert";
import { loadReidDataset } from "../src/data/datasets.ts";
import { encodePng, readImage } from "../src/data/image.ts";
import {
  generateSyntheticDomains,
  type SyntheticDomainSpec,
  syntheticPreview,
} from "../src/data/synthetic/mod.ts";
import { mulberry32 } from "../src/util/random.ts";

/** Small domains so the tests take seconds. */
const SMALL: SyntheticDomainSpec[] = [
  {
    name: "A",
    style: "daylight",
    numCams: 4,
    trainIds: 6,
    testIds: 4,
    imagesPerTrainId: 4,
    distractors: 3,
    junk: 2,
  },
  {
    name: "B",
    style: "dim",
    numCams: 3,
    trainIds: 5,
    testIds: 4,
    imagesPerTrainId: 3,
    distractors: 2,
    junk: 1,
  },
];

/** Every file under `dir`, relative path -> bytes. */
function readTree(dir: string): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  const walk = (rel: string): void => {
    for (const e of Deno.readDirSync(`${dir}/${rel}`)) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory) walk(r);
      else out.set(r, Deno.readFileSync(`${dir}/${r}`));
    }
  };
  walk("");
  return out;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

Deno.test("mulberry32 is deterministic and in [0, 1)", () => {
  const a = mulberry32(42), b = mulberry32(42), c = mulberry32(43);
  const xs = Array.from({ length: 1000 }, () => a());
  assert.deepStrictEqual(xs, Array.from({ length: 1000 }, () => b()));
  assert.ok(xs.every((x) => x >= 0 && x < 1), "out of range");
  assert.ok(xs[0] !== c(), "different seeds should differ");
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  assert.ok(Math.abs(mean - 0.5) < 0.03, `mean ${mean}`);
});

Deno.test("same seed => byte-identical files (jpg and png); another seed differs", async () => {
  const tmp = Deno.makeTempDirSync({ prefix: "ecn_syn_" });
  const domains: SyntheticDomainSpec[] = SMALL.map((d) => ({ ...d, trainIds: 2, testIds: 2 }));
  for (const format of ["png", "jpg"] as const) {
    const r1 = await generateSyntheticDomains({
      outDir: `${tmp}/${format}1`,
      seed: 5,
      domains,
      format,
    });
    const r2 = await generateSyntheticDomains({
      outDir: `${tmp}/${format}2`,
      seed: 5,
      domains,
      format,
    });
    assert.ok(r1.generated && r2.generated, "both should generate");
    const t1 = readTree(r1.root), t2 = readTree(r2.root);
    assert.deepStrictEqual([...t1.keys()].sort(), [...t2.keys()].sort());
    for (const [k, v] of t1) {
      assert.ok(sameBytes(v, t2.get(k)!), `${format}: ${k} differs between runs`);
    }
  }
  const r3 = await generateSyntheticDomains({ outDir: `${tmp}/png3`, seed: 6, domains });
  const t1 = readTree(`${tmp}/png1`), t3 = readTree(r3.root);
  let differ = 0;
  for (const [k, v] of t1) {
    if (k.endsWith(".png") && !(t3.has(k) && sameBytes(v, t3.get(k)!))) differ++;
  }
  assert.ok(
    differ > 0.9 * (t1.size - 1),
    `only ${differ} of ${t1.size} files differ with another seed`,
  );
  Deno.removeSync(tmp, { recursive: true });
});

Deno.test("layout: Market-1501 splits, disjoint ids, queries with cross-camera matches, 64x128", async () => {
  const tmp = Deno.makeTempDirSync({ prefix: "ecn_syn_" });
  const res = await generateSyntheticDomains({ outDir: tmp, seed: 1, domains: SMALL });
  assert.deepStrictEqual(Object.keys(res.domains), ["A", "B"]);
  for (const spec of SMALL) {
    const ds = loadReidDataset(res.domains[spec.name], { quiet: true });
    assert.deepStrictEqual(ds.numTrainIds, spec.trainIds);
    assert.deepStrictEqual(ds.train.length, spec.trainIds * spec.imagesPerTrainId);
    assert.deepStrictEqual(ds.trainPidMap, Array.from({ length: spec.trainIds }, (_, i) => i + 1));
    assert.strictEqual(ds.numCams <= spec.numCams, true);
    // Every training identity is seen by at least two cameras.
    for (let pid = 0; pid < ds.numTrainIds; pid++) {
      const cams = new Set(ds.train.filter((it) => it.pid === pid).map((it) => it.cam));
      assert.ok(cams.size >= 2, `${spec.name}: train id ${pid} in ${cams.size} camera(s)`);
    }
    const qIds = new Set(ds.query.map((it) => it.pid));
    assert.deepStrictEqual(qIds.size, spec.testIds);
    for (const pid of qIds) assert.ok(pid > spec.trainIds, `test id ${pid} overlaps the train ids`);
    // One query per identity and camera, each with a gallery match from another camera.
    const keys = ds.query.map((q) => `${q.pid}/${q.cam}`);
    assert.deepStrictEqual(new Set(keys).size, keys.length);
    for (const q of ds.query) {
      assert.ok(
        ds.gallery.some((g) => g.pid === q.pid && g.cam !== q.cam),
        `${spec.name}: query ${q.path} has no cross-camera match`,
      );
    }
    assert.deepStrictEqual(ds.gallery.filter((g) => g.pid === 0).length, spec.distractors);
    assert.deepStrictEqual(ds.junkDropped.gallery, spec.junk);
    const img = await readImage(ds.train[0].path);
    assert.deepStrictEqual([img.width, img.height], [64, 128]);
  }
  Deno.removeSync(tmp, { recursive: true });
});

Deno.test("B is darker and greyer than A, and its camera colour casts differ", async () => {
  const tmp = Deno.makeTempDirSync({ prefix: "ecn_syn_" });
  const res = await generateSyntheticDomains({ outDir: tmp, seed: 3, domains: SMALL });
  const stats: Record<string, { lum: number; chroma: number; camRgb: number[][] }> = {};
  for (const name of ["A", "B"]) {
    const ds = loadReidDataset(res.domains[name], { quiet: true });
    let lum = 0, chroma = 0, n = 0;
    const perCam = new Map<number, number[]>();
    for (const it of ds.train) {
      const img = await readImage(it.path);
      const acc = perCam.get(it.cam) ?? [0, 0, 0];
      for (let i = 0; i < img.data.length; i += 3) {
        const r = img.data[i], g = img.data[i + 1], b = img.data[i + 2];
        acc[0] += r;
        acc[1] += g;
        acc[2] += b;
        lum += 0.299 * r + 0.587 * g + 0.114 * b;
        chroma += Math.max(r, g, b) - Math.min(r, g, b);
        n++;
      }
      perCam.set(it.cam, acc);
    }
    const camRgb = [...perCam.entries()].sort((x, y) => x[0] - y[0]).map(([, v]) => v);
    stats[name] = { lum: lum / n, chroma: chroma / n, camRgb };
  }
  assert.ok(stats.A.lum > 1.3 * stats.B.lum, `brightness A ${stats.A.lum} vs B ${stats.B.lum}`);
  assert.ok(
    stats.A.chroma > 1.3 * stats.B.chroma,
    `chroma A ${stats.A.chroma} vs B ${stats.B.chroma}`,
  );
  // B's cameras 1..3 are lit blue, amber and green: blue/red ordering follows the lamps.
  const br = stats.B.camRgb.map(([r, , b]) => b / r);
  assert.ok(br[0] > br[2] && br[2] > br[1], `B cameras' blue/red ratios ${br.join(", ")}`);
  Deno.removeSync(tmp, { recursive: true });
});

Deno.test("manifest: a matching one skips, other options regenerate, foreign folders are refused", async () => {
  const tmp = Deno.makeTempDirSync({ prefix: "ecn_syn_" });
  const tiny: SyntheticDomainSpec[] = SMALL.map((d) => ({ ...d, trainIds: 2, testIds: 2 }));
  const out = `${tmp}/syn`;
  const first = await generateSyntheticDomains({ outDir: out, seed: 1, domains: tiny });
  assert.ok(first.generated && first.images > 0, "first run generates");
  const manifest = JSON.parse(Deno.readTextFileSync(`${out}/manifest.json`));
  assert.deepStrictEqual([
    manifest.generator,
    manifest.options.seed,
    manifest.options.domains.length,
  ], [
    "ecn-synthetic",
    1,
    2,
  ]);
  const second = await generateSyntheticDomains({ outDir: out, seed: 1, domains: tiny });
  assert.deepStrictEqual([second.generated, second.images], [false, 0]);
  const third = await generateSyntheticDomains({ outDir: out, seed: 2, domains: tiny.slice(0, 1) });
  assert.ok(third.generated, "other options must regenerate");
  assert.deepStrictEqual([...Deno.readDirSync(out)].map((e) => e.name).sort(), [
    "A",
    "manifest.json",
  ]);
  const foreign = `${tmp}/foreign`;
  Deno.mkdirSync(foreign);
  Deno.writeTextFileSync(`${foreign}/notes.txt`, "mine");
  let msg = "";
  try {
    await generateSyntheticDomains({ outDir: foreign, domains: tiny });
  } catch (e) {
    msg = (e as Error).message;
  }
  assert.ok(msg.includes(foreign) && msg.includes("not empty"), msg);
  let bad = "";
  try {
    await generateSyntheticDomains({ outDir: `${tmp}/x`, domains: [{ ...tiny[0], numCams: 1 }] });
  } catch (e) {
    bad = (e as Error).message;
  }
  assert.ok(bad.includes("numCams"), bad);
  Deno.removeSync(tmp, { recursive: true });
});

Deno.test("preview grid: ids x cameras of both domains", () => {
  const grid = syntheticPreview({ seed: 1, domains: SMALL, ids: 2, scale: 1 });
  assert.deepStrictEqual(grid.width, 4 * 66 + 2);
  assert.deepStrictEqual(grid.height, 4 * 130 + 2 + 4);
  // Written for a look when ECN_SYNTH_PREVIEW names a file.
  const path = Deno.env.get("ECN_SYNTH_PREVIEW");
  if (path) Deno.writeFileSync(path, encodePng(syntheticPreview({ seed: 1 })));
});
