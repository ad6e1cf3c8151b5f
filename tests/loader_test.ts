import assert from "node:assert";
import { encodeJpeg, encodePng } from "../src/data/image.ts";
import { type Batch, DataLoader, type LoaderItem } from "../src/data/loader.ts";
import { testTransformConfig, trainTransformConfig } from "../src/data/transforms.ts";
import { Rng } from "../src/util/random.ts";

const N = 23;
const H = 16, W = 8;
const TEST_CFG = testTransformConfig({ height: H, width: W, mean: [0, 0, 0], std: [1, 1, 1] });
const TRAIN_CFG = trainTransformConfig({ height: H, width: W });

/**
 * Item i is a constant-colour 8x16 PNG with red = i, so a batch's first value tells which
 * item it holds (the test transform with mean 0, std 1 gives i / 255 exactly).
 */
const dir = Deno.makeTempDirSync({ prefix: "loader_test_" });
const items: LoaderItem[] = [];
for (let i = 0; i < N; i++) {
  const data = new Uint8Array(W * H * 3);
  const rng = new Rng(i);
  for (let p = 0; p < W * H; p++) {
    data[p * 3] = p === 0 ? i : rng.int(0, 255);
    data[p * 3 + 1] = rng.int(0, 255);
    data[p * 3 + 2] = rng.int(0, 255);
  }
  const path = `${dir}/${String(i).padStart(4, "0")}_c${(i % 3) + 1}.png`;
  Deno.writeFileSync(path, encodePng({ width: W, height: H, data }));
  items.push({ path, pid: 100 + i, cam: i % 3 });
}
globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));

/** Item numbers of a batch loaded with TEST_CFG: the red value of pixel 0. */
function itemsOf(b: Batch): number[] {
  const per = 3 * b.height * b.width;
  return Array.from({ length: b.size }, (_, j) => Math.round(b.images[j * per] * 255));
}

async function collect(it: AsyncIterable<Batch>, max = Infinity): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const b of it) {
    out.push(b);
    if (out.length >= max) break;
  }
  return out;
}

Deno.test("in order: batches, labels, last partial batch, drop-last", async () => {
  using loader = new DataLoader(items, { batchSize: 5, transform: TEST_CFG, workers: 1 });
  assert.strictEqual(loader.batchesPerEpoch, 5);
  const batches = await collect(loader.epoch(0));
  assert.deepStrictEqual(batches.map((b) => b.size), [5, 5, 5, 5, 3]);
  assert.deepStrictEqual(batches.flatMap(itemsOf), [...Array(N).keys()]);
  const b1 = batches[1];
  assert.deepStrictEqual(Array.from(b1.pids), [105, 106, 107, 108, 109]);
  assert.deepStrictEqual(Array.from(b1.cams), [2, 0, 1, 2, 0]);
  assert.deepStrictEqual(Array.from(b1.indices), [5, 6, 7, 8, 9]);
  assert.deepStrictEqual(b1.paths, items.slice(5, 10).map((it) => it.path));
  assert.deepStrictEqual([b1.images.length, b1.height, b1.width, b1.batch], [
    5 * 3 * H * W,
    H,
    W,
    1,
  ]);

  using dl = new DataLoader(items, { batchSize: 5, transform: TEST_CFG, dropLast: true });
  assert.strictEqual(dl.batchesPerEpoch, 4);
  assert.deepStrictEqual((await collect(dl.epoch(0))).map((b) => b.size), [5, 5, 5, 5]);
});

Deno.test("explicit item indices are reported", async () => {
  const withIndex = items.map((it, i) => ({ ...it, index: 1000 - i }));
  using loader = new DataLoader(withIndex, { batchSize: 4, transform: TEST_CFG, workers: 0 });
  const [b] = await collect(loader.epoch(0), 1);
  assert.deepStrictEqual(Array.from(b.indices), [1000, 999, 998, 997]);
});

Deno.test("shuffle: a permutation, seeded per epoch, labels follow the images", async () => {
  // In-process (workers: 0): under `deno test` every worker start costs a type check.
  const opts = { batchSize: 6, transform: TEST_CFG, shuffle: true, seed: 3, workers: 0 };
  using a = new DataLoader(items, opts);
  const e0 = (await collect(a.epoch(0))).flatMap(itemsOf);
  const e1 = (await collect(a.epoch(1))).flatMap(itemsOf);
  assert.deepStrictEqual([...e0].sort((x, y) => x - y), [...Array(N).keys()]);
  assert.ok(e0.join() !== [...Array(N).keys()].join(), "epoch 0 not shuffled");
  assert.ok(e0.join() !== e1.join(), "epochs 0 and 1 have the same order");
  assert.deepStrictEqual(Array.from(a.order(0)), e0);
  using b = new DataLoader(items, { ...opts, prefetch: 3 });
  const again = await collect(b.epoch(0));
  assert.deepStrictEqual(again.flatMap(itemsOf), e0);
  for (const batch of again) {
    assert.deepStrictEqual(Array.from(batch.pids), itemsOf(batch).map((i) => 100 + i));
  }
  using c = new DataLoader(items, { ...opts, seed: 4 });
  assert.ok(Array.from(c.order(0)).join() !== e0.join(), "seed does not change the order");
});

Deno.test("augmented batches are identical for 0, 1 and 2 workers", async () => {
  const run = async (workers: number, prefetch?: number) => {
    using l = new DataLoader(items, {
      batchSize: 4,
      transform: TRAIN_CFG,
      shuffle: true,
      seed: 9,
      workers,
      prefetch,
    });
    return (await collect(l.epoch(2))).map((b) => b.images);
  };
  const ref = await run(0);
  assert.strictEqual(ref.length, 6);
  for (const [w, p] of [[1, 1], [2, 5]]) {
    const got = await run(w, p);
    got.forEach((imgs, i) => assert.ok(imgs.every((v, j) => v === ref[i][j]), `w=${w} batch ${i}`));
  }
  const other = await (async () => {
    using l = new DataLoader(items, {
      batchSize: 4,
      transform: TRAIN_CFG,
      shuffle: true,
      seed: 9,
      workers: 0,
    });
    return (await collect(l.epoch(3), 1))[0].images;
  })();
  assert.ok(other.some((v, j) => v !== ref[0][j]), "epoch 3 repeated epoch 2's first batch");
});

Deno.test("recycled buffers are reused and give the same batches", async () => {
  const opts = { batchSize: 4, transform: TRAIN_CFG, shuffle: true, seed: 5 };
  const plain = await (async () => {
    using l = new DataLoader(items, { ...opts, workers: 0 });
    return (await collect(l.epoch(0))).map((b) => b.images.slice());
  })();
  using loader = new DataLoader(items, { ...opts, workers: 1, prefetch: 1 });
  let i = 0, prev: ArrayBufferLike | null = null;
  for await (const b of loader.epoch(0)) {
    assert.ok(b.images.every((v, j) => v === plain[i][j]), `batch ${i} differs after recycling`);
    // Receiving batch i queued batch i+1 with the buffer recycled before: moved to the worker
    // (batches 1-4; batch 5 holds 3 images and needs a smaller buffer).
    if (prev && i + 1 <= 4) {
      assert.strictEqual(prev.byteLength, 0, `buffer not reused for batch ${i + 1}`);
    }
    prev = b.images.buffer;
    loader.recycle(b);
    loader.recycle(b); // a second call is ignored
    i++;
  }
  assert.strictEqual(i, 6);
});

Deno.test("restarting: endless passes, reshuffled, numbered by epoch", async () => {
  using loader = new DataLoader(items, {
    batchSize: 10,
    transform: TEST_CFG,
    shuffle: true,
    dropLast: true,
    seed: 1,
    workers: 0,
  });
  const batches = await collect(loader.restarting(5), 7);
  assert.deepStrictEqual(batches.map((b) => [b.epoch, b.batch]), [
    [5, 0],
    [5, 1],
    [6, 0],
    [6, 1],
    [7, 0],
    [7, 1],
    [8, 0],
  ]);
  const pass = (e: number) => batches.filter((b) => b.epoch === e).flatMap(itemsOf);
  assert.deepStrictEqual(pass(5), Array.from(loader.order(5)).slice(0, 20));
  assert.ok(pass(5).join() !== pass(6).join(), "passes 5 and 6 have the same order");

  using tiny = new DataLoader(items.slice(0, 3), {
    batchSize: 4,
    transform: TEST_CFG,
    dropLast: true,
    workers: 0,
  });
  await assert.rejects(() => tiny.restarting().next(), /3 items give no batch of 4/);
});

Deno.test("path mapper chooses the file with a seeded rng", async () => {
  const calls: number[] = [];
  const mapper = (item: LoaderItem, rng: Rng) => {
    calls.push(item.pid);
    // Stand-in for CamStyle: half of the items read their neighbour's file.
    const k = item.pid - 100;
    return rng.next() < 0.5 ? items[(k + 1) % N].path : item.path;
  };
  const run = async () => {
    using l = new DataLoader(items, {
      batchSize: 8,
      transform: TEST_CFG,
      shuffle: true,
      seed: 2,
      pathMapper: mapper,
      workers: 0,
    });
    return await collect(l.epoch(0));
  };
  const a = await run(), b = await run();
  assert.deepStrictEqual(calls.length, 2 * N);
  assert.deepStrictEqual(a.flatMap((x) => x.paths), b.flatMap((x) => x.paths));
  let moved = 0;
  for (const batch of a) {
    const got = itemsOf(batch);
    batch.pids.forEach((pid, j) => {
      const own = pid - 100;
      // Labels stay the item's own; the image is the mapped file's.
      assert.deepStrictEqual(batch.paths[j], items[got[j]].path);
      if (got[j] !== own) {
        assert.deepStrictEqual(got[j], (own + 1) % N);
        moved++;
      }
    });
  }
  assert.ok(moved > 3 && moved < N - 3, `mapper moved ${moved}/${N}`);
});

Deno.test("an unreadable file fails the consumer with its path, no hang", async () => {
  const bad = `${dir}/broken.jpg`;
  const jpg = encodeJpeg({ width: 32, height: 32, data: new Uint8Array(32 * 32 * 3) }, 90);
  Deno.writeFileSync(bad, jpg.subarray(0, 100));
  const missing = `${dir}/missing.png`;
  const cases: [string, RegExp, number][] = [
    [bad, /broken\.jpg: truncated JPEG/, 2],
    [missing, /missing\.png: cannot read image file/, 0],
  ];
  for (const [path, re, workers] of cases) {
    const list = [...items.slice(0, 6), { path, pid: 1, cam: 0 }, ...items];
    {
      using loader = new DataLoader(list, { batchSize: 4, transform: TRAIN_CFG, workers });
      let seen = 0;
      await assert.rejects(async () => {
        for await (const b of loader.epoch(0)) seen += b.size;
      }, re);
      assert.strictEqual(seen, 4, "batches before the broken one arrive");
      // The loader keeps working after a failed batch.
      const [first] = await collect(loader.epoch(1), 1);
      assert.strictEqual(first.size, 4);
    }
  }
});

Deno.test("close() stops workers mid-epoch; later use fails clearly", async () => {
  const loader = new DataLoader(items, {
    batchSize: 2,
    transform: TRAIN_CFG,
    workers: 2,
    prefetch: 4,
  });
  const it = loader.epoch(0);
  const first = await it.next();
  assert.ok(!first.done && first.value.size === 2, "first batch");
  loader.close();
  // Batches in flight reject; if all had finished, loading the next one fails.
  await assert.rejects(
    () => it.next(),
    /DataLoader (closed while batches were being loaded|is closed)/,
  );
  await assert.rejects(() => loader.epoch(1).next(), /DataLoader is closed/);
  loader.close(); // idempotent
});

Deno.test("constructor validates its options", () => {
  const bad: [() => unknown, RegExp][] = [
    [() => new DataLoader(items, { batchSize: 0, transform: TEST_CFG }), /batchSize/],
    [() => new DataLoader(items, { batchSize: 2, transform: TEST_CFG, workers: -1 }), /workers/],
    [() => new DataLoader(items, { batchSize: 2, transform: TEST_CFG, prefetch: 0 }), /prefetch/],
  ];
  for (const [fn, re] of bad) {
    let msg = "";
    try {
      fn();
    } catch (e) {
      msg = (e as Error).message;
    }
    assert.ok(re.test(msg), `expected ${re}, got ${JSON.stringify(msg)}`);
  }
});
