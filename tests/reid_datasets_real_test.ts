// The readers on the real Market-1501 and DukeMTMC-reID (complete, extracted under ../data or
// $ECN_DATA_ROOT; never copied into the project): the figures after junk (pid -1) is dropped, as
// the reference's reader gives them. Skipped with a message where the data is absent.
import assert from "node:assert";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { loadReidDataset, type ReidItem } from "../src/data/datasets.ts";
import { KNOWN_DATASETS, resolveDataset } from "../src/reid/config.ts";
import { dataRootFromEnv, resolveDatasetArg } from "../src/cli/env.ts";

interface Expected {
  train: number;
  trainIds: number;
  cams: number;
  query: number;
  queryIds: number;
  gallery: number;
}

const EXPECTED: Record<string, Expected> = {
  market1501: {
    train: 12936,
    trainIds: 751,
    cams: 6,
    query: 3368,
    queryIds: 750,
    gallery: 15913,
  },
  dukemtmc: {
    train: 16522,
    trainIds: 702,
    cams: 8,
    query: 2228,
    queryIds: 702,
    gallery: 17661,
  },
};

const ids = (items: ReidItem[]) => new Set(items.map((it) => it.pid)).size;

for (const [folder, want] of Object.entries(EXPECTED)) {
  const root = join(dataRootFromEnv(), folder);
  const present = existsSync(join(root, "bounding_box_train"));
  if (!present) {
    console.warn(
      `reid_datasets_real: ${root} is absent (set ECN_DATA_ROOT to the folder holding ` +
        `${folder}/); its test is skipped`,
    );
  }
  Deno.test({
    name: `real data: ${folder} has the reference's figures after dropping junk`,
    ignore: !present,
    fn: () => {
      const lines: string[] = [];
      const ds = loadReidDataset(root, { log: (l) => lines.push(l) });
      assert.strictEqual(ds.layout, "market");
      assert.strictEqual(ds.train.length, want.train);
      assert.strictEqual(ds.numTrainIds, want.trainIds);
      assert.strictEqual(ids(ds.train), want.trainIds);
      assert.strictEqual(new Set(ds.train.map((it) => it.cam)).size, want.cams);
      assert.strictEqual(ds.numCams, want.cams);
      assert.strictEqual(ds.query.length, want.query);
      assert.strictEqual(ids(ds.query), want.queryIds);
      assert.strictEqual(ds.gallery.length, want.gallery);
      assert.strictEqual(ds.skipped.length, 0);
      // Relabelled training ids are 0..n-1 and every memory index is used once.
      assert.deepStrictEqual(
        [...new Set(ds.train.map((it) => it.pid))].sort((a, b) => a - b),
        Array.from({ length: want.trainIds }, (_, i) => i),
      );
      assert.ok(ds.train.every((it, i) => it.index === i));
      // No junk survives; Market's gallery holds its 3,819 junk images, Duke has none.
      for (const items of [ds.train, ds.query, ds.gallery]) {
        assert.ok(items.every((it) => it.pid !== -1));
      }
      const junk = ds.junkDropped.train + ds.junkDropped.query + ds.junkDropped.gallery;
      assert.strictEqual(junk, folder === "market1501" ? 3819 : 0);
      console.log(
        `  ${folder}: ${ds.ignored.length} non-image file(s) ignored, ${junk} junk dropped`,
      );
    },
  });
}

Deno.test("real data: data set names resolve under the data root, case-insensitively", () => {
  const tmp = Deno.makeTempDirSync({ prefix: "ecn_root_" });
  try {
    Deno.mkdirSync(join(tmp, "dukemtmc"));
    assert.strictEqual(resolveDataset("DUKE", tmp), join(tmp, "dukemtmc"));
    assert.strictEqual(resolveDataset("DukeMTMC-reID", tmp), join(tmp, "dukemtmc"));
    assert.strictEqual(KNOWN_DATASETS.market, "market1501");
    assert.throws(() => resolveDataset("MARKET", tmp), /expected it at .*market1501/);
    assert.throws(() => resolveDataset("nosuchset", tmp), /not a known name/);
    // An existing path wins over a name.
    assert.strictEqual(resolveDataset(tmp, tmp), tmp);
    // The commands' data root: ECN_DATA_ROOT, and their message names it.
    const env = { ECN_DATA_ROOT: tmp };
    assert.strictEqual(dataRootFromEnv(env), tmp);
    assert.strictEqual(resolveDatasetArg("duke", env), join(tmp, "dukemtmc"));
    assert.throws(() => resolveDatasetArg("MARKET", env), /market1501.*ECN_DATA_ROOT/);
  } finally {
    Deno.removeSync(tmp, { recursive: true });
  }
});
