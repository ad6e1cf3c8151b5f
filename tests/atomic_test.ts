import assert from "node:assert";
import { writeFileAtomic } from "../src/util/atomic.ts";

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const read = async (p: string): Promise<string> => new TextDecoder().decode(await Deno.readFile(p));
async function names(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) out.push(e.name);
  return out.sort();
}

async function* chunks(): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < 3; i++) yield text(String(i));
}

/** Yields a megabyte, then throws: a writer that dies half way. */
function* failing(): Generator<Uint8Array> {
  yield text("half of a new ");
  yield new Uint8Array(1 << 20);
  throw new Error("disk on fire");
}

Deno.test("writeFileAtomic writes bytes, sync chunks and async chunks", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const p = `${dir}/out.bin`;
    await writeFileAtomic(p, text("hello"));
    assert.strictEqual(await read(p), "hello");
    await writeFileAtomic(p, [text("a"), text("bc"), new Uint8Array(0), text("d")]);
    assert.strictEqual(await read(p), "abcd");
    await writeFileAtomic(p, chunks());
    assert.strictEqual(await read(p), "012");
    const big = new Uint8Array(3 << 20).map((_, i) => i * 7);
    await writeFileAtomic(p, big);
    assert.strictEqual((await Deno.readFile(p)).every((v, i) => v === big[i]), true);
    assert.deepStrictEqual(await names(dir), ["out.bin"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a failure mid-write keeps the old file and leaves no temporary file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const p = `${dir}/weights.safetensors`;
    await writeFileAtomic(p, text("good old contents"));
    await assert.rejects(
      () => writeFileAtomic(p, failing()),
      /weights\.safetensors failed \(old contents kept\): disk on fire/,
    );
    assert.strictEqual(await read(p), "good old contents");
    assert.deepStrictEqual(await names(dir), ["weights.safetensors"]);

    // A failing first write creates nothing at all.
    await assert.rejects(() => writeFileAtomic(`${dir}/new.bin`, failing()), /disk on fire/);
    assert.deepStrictEqual(await names(dir), ["weights.safetensors"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeFileAtomic into a missing directory fails naming the path", async () => {
  await assert.rejects(
    () => writeFileAtomic("/nonexistent_dir_ecn/x.bin", text("x")),
    /\/nonexistent_dir_ecn\/x\.bin failed/,
  );
});
