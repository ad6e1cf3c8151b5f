import assert from "node:assert";
import { oracleAvailable, oracleTest, runOracleJson } from "./oracle/oracle.ts";
import {
  parseSafetensors,
  readSafetensors,
  safetensorsHeader,
  writeSafetensors,
} from "../src/nn/safetensors.ts";
import { parsePth, readPth } from "../src/nn/pth.ts";
import {
  detectWeightsFormat,
  fromFloat32,
  type RawStateDict,
  type RawTensor,
  readWeights,
  toFloat32,
} from "../src/nn/weights.ts";

/** The project's shared/ lies beside the repository (absent on a plain clone: tests skip). */
const MOBILENET = decodeURIComponent(
  new URL("../../shared/weights/mobilenet_v2_imagenet.safetensors", import.meta.url).pathname,
);
let HAVE_MOBILENET = false;
try {
  HAVE_MOBILENET = Deno.statSync(MOBILENET).isFile;
} catch {
  console.warn(`weights_test: ${MOBILENET} is absent; the test that reads it is skipped`);
}

type Described = { tensors: [string, string, number[], string][]; f32: Record<string, string> };

async function sha256(data: Uint8Array): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", data as Uint8Array<ArrayBuffer>);
  return hex(new Uint8Array(d));
}

function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

async function describe(sd: RawStateDict): Promise<[string, string, number[], string][]> {
  const out: [string, string, number[], string][] = [];
  for (const [name, t] of sd) out.push([name, t.dtype, t.shape, await sha256(t.data)]);
  return out;
}

/** The oracle files, written once per test run into a temporary directory. */
let oracleFiles: Promise<{ dir: string; info: Record<string, Described> }> | undefined;
function files(): Promise<{ dir: string; info: Record<string, Described> }> {
  oracleFiles ??= (async () => {
    const dir = await Deno.makeTempDir({ prefix: "ecn_weights_" });
    const info = await runOracleJson<Record<string, Described>>("write_weights.py", {
      action: "write",
      dir,
    });
    globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
    return { dir, info };
  })();
  return oracleFiles;
}

Deno.test({
  name: "mobilenet safetensors: every tensor equals what torchvision loads",
  ignore: !HAVE_MOBILENET || !oracleAvailable(),
}, async () => {
  const t0 = performance.now();
  const { tensors, metadata } = await readSafetensors(MOBILENET);
  const ms = performance.now() - t0;
  console.log(`read ${MOBILENET}: ${tensors.size} tensors in ${ms.toFixed(1)} ms`);
  assert.ok(ms < 3000, `reading 14 MB took ${ms} ms`);
  const ref = await runOracleJson<Described & { metadata: Record<string, string> }>(
    "write_weights.py",
    { action: "describe_mobilenet", path: MOBILENET },
  );
  assert.deepStrictEqual(metadata, ref.metadata);
  assert.ok("normalize_mean" in metadata && "normalize_std" in metadata);
  const mine = new Map((await describe(tensors)).map((r) => [r[0], r]));
  assert.deepStrictEqual(mine.size, ref.tensors.length);
  for (const r of ref.tensors) assert.deepStrictEqual(mine.get(r[0]), r);
  // readWeights dispatches to the same reader.
  const again = await readWeights(MOBILENET);
  assert.deepStrictEqual([...again.keys()], [...tensors.keys()]);
});

oracleTest(
  "resnet18: zip .pth, legacy .pth and safetensors match torch byte for byte",
  async () => {
    const { dir, info } = await files();
    const want = info.r18.tensors;
    for (const file of ["r18_zip.pth", "r18_legacy.pth", "r18.safetensors"]) {
      const t0 = performance.now();
      const sd = await readWeights(`${dir}/${file}`);
      console.log(`${file}: ${sd.size} tensors in ${(performance.now() - t0).toFixed(1)} ms`);
      assert.deepStrictEqual(await describe(sd), want, file);
    }
    assert.deepStrictEqual(await describe(await readPth(`${dir}/r18_zip.pth`)), want);
    assert.deepStrictEqual(
      (await readSafetensors(`${dir}/r18.safetensors`)).metadata,
      { arch: "resnet18", note: "random" },
    );
  },
);

oracleTest("every dtype, strided and shared-storage views, deflated zip entries", async () => {
  const { dir, info } = await files();
  for (const file of ["misc_zip.pth", "misc_legacy.pth", "misc_deflate.pth", "misc.safetensors"]) {
    const sd = await readWeights(`${dir}/${file}`);
    assert.deepStrictEqual(await describe(sd), info.misc.tensors, file);
    for (const [name, f32hex] of Object.entries(info.misc.f32)) {
      const f = toFloat32(sd.get(name)!);
      assert.deepStrictEqual(
        hex(new Uint8Array(f.buffer, f.byteOffset, f.byteLength)),
        f32hex,
        name,
      );
    }
  }
});

oracleTest(
  "legacy storage views and _rebuild_tensor (pre-1.0 files) match torch.load",
  async () => {
    const { dir, info } = await files();
    const sd = await readPth(`${dir}/legacy_views.pth`);
    assert.deepStrictEqual(await describe(sd), info.legacy_views.tensors);
    for (const [name, f32hex] of Object.entries(info.legacy_views.f32)) {
      const f = toFloat32(sd.get(name)!);
      assert.deepStrictEqual(
        hex(new Uint8Array(f.buffer, f.byteOffset, f.byteLength)),
        f32hex,
        name,
      );
    }
  },
);

oracleTest("writeSafetensors writes the same bytes as the reference layout", async () => {
  const { dir } = await files();
  const out = await Deno.makeTempDir({ prefix: "ecn_weights_out_" });
  try {
    for (const stem of ["misc", "r18"]) {
      const src = await readSafetensors(`${dir}/${stem}.safetensors`);
      await writeSafetensors(`${out}/${stem}.safetensors`, src.tensors, src.metadata);
      const a = await Deno.readFile(`${dir}/${stem}.safetensors`);
      const b = await Deno.readFile(`${out}/${stem}.safetensors`);
      assert.deepStrictEqual(b.length, a.length, stem);
      assert.deepStrictEqual(await sha256(b), await sha256(a), stem);
    }
    // A state dict read from a .pth round-trips through safetensors.
    const sd = await readPth(`${dir}/misc_legacy.pth`);
    await writeSafetensors(`${out}/rt.safetensors`, sd, { from: "pth" });
    const back = await readSafetensors(`${out}/rt.safetensors`);
    assert.deepStrictEqual(await describe(back.tensors), await describe(sd));
    assert.deepStrictEqual(back.metadata, { from: "pth" });
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

oracleTest("checkpoint wrappers: auto-unwrap, key option, prefix stripping", async () => {
  const { dir, info } = await files();
  for (const fmt of ["zip", "legacy"]) {
    const path = `${dir}/wrapped_${fmt}.pth`;
    assert.deepStrictEqual(await describe(await readPth(path)), info.wrapped.tensors);
    assert.deepStrictEqual(
      await describe(await readPth(path, { key: "state_dict" })),
      info.wrapped.tensors,
    );
    const stripped = await readWeights(path, { stripPrefix: "module." });
    assert.deepStrictEqual([...stripped.keys()], ["conv.weight", "bn.num_batches_tracked"]);
    const nbt = stripped.get("bn.num_batches_tracked")!;
    assert.deepStrictEqual([nbt.dtype, nbt.shape, toFloat32(nbt)[0]], ["int64", [], 3]);
    await assert.rejects(() => readPth(path, { key: "epoch" }), /entry epoch is a number/);
    await assert.rejects(() => readPth(path, { key: "nope" }), /no key nope; it has state_dict/);

    assert.strictEqual((await readPth(`${dir}/empty_${fmt}.pth`)).size, 0);
    const amb = `${dir}/ambiguous_${fmt}.pth`;
    await assert.rejects(() => readPth(amb), /cannot tell which entry.*model.*ema.*key option/);
    const ema = await readPth(amb, { key: ["ema"] });
    assert.deepStrictEqual(Array.from(toFloat32(ema.get("a")!)), [0, 0]);
  }
});

oracleTest("unknown pickle globals are named and never run", async () => {
  const { dir } = await files();
  for (const file of ["evil_zip.pth", "evil_legacy.pth", "evil_root_zip.pth"]) {
    await assert.rejects(() => readPth(`${dir}/${file}`), /posix\.system.*never runs code/);
  }
  let exists = true;
  try {
    await Deno.stat(`${dir}/pwned`);
  } catch {
    exists = false;
  }
  assert.ok(!exists, "the pickled os.system call ran");
});

oracleTest("truncated files fail with a clear error at every cut", async () => {
  const { dir } = await files();
  for (const file of ["misc_zip.pth", "misc_legacy.pth", "misc.safetensors", "misc_deflate.pth"]) {
    const bytes = await Deno.readFile(`${dir}/${file}`);
    const parse = file.endsWith(".safetensors")
      ? (b: Uint8Array) => Promise.resolve().then(() => parseSafetensors(b, file))
      : (b: Uint8Array) => parsePth(b, file);
    for (let cut = 0; cut < bytes.length; cut += 13) {
      // Every cut must fail, and with an error that names the file (no crash, no garbage).
      await assert.rejects(() => parse(bytes.subarray(0, cut)), {
        message: new RegExp(`^${file}: `),
      });
    }
  }
  const big = await Deno.readFile(`${dir}/r18_legacy.pth`);
  await assert.rejects(() => parsePth(big.subarray(0, big.length - 1000), "r18"), /truncated/);
  const zip = await Deno.readFile(`${dir}/r18_zip.pth`);
  await assert.rejects(() => parsePth(zip.subarray(0, zip.length >> 1), "r18"), /truncated/);
  const st = await Deno.readFile(`${dir}/r18.safetensors`);
  assert.throws(() => parseSafetensors(st.subarray(0, st.length - 1), "r18"), /truncated/);
});

Deno.test("missing and foreign files are rejected with their names", async () => {
  await assert.rejects(
    () => readWeights("/nonexistent/w.pth"),
    /not found: \/nonexistent\/w\.pth/,
  );
  await assert.rejects(() => readPth("/nonexistent/w.pth"), /not found: \/nonexistent\/w\.pth/);
  await assert.rejects(() => readSafetensors("/nonexistent/w.st"), /not found/);
  const random = new Uint8Array(4096);
  crypto.getRandomValues(random);
  random[0] = 0x13; // not PK, not a pickle PROTO
  random[8] = 0x00; // not a safetensors JSON start
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(`${dir}/random.bin`, random);
    await assert.rejects(
      () => readWeights(`${dir}/random.bin`),
      /random\.bin: expected a PyTorch \.pth \(zip or legacy pickle\) or safetensors file/,
    );
    await assert.rejects(
      () => readPth(`${dir}/random.bin`),
      /expected a PyTorch \.pth \(zip\) or safetensors file/,
    );
    await Deno.writeFile(
      `${dir}/tiny.safetensors`,
      fakeSafetensors({ a: { dtype: "F32", shape: [2], data_offsets: [0, 8] } }, 8),
    );
    await assert.rejects(
      () => readPth(`${dir}/tiny.safetensors`),
      /tiny\.safetensors.*is a safetensors file; read it with readWeights/,
    );
    // A pickle that is not torch's: the magic number is missing.
    await Deno.writeFile(`${dir}/plain.pkl`, new Uint8Array([0x80, 2, 0x4b, 5, 0x2e]));
    await assert.rejects(() => readPth(`${dir}/plain.pkl`), /magic number/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  assert.strictEqual(detectWeightsFormat(new Uint8Array([0x50, 0x4b, 3, 4])), "pth-zip");
});

/** A safetensors file from a header object and a data length. */
function fakeSafetensors(header: unknown, dataLen: number): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + dataLen);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  return out;
}

Deno.test("safetensors header validation", () => {
  const ok = fakeSafetensors({ a: { dtype: "F32", shape: [2], data_offsets: [0, 8] } }, 8);
  assert.deepStrictEqual(parseSafetensors(ok).tensors.get("a")!.shape, [2]);
  assert.throws(() => parseSafetensors(new Uint8Array(5), "x.st"), /x\.st: .*too short/);
  const bad = fakeSafetensors({}, 0);
  bad[8] = 0x5b; // "[" makes the JSON invalid
  assert.throws(() => parseSafetensors(bad), /header is not JSON/);
  assert.throws(
    () =>
      parseSafetensors(
        fakeSafetensors({ a: { dtype: "C64", shape: [1], data_offsets: [0, 8] } }, 8),
      ),
    /tensor a has unknown dtype "C64"/,
  );
  assert.throws(
    () =>
      parseSafetensors(
        fakeSafetensors({ a: { dtype: "constructor", shape: [1], data_offsets: [0, 8] } }, 8),
      ),
    /unknown dtype "constructor"/,
  );
  assert.throws(
    () =>
      parseSafetensors(
        fakeSafetensors({ a: { dtype: "F32", shape: [3], data_offsets: [0, 8] } }, 8),
      ),
    /needs 12 bytes/,
  );
  assert.throws(
    () =>
      parseSafetensors(fakeSafetensors({
        a: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
        b: { dtype: "I32", shape: [2], data_offsets: [4, 12] },
      }, 12)),
    /tensors a \[0, 8\] and b \[4, 12\] overlap/,
  );
  assert.throws(
    () =>
      parseSafetensors(
        fakeSafetensors({ a: { dtype: "F32", shape: [4], data_offsets: [0, 16] } }, 8),
      ),
    /truncated/,
  );
  const huge = new Uint8Array(16);
  new DataView(huge.buffer).setBigUint64(0, 1n << 40n, true);
  assert.throws(() => parseSafetensors(huge), /implausible/);
  // File order follows data offsets, even for names JSON.parse would reorder.
  const order = parseSafetensors(fakeSafetensors({
    z: { dtype: "U8", shape: [1], data_offsets: [0, 1] },
    "0": { dtype: "U8", shape: [1], data_offsets: [1, 2] },
  }, 2));
  assert.deepStrictEqual([...order.tensors.keys()], ["z", "0"]);
});

Deno.test("safetensors header is padded to 8 bytes and keeps map order", () => {
  const sd: RawStateDict = new Map([
    ["z", fromFloat32([1], new Float32Array([1]))],
    ["0", fromFloat32([2], new Float32Array([2, 3]))],
  ]);
  const h = safetensorsHeader(sd, { k: "v" });
  assert.strictEqual(h.length % 8, 0);
  const n = Number(new DataView(h.buffer).getBigUint64(0, true));
  assert.deepStrictEqual(n, h.length - 8);
  const text = new TextDecoder().decode(h.subarray(8));
  assert.ok(text.startsWith('{"__metadata__":{"k":"v"},"z":'), text);
  assert.ok(text.length - text.trimEnd().length < 8, "at most 7 padding spaces");
  // Valid JSON; "z" precedes "0" in the text as in the map.
  assert.deepStrictEqual(Object.keys(JSON.parse(text)).sort(), ["0", "__metadata__", "z"]);
  assert.ok(text.indexOf('"z":') < text.indexOf('"0":'));
  const bad: RawTensor = { dtype: "float32", shape: [3], data: new Uint8Array(4) };
  assert.throws(() => safetensorsHeader(new Map([["w", bad]])), /w: float32 \[3\] needs 12/);
});

Deno.test("toFloat32 converts float16, bfloat16, float64 and integers", () => {
  const f16 = new Uint16Array([0x3c00, 0xc000, 0x7bff, 0x0001, 0x7c00, 0xfc00, 0x8000, 0x3555]);
  const t16: RawTensor = { dtype: "float16", shape: [8], data: new Uint8Array(f16.buffer) };
  const got = toFloat32(t16);
  assert.deepStrictEqual(Array.from(got.subarray(0, 6)), [
    1,
    -2,
    65504,
    2 ** -24,
    Infinity,
    -Infinity,
  ]);
  assert.ok(Object.is(got[6], -0));
  assert.deepStrictEqual(got[7], Math.fround((1 + 0x155 / 1024) * 2 ** -2));
  const nan: RawTensor = { dtype: "float16", shape: [], data: new Uint8Array([0x00, 0x7e]) };
  assert.ok(Number.isNaN(toFloat32(nan)[0]));
  const bf: RawTensor = {
    dtype: "bfloat16",
    shape: [2],
    data: new Uint8Array([0, 0x3f, 0x80, 0xbf]),
  };
  assert.deepStrictEqual(Array.from(toFloat32(bf)), [0.5, -1]);
  const f64: RawTensor = {
    dtype: "float64",
    shape: [2],
    data: new Uint8Array(new Float64Array([0.1, -3]).buffer),
  };
  assert.deepStrictEqual(Array.from(toFloat32(f64)), [Math.fround(0.1), -3]);
  const i64: RawTensor = {
    dtype: "int64",
    shape: [2],
    data: new Uint8Array(new BigInt64Array([-7n, 1n << 40n]).buffer),
  };
  assert.deepStrictEqual(Array.from(toFloat32(i64)), [-7, 2 ** 40]);
  // Unaligned views are copied, not misread.
  const buf = new Uint8Array(9);
  buf.set(new Uint8Array(new Float32Array([1.5, -2]).buffer), 1);
  assert.deepStrictEqual(
    Array.from(toFloat32({ dtype: "float32", shape: [2], data: buf.subarray(1) })),
    [
      1.5,
      -2,
    ],
  );
  assert.throws(
    () => toFloat32({ dtype: "int32", shape: [3], data: new Uint8Array(8) }),
    /int32 and shape \[3\] needs 12 bytes, has 8/,
  );
});
