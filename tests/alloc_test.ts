// The caching CPU allocator (native/alloc.cpp, src/tensor/cpu_cache.ts): it returns what it hands
// out, holds no more than its cap, gives everything back on release and at exit, and changes no
// result. Each case runs in a child process so that ECN_CPU_CACHE / ECN_CPU_CACHE_MB apply from
// the shim's load on (read by src/cli/env.ts, as every command of the project does).
import assert from "node:assert";

const ENV_TS = JSON.stringify(new URL("../src/cli/env.ts", import.meta.url).href);

const CHILD = `
import { configureFromEnv } from ${ENV_TS};
import * as T from ${JSON.stringify(new URL("../src/tensor/mod.ts", import.meta.url).href)};
import { configureCpuCache, cpuCacheStats, releaseCpuCache } from ${
  JSON.stringify(new URL("../src/tensor/cpu_cache.ts", import.meta.url).href)
};
configureFromEnv();
const mode = Deno.args[0];
const out = {};
// Work of a training step's shape: convolutions, their gradients and many freed activations.
function work() {
  T.manualSeed(0);
  return T.scope(() => {
    const x = T.randn([4, 3, 64, 32]).setRequiresGrad();
    const w = T.randn([16, 3, 3, 3]).setRequiresGrad();
    let y = T.conv2d(x, w, null, { padding: 1 });
    for (let i = 0; i < 4; i++) y = y.relu().add(y.mul(0.5));
    const loss = y.square().mean();
    loss.backward();
    return [loss.item(), ...w.grad.flatten().toArray().slice(0, 8)];
  });
}
const before = cpuCacheStats();
out.enabledAtLoad = before.enabled;
out.capAtLoad = before.capBytes;
const results = [];
for (let i = 0; i < 5; i++) results.push(work());
const after = cpuCacheStats();
out.results = results;
out.before = before;
out.after = after;
if (mode === "release") {
  releaseCpuCache();
  out.released = cpuCacheStats();
  configureCpuCache({ enabled: false });
  out.off = cpuCacheStats();
  out.offResult = work();
  configureCpuCache({ enabled: true, capBytes: 1 << 20 });
  out.onAgain = cpuCacheStats();
}
console.log(JSON.stringify(out));
`;

async function child(env: Record<string, string>, mode = "run") {
  const dir = await Deno.makeTempDir({ prefix: "alloc_test_" });
  try {
    const script = `${dir}/child.ts`;
    await Deno.writeTextFile(script, CHILD);
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", script, mode],
      env,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.strictEqual(out.code, 0, `child exited with ${out.code}: ${stderr}`);
    return { ...JSON.parse(new TextDecoder().decode(out.stdout)), stderr };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("cpu cache: blocks are reused, all return after use, and results equal glibc's", async () => {
  const on = await child({ ECN_CPU_CACHE: "1" });
  const off = await child({ ECN_CPU_CACHE: "0" });
  assert.strictEqual(on.enabledAtLoad, true);
  assert.strictEqual(off.enabledAtLoad, false);
  // Same numbers, bit for bit, with and without the cache.
  assert.deepStrictEqual(on.results, off.results);
  // Every block handed out during the work came back (nothing leaks into "in use").
  assert.strictEqual(on.after.blocksInUse, on.before.blocksInUse);
  assert.strictEqual(on.after.inUseBytes, on.before.inUseBytes);
  // Steps 2..5 reuse step 1's blocks: mostly hits.
  assert.ok(
    on.after.hits > 4 * on.after.misses,
    `hits ${on.after.hits}, misses ${on.after.misses}`,
  );
  assert.ok(on.after.heldBytes > 0 && on.after.heldBytes <= on.after.capBytes);
  // Off: nothing goes through the cache.
  assert.strictEqual(off.after.hits, 0);
  assert.strictEqual(off.after.heldBytes, 0);
});

Deno.test("cpu cache: never holds more than its cap (ECN_CPU_CACHE_MB)", async () => {
  const r = await child({ ECN_CPU_CACHE: "1", ECN_CPU_CACHE_MB: "1" });
  assert.strictEqual(r.capAtLoad, 2 ** 20);
  assert.ok(r.after.peakHeldBytes <= 2 ** 20, `peak held ${r.after.peakHeldBytes} > 1 MiB`);
  assert.ok(r.after.evictedBytes > 0, "a 1 MiB cap must send blocks back to the system");
  const unlimited = await child({ ECN_CPU_CACHE: "1" });
  assert.deepStrictEqual(r.results, unlimited.results);
});

Deno.test("cpu cache: release and off give every held block back; on again works", async () => {
  const r = await child({ ECN_CPU_CACHE: "1" }, "release");
  assert.strictEqual(r.released.heldBytes, 0);
  assert.strictEqual(r.off.enabled, false);
  assert.strictEqual(r.off.heldBytes, 0);
  assert.deepStrictEqual(r.offResult, r.results[0]);
  assert.strictEqual(r.onAgain.enabled, true);
  assert.strictEqual(r.onAgain.capBytes, 2 ** 20);
  // The process then exited 0: the exit-time release ran after tensors were freed.
});

Deno.test("cpu cache: bad settings are refused with the variable's name", async () => {
  for (
    const [env, re] of [
      [{ ECN_CPU_CACHE: "yes" }, /ECN_CPU_CACHE must be 0 \(off\) or 1 \(on\)/],
      [{ ECN_CPU_CACHE_MB: "-3" }, /ECN_CPU_CACHE_MB must be a non-negative integer/],
    ] as const
  ) {
    const dir = await Deno.makeTempDir({ prefix: "alloc_test_" });
    try {
      await Deno.writeTextFile(
        `${dir}/c.ts`,
        `import { configureFromEnv } from ${ENV_TS};\n` +
          `import * as T from ${
            JSON.stringify(new URL("../src/tensor/mod.ts", import.meta.url).href)
          };\n` +
          `configureFromEnv();\nT.zeros([1]);\n`,
      );
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", `${dir}/c.ts`],
        env,
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.notStrictEqual(out.code, 0);
      assert.match(new TextDecoder().decode(out.stderr), re);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
});
