// Configuring the native runtime without environment variables: configureRuntime refuses bad
// values naming the option and refuses once the shim is loaded; in a fresh process its settings
// apply from the load on; the commands' environment variables are read (and refused) in
// src/cli/env.ts; loader workers load the codec library the main thread was configured with.
import "./native.ts";
import assert from "node:assert";
import { configureRuntime } from "../mod.ts";
import { runtimeFromEnv } from "../src/cli/env.ts";
import { configureImageCodec, imageLibraryPath } from "../src/data/codec_native.ts";

const url = (p: string) => JSON.stringify(new URL(p, import.meta.url).href);

/** Runs `code` as a fresh process (no ECN_* variables); returns its last stdout line as JSON. */
async function fresh(code: string): Promise<Record<string, unknown>> {
  const dir = await Deno.makeTempDir({ prefix: "runtime_config_" });
  try {
    await Deno.writeTextFile(`${dir}/child.ts`, code);
    const env = Object.fromEntries(
      Object.entries(Deno.env.toObject()).filter(([k]) => !k.startsWith("ECN_")),
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${dir}/child.ts`],
      env,
      clearEnv: true,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    const stderr = new TextDecoder().decode(out.stderr);
    assert.strictEqual(out.code, 0, `child exited with ${out.code}: ${stderr}`);
    return JSON.parse(stdout.trim().split("\n").pop()!);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("configureRuntime refuses bad values, naming the option", () => {
  const cases: Array<[Parameters<typeof configureRuntime>[0], RegExp]> = [
    [{ numThreads: 0 }, /numThreads must be a positive integer, got 0/],
    [{ numThreads: 1.5 }, /numThreads must be a positive integer/],
    [{ cpuCacheMb: -1 }, /cpuCacheMb must be a non-negative integer \(MiB\), got -1/],
    [{ cpuCacheMb: 0.5 }, /cpuCacheMb must be a non-negative integer/],
    [{ libraryPath: "" }, /libraryPath must be a file path/],
    [{ cpuCache: "yes" as unknown as boolean }, /cpuCache must be true or false/],
    [{ fusedConvolution: 1 as unknown as boolean }, /fusedConvolution must be true or false/],
  ];
  for (const [opts, re] of cases) {
    assert.throws(
      () => configureRuntime(opts),
      (e: Error) => e instanceof RangeError && re.test(e.message),
    );
  }
});

Deno.test("configureRuntime after the shim is loaded is an error that says what to use", () => {
  // tests/native.ts loaded the shim.
  assert.throws(
    () => configureRuntime({ numThreads: 2 }),
    /already loaded .*before the first tensor operation.*setNumThreads/,
  );
});

Deno.test("configureRuntime before the first op sets threads and the CPU cache at load", async () => {
  const child = (opts: string) =>
    fresh(`
import { configureRuntime, cpuCacheStats, fusedConvolutionIsNative, getNumThreads, zeros } from ${
      url("../mod.ts")
    };
configureRuntime(${opts});
zeros([1]).dispose();
const s = cpuCacheStats();
console.log(JSON.stringify({
  threads: getNumThreads(), enabled: s.enabled, cap: s.capBytes, fused: fusedConvolutionIsNative(),
}));
`);
  const a = await child("{ numThreads: 1, cpuCache: false, fusedConvolution: false }");
  assert.deepStrictEqual([a.threads, a.enabled, a.fused], [1, false, false]);
  const b = await child("{ numThreads: 2, cpuCacheMb: 3 }");
  assert.deepStrictEqual([b.threads, b.enabled, b.cap], [2, true, 3 * 2 ** 20]);
  // No configuration at all: every core, the cache on with a quarter of the memory.
  const c = await child("{}");
  assert.strictEqual(c.threads, navigator.hardwareConcurrency);
  assert.strictEqual(c.enabled, true);
  assert.strictEqual(c.cap, Math.floor(Deno.systemMemoryInfo().total / 4));
});

Deno.test("the commands' variables are read in src/cli/env.ts and refused by name", () => {
  assert.deepStrictEqual(runtimeFromEnv({}), {});
  assert.deepStrictEqual(
    runtimeFromEnv({
      ECN_TORCH_LIB: "/x/libecn_torch.so",
      ECN_NUM_THREADS: "3",
      ECN_CPU_CACHE: "0",
      ECN_CPU_CACHE_MB: "64",
      ECN_FUSED_CONV: "0",
    }),
    {
      libraryPath: "/x/libecn_torch.so",
      numThreads: 3,
      cpuCache: false,
      cpuCacheMb: 64,
      fusedConvolution: false,
    },
  );
  assert.throws(() => runtimeFromEnv({ ECN_FUSED_CONV: "no" }), /ECN_FUSED_CONV must be 0/);
  assert.throws(() => runtimeFromEnv({ ECN_NUM_THREADS: "two" }), /ECN_NUM_THREADS must be/);
  assert.throws(() => runtimeFromEnv({ ECN_CPU_CACHE: "on" }), /ECN_CPU_CACHE must be 0/);
  assert.throws(() => runtimeFromEnv({ ECN_CPU_CACHE_MB: "" }), /ECN_CPU_CACHE_MB must be/);
});

Deno.test("configureImageCodec refuses an empty path and keeps the one it had", () => {
  const before = imageLibraryPath();
  assert.throws(() => configureImageCodec({ libraryPath: "" }), RangeError);
  assert.strictEqual(imageLibraryPath(), before);
});

Deno.test("loader workers load the codec library the main thread was configured with", async () => {
  const r = await fresh(`
import { configureImageCodec, DataLoader, encodePng, testTransformConfig } from ${url("../mod.ts")};
const dir = Deno.makeTempDirSync();
Deno.writeFileSync(dir + "/0001_c1.png", encodePng({ width: 4, height: 8, data: new Uint8Array(96) }));
const items = [{ path: dir + "/0001_c1.png", pid: 1, cam: 0 }];
const run = async (workers) => {
  const loader = new DataLoader(items, {
    batchSize: 1, workers, transform: testTransformConfig({ height: 8, width: 4 }),
  });
  try {
    for await (const b of loader.epoch(0)) return "ok " + b.size;
  } catch (e) {
    return e.message;
  } finally {
    loader.close();
  }
};
const good = await run(1);
configureImageCodec({ libraryPath: "/nonexistent/libecn_image_other.so" });
const bad = await run(1);
Deno.removeSync(dir, { recursive: true });
console.log(JSON.stringify({ good, bad }));
`);
  assert.strictEqual(r.good, "ok 1");
  assert.match(
    String(r.bad),
    /cannot load the image codec library from \/nonexistent\/libecn_image_other\.so/,
  );
});
