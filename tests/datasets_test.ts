import assert from "node:assert";
import {
  loadReidDataset,
  MARKET_NAME_PATTERN,
  parseMarketName,
  parseMsmtCamera,
  type ReidDataset,
} from "../src/data/datasets.ts";

const created: string[] = [];
globalThis.addEventListener("unload", () => {
  for (const d of created) Deno.removeSync(d, { recursive: true });
});

/** Makes a Market-layout folder with empty files (the reader never opens images). */
function makeMarket(files: { train?: string[]; query?: string[]; gallery?: string[] }): string {
  const root = Deno.makeTempDirSync({ prefix: "ecn_ds_" });
  created.push(root);
  const dirs = { train: "bounding_box_train", query: "query", gallery: "bounding_box_test" };
  for (const [split, dir] of Object.entries(dirs)) {
    Deno.mkdirSync(`${root}/${dir}`);
    for (const f of files[split as keyof typeof files] ?? []) {
      Deno.writeFileSync(`${root}/${dir}/${f}`, new Uint8Array(0));
    }
  }
  return root;
}

const QUIET = { quiet: true };

Deno.test("market layout: relabelling, junk/distractors, 0-based cameras, sorted indices", () => {
  const root = makeMarket({
    train: [
      "0007_c2s1_000100_00.jpg",
      "0002_c1s1_000001_00.jpg",
      "0005_c3s2_000050_01.png",
      "0002_c3s1_000010_00.jpeg",
      "-1_c1s1_000002_00.jpg", // junk: dropped
      "0000_c2s1_000003_00.jpg", // distractor: not a training identity
      "Thumbs.db", // not an image
    ],
    query: ["0011_c1s1_000001_00.jpg", "0012_c4s1_000001_00.JPG"],
    gallery: ["0011_c2s1_000002_00.jpg", "0000_c1s1_000009_00.jpg", "-1_c3s1_000001_00.jpg"],
  });
  const ds = loadReidDataset(root, QUIET);
  assert.strictEqual(ds.layout, "market");
  assert.strictEqual(ds.numTrainIds, 3);
  assert.deepStrictEqual(ds.trainPidMap, [2, 5, 7]);
  // Sorted by file name; pids relabelled in sorted original-pid order.
  assert.deepStrictEqual(
    ds.train.map((it) => [it.path.split("/").pop(), it.pid, it.cam, it.index]),
    [
      ["0002_c1s1_000001_00.jpg", 0, 0, 0],
      ["0002_c3s1_000010_00.jpeg", 0, 2, 1],
      ["0005_c3s2_000050_01.png", 1, 2, 2],
      ["0007_c2s1_000100_00.jpg", 2, 1, 3],
    ],
  );
  assert.deepStrictEqual(ds.query.map((it) => [it.pid, it.cam]), [[11, 0], [12, 3]]);
  // pid 0 stays in the gallery, -1 is dropped and counted.
  assert.deepStrictEqual(ds.gallery.map((it) => [it.pid, it.cam, it.index]), [[0, 0, 0], [
    11,
    1,
    1,
  ]]);
  assert.deepStrictEqual(ds.junkDropped, { train: 1, query: 0, gallery: 1 });
  assert.strictEqual(ds.numCams, 4);
  assert.ok(ds.train[0].path.startsWith(`${root}/bounding_box_train/`));
  const table = ds.summaryTable();
  assert.ok(table.includes("subset   | # ids | # images | # cameras"), table);
  assert.ok(/train\s+\|\s+3 \|\s+4 \|\s+3/.test(table), table);
  assert.ok(/gallery\s+\|\s+2 \|\s+2 \|\s+2/.test(table), table);
  assert.ok(table.includes("dropped 2 junk"), table);
});

Deno.test("the summary is printed unless quiet", () => {
  const root = makeMarket({
    train: ["0001_c1s1_0_00.jpg"],
    query: ["0002_c1s1_0_00.jpg"],
    gallery: ["0002_c2s1_0_00.jpg"],
  });
  const lines: string[] = [];
  loadReidDataset(root, { log: (s) => lines.push(s), name: "tiny" });
  assert.strictEqual(lines.length, 1);
  assert.ok(lines[0].startsWith("tiny dataset loaded"), lines[0]);
  loadReidDataset(root, { log: (s) => lines.push(s), quiet: true });
  assert.strictEqual(lines.length, 1);
});

Deno.test("missing root or split folder: the error names the path and the layout", () => {
  assert.throws(
    () => loadReidDataset("/nonexistent/ecn_data", QUIET),
    (e: Error) =>
      e.message.includes("/nonexistent/ecn_data") && e.message.includes("bounding_box_train"),
  );
  const root = makeMarket({ train: ["0001_c1s1_0_00.jpg"], query: ["0001_c2s1_0_00.jpg"] });
  Deno.removeSync(`${root}/bounding_box_test`);
  assert.throws(
    () => loadReidDataset(root, QUIET),
    (e: Error) =>
      e.message.includes(`${root}/bounding_box_test`) &&
      e.message.includes("expected the Market-1501 layout"),
  );
});

Deno.test("an empty split is an error naming the folder", () => {
  const root = makeMarket({
    train: ["0001_c1s1_0_00.jpg"],
    query: ["-1_c1s1_0_00.jpg"], // only junk: empty after dropping
    gallery: ["0001_c2s1_0_00.jpg"],
  });
  assert.throws(
    () => loadReidDataset(root, QUIET),
    (e: Error) => e.message.includes("split query is empty") && e.message.includes(`${root}/query`),
  );
  const root2 = makeMarket({ train: ["0000_c1s1_0_00.jpg"], query: ["0001_c1s1_0_00.jpg"] });
  assert.throws(
    () => loadReidDataset(root2, QUIET),
    (e: Error) => e.message.includes("split train is empty"),
  );
});

Deno.test("files that are not images are listed with the reason, and named in errors", () => {
  const root = makeMarket({
    train: ["0001_c1s1_0_00.jpg", "0002_c2s1_0_00.BMP", "Thumbs.db", "notes"],
    query: ["0001_c1s1_0_01.png", "Thumbs.db"],
    gallery: ["0001_c2s1_0_00.jpeg"],
  });
  Deno.mkdirSync(`${root}/bounding_box_train/sub`); // folders are neither read nor listed
  const lines: string[] = [];
  const ds = loadReidDataset(root, { log: (l) => lines.push(l) });
  assert.deepStrictEqual(ds.train.map((it) => it.path.split("/").pop()), [
    "0001_c1s1_0_00.jpg",
    "0002_c2s1_0_00.BMP",
  ]);
  assert.deepStrictEqual(
    ds.ignored.map((f) => [f.split, f.path.slice(root.length + 1)]),
    [
      ["train", "bounding_box_train/Thumbs.db"],
      ["train", "bounding_box_train/notes"],
      ["query", "query/Thumbs.db"],
    ],
  );
  assert.ok(ds.ignored[0].reason.includes(`extension ".db"`), ds.ignored[0].reason);
  assert.ok(ds.ignored[1].reason.includes("no extension"), ds.ignored[1].reason);
  const summary = lines.join("\n");
  assert.ok(
    summary.includes("ignored 3 file(s) that are not images (2 .db, 1 (no extension)"),
    summary,
  );
  // A folder of nothing but foreign files: the empty-split error says what was ignored.
  const root2 = makeMarket({
    train: ["0001_c1s1_0_00.jpg"],
    query: ["0001_c1s1_0_01.gif", "Thumbs.db"],
    gallery: ["0001_c2s1_0_00.jpg"],
  });
  assert.throws(
    () => loadReidDataset(root2, QUIET),
    (e: Error) =>
      e.message.includes("split query is empty") &&
      e.message.includes("ignored 2 file(s) that are not images (1 .db, 1 .gif") &&
      e.message.includes(`${root2}/query/`),
  );
});

Deno.test("unparsable names: error with file and pattern, or skipped and counted", () => {
  const root = makeMarket({
    train: ["0001_c1s1_0_00.jpg", "holiday.jpg", "0003_c0s1_0_00.jpg"],
    query: ["0002_c1s1_0_00.jpg"],
    gallery: ["0002_c2s1_0_00.jpg"],
  });
  assert.throws(
    () => loadReidDataset(root, QUIET),
    (e: Error) =>
      e.message.includes(`${root}/bounding_box_train/0003_c0s1_0_00.jpg`) &&
      e.message.includes("1-based"),
  );
  Deno.removeSync(`${root}/bounding_box_train/0003_c0s1_0_00.jpg`);
  assert.throws(
    () => loadReidDataset(root, QUIET),
    (e: Error) =>
      e.message.includes("holiday.jpg") && e.message.includes(String(MARKET_NAME_PATTERN)) &&
      e.message.includes("skipUnparsable"),
  );
  const ds = loadReidDataset(root, { quiet: true, skipUnparsable: true });
  assert.strictEqual(ds.skipped.length, 1);
  assert.deepStrictEqual(ds.skipped[0], {
    split: "train",
    path: `${root}/bounding_box_train/holiday.jpg`,
  });
  assert.strictEqual(ds.train.length, 1);
  assert.ok(ds.summaryTable().includes("skipped 1 file(s)"), ds.summaryTable());
});

Deno.test("duplicate image names (same stem) are an error", () => {
  const root = makeMarket({
    train: ["0001_c1s1_0_00.jpg", "0001_c1s1_0_00.png"],
    query: ["0002_c1s1_0_00.jpg"],
    gallery: ["0002_c2s1_0_00.jpg"],
  });
  assert.throws(
    () => loadReidDataset(root, QUIET),
    (e: Error) =>
      e.message.includes("duplicate image name") && e.message.includes("0001_c1s1_0_00.png"),
  );
});

Deno.test("name parsers", () => {
  assert.deepStrictEqual(parseMarketName("0002_c1s1_000451_03.jpg"), { pid: 2, cam: 0 });
  assert.deepStrictEqual(parseMarketName("-1_c6s2_000451_03.jpg"), { pid: -1, cam: 5 });
  assert.deepStrictEqual(parseMarketName("0005_c12_f0047.jpg"), { pid: 5, cam: 11 }); // Duke/MSMT-converted
  assert.strictEqual(typeof parseMarketName("img_001.jpg"), "string");
  assert.strictEqual(parseMsmtCamera("0000/0000_000_01_0303morning_0015_0.jpg"), 0);
  assert.strictEqual(parseMsmtCamera("1040_021_15_0113noon_0932_1.jpg"), 14);
  assert.strictEqual(parseMsmtCamera("0003_c07_0303morning_0015_0.jpg"), 6);
  assert.strictEqual(typeof parseMsmtCamera("abc.jpg"), "string");
});

function makeMsmt(): string {
  const root = Deno.makeTempDirSync({ prefix: "ecn_msmt_" });
  created.push(root);
  const files = {
    train: [
      "0000/0000_000_01_0303morning_0015_0.jpg",
      "0000/0000_001_05_0303morning_0016_0.jpg",
      "0003/0003_000_14_0303noon_0100_1.jpg",
    ],
    val: ["0001/0001_000_15_0303noon_0001_0.jpg"],
    test: [
      "0000/0000_000_02_0303morning_0001_0.jpg",
      "0000/0000_001_03_0303morning_0009_0.jpg",
      "0007/0007_000_02_0303morning_0001_0.jpg",
    ],
  };
  const touch = (dir: string, rel: string): void => {
    Deno.mkdirSync(`${root}/${dir}/${rel.split("/")[0]}`, { recursive: true });
    Deno.writeFileSync(`${root}/${dir}/${rel}`, new Uint8Array(0));
  };
  for (const f of [...files.train, ...files.val]) touch("train", f);
  for (const f of files.test) touch("test", f);
  const pid = (f: string): number => Number(f.split("/")[0]);
  const list = (fs: string[]): string => fs.map((f) => `${f} ${pid(f)}`).join("\n") + "\n";
  Deno.writeTextFileSync(`${root}/list_train.txt`, list(files.train));
  Deno.writeTextFileSync(`${root}/list_val.txt`, list(files.val));
  Deno.writeTextFileSync(`${root}/list_query.txt`, list([files.test[0]]));
  Deno.writeTextFileSync(`${root}/list_gallery.txt`, list(files.test.slice(1)));
  return root;
}

Deno.test("MSMT17_V1 list layout: train+val, camera from the third name field, pid 0 kept", () => {
  const root = makeMsmt();
  const ds: ReidDataset = loadReidDataset(root, QUIET);
  assert.strictEqual(ds.layout, "msmt-list");
  assert.strictEqual(ds.numTrainIds, 3);
  assert.deepStrictEqual(ds.trainPidMap, [0, 1, 3]);
  assert.deepStrictEqual(
    ds.train.map((it) => [it.pid, it.cam, it.index]),
    [[0, 0, 0], [0, 4, 1], [1, 14, 2], [2, 13, 3]],
  );
  assert.strictEqual(ds.train[2].path, `${root}/train/0001/0001_000_15_0303noon_0001_0.jpg`);
  assert.deepStrictEqual(ds.query.map((it) => [it.pid, it.cam]), [[0, 1]]);
  assert.deepStrictEqual(ds.gallery.map((it) => [it.pid, it.cam]), [[0, 2], [7, 1]]);
  assert.strictEqual(ds.numCams, 15);
});

Deno.test("MSMT17 lists: a missing listed image and a bad line are errors", () => {
  const root = makeMsmt();
  Deno.removeSync(`${root}/test/0007/0007_000_02_0303morning_0001_0.jpg`);
  assert.throws(
    () => loadReidDataset(root, QUIET),
    (e: Error) =>
      e.message.includes("1 image(s) listed for gallery are missing") &&
      e.message.includes("0007_000_02_0303morning_0001_0.jpg"),
  );
  const root2 = makeMsmt();
  Deno.writeTextFileSync(`${root2}/list_query.txt`, "0000/bad.jpg 0\n", { append: true });
  assert.throws(
    () => loadReidDataset(root2, QUIET),
    (e: Error) => e.message.includes(`${root2}/list_query.txt line 2`),
  );
  const ds = loadReidDataset(root2, { quiet: true, skipUnparsable: true });
  assert.deepStrictEqual(ds.skipped, [{ split: "query", path: `${root2}/list_query.txt:2` }]);
});

/** The project's ../shared beside the repository (absent on a plain clone: the test skips). */
const CUHK03D = decodeURIComponent(
  new URL("../../shared/data/cuhk03d", import.meta.url).pathname,
);
let haveCuhk = false;
try {
  haveCuhk = Deno.statSync(`${CUHK03D}/bounding_box_train`).isDirectory;
} catch {
  console.warn(`datasets_test: ${CUHK03D} is absent; its test is skipped`);
}

Deno.test({
  name: "cuhk03d: the shared copy has the published counts",
  ignore: !haveCuhk,
  fn() {
    const ds = loadReidDataset(CUHK03D, QUIET);
    assert.strictEqual(ds.numTrainIds, 767);
    assert.strictEqual(ds.train.length, 7380);
    assert.strictEqual(new Set(ds.query.map((it) => it.pid)).size, 700);
    assert.strictEqual(new Set(ds.gallery.map((it) => it.pid)).size, 700);
    assert.strictEqual(ds.query.length, 1400);
    assert.strictEqual(ds.gallery.length, 5317);
    assert.strictEqual(ds.numCams, 2);
    assert.deepStrictEqual(ds.train.map((it) => it.index), [...ds.train.keys()]);
    assert.strictEqual(Math.max(...ds.train.map((it) => it.pid)), 766);
  },
});
