// mod.ts from another Deno project: a separate project in a temporary folder, with its own
// deno.json (no import map of this package), imports mod.ts by absolute path, type-checks, runs a
// few ops and a forward pass, and prints results that this test checks. A second run imports it
// through a path with a space and non-ASCII characters (a symlink to this repository), so the
// shim is found wherever the package lives.
import assert from "node:assert";

const ROOT = decodeURIComponent(new URL("../", import.meta.url).pathname).replace(/\/$/, "");
let HAVE_BUILD = false;
try {
  HAVE_BUILD = Deno.statSync(`${ROOT}/build/libecn_torch.so`).isFile;
} catch {
  console.warn(
    `consumer_test: ${ROOT}/build/libecn_torch.so is absent; the consumer uses ECN_TORCH_LIB`,
  );
}

const PROGRAM = (modPath: string) => `
import * as E from ${JSON.stringify(modPath)};

// The library reads no environment variable: a program that keeps the shim elsewhere says so.
const shim = Deno.env.get("ECN_TORCH_LIB");
if (shim) E.configureRuntime({ libraryPath: shim });

const out = E.scope(() => {
  const a = E.tensor([[1, 2], [3, 4]]);
  const b = E.ones([2, 2]);
  const c = a.mm(b).add(1);
  E.manualSeed(0);
  const net = new E.Sequential(
    new E.Conv2d(3, 4, 3, { padding: 1 }),
    new E.BatchNorm2d(4),
    new E.ReLU(),
  );
  net.eval();
  const y = E.noGrad(() => net.forward(E.ones([1, 3, 5, 5])));
  const m = E.resnet(18, { numClasses: 3 }).eval();
  const logits = E.noGrad(() => m.forward(E.randn([1, 3, 32, 32])));
  const r = { mm: c.toNumbers(), y: y.shape, finite: y.isfinite().all().item(),
    logits: logits.shape, sum: y.sum().item() };
  m.dispose();
  net.dispose();
  return r;
});
let refused = "";
try {
  E.zeros([2, 3]).mm(E.zeros([4, 4]));
} catch (e) {
  refused = e instanceof E.TorchError ? e.op : "not a TorchError";
}
console.log(JSON.stringify({ ...out, refused, live: E.liveTensors() }));
`;

async function runConsumer(modPath: string): Promise<Record<string, unknown>> {
  const dir = await Deno.makeTempDir({ prefix: "ecn_consumer_" });
  try {
    await Deno.writeTextFile(`${dir}/deno.json`, JSON.stringify({ tasks: {} }, null, 2));
    await Deno.writeTextFile(`${dir}/main.ts`, PROGRAM(modPath));
    const env = { ...Deno.env.toObject() };
    // The shim must be found from mod.ts's own location; ECN_TORCH_LIB is kept (and given to
    // configureRuntime) only where this checkout has no build of its own.
    if (HAVE_BUILD) delete env.ECN_TORCH_LIB;
    const out = await new Deno.Command(Deno.execPath(), {
      // No --check: type-checking `node:` imports fetches @types/node from npm, which a test must
      // not need (`deno task check` type-checks the package itself).
      args: ["run", "-A", "--config", `${dir}/deno.json`, `${dir}/main.ts`],
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
      env,
      clearEnv: true,
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    const stderr = new TextDecoder().decode(out.stderr);
    assert.strictEqual(out.code, 0, `consumer failed (exit ${out.code}):\n${stderr}\n${stdout}`);
    return JSON.parse(stdout.trim().split("\n").pop()!);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function checkOutput(r: Record<string, unknown>): void {
  assert.deepStrictEqual(r.mm, [4, 4, 8, 8]);
  assert.deepStrictEqual(r.y, [1, 4, 5, 5]);
  assert.strictEqual(r.finite, 1);
  assert.ok(typeof r.sum === "number" && r.sum >= 0, "ReLU output sums to >= 0");
  assert.deepStrictEqual(r.logits, [1, 3]);
  assert.strictEqual(r.refused, "mm");
  assert.strictEqual(r.live, 2, "only the two tensors of the refused mm outlive the scope");
}

Deno.test("mod.ts works from another project (own deno.json, imported by path)", async () => {
  checkOutput(await runConsumer(`${ROOT}/mod.ts`));
});

Deno.test("mod.ts works from a path with a space and non-ASCII characters", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ecn lib é " });
  try {
    await Deno.symlink(ROOT, `${dir}/ecn for deno`);
    checkOutput(await runConsumer(`${dir}/ecn for deno/mod.ts`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
