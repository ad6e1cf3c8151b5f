// A process that dies from a signal never reports success. Deno itself exits with 128+signal, but
// npm's Deno launcher (node_modules/deno/bin.cjs) turns a signal death into exit status 0;
// scripts/setup.sh therefore points node_modules/.bin/deno at the binary, and the shim ends the
// process itself on SIGFPE, SIGILL, SIGBUS and SIGABRT with a message and status 128+signal.
// Each crash runs in a child: through Deno directly, through node_modules/.bin/deno (the README's
// commands) and through `deno task`.
import assert from "node:assert";

const ROOT = decodeURIComponent(new URL("../", import.meta.url).pathname);
const CRASH = `${ROOT}tests/fixtures/crash.ts`;
const LAUNCHER = `${ROOT}node_modules/.bin/deno`;
let haveLauncher = false;
try {
  haveLauncher = Deno.statSync(LAUNCHER).isFile;
} catch {
  console.warn(`exit_status_test: ${LAUNCHER} is absent; its checks are skipped`);
}

interface Exit {
  code: number;
  signal: string | null;
  stdout: string;
  stderr: string;
}

async function run(cmd: string, args: string[], cwd = ROOT): Promise<Exit> {
  const out = await new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "piped" }).output();
  const dec = new TextDecoder();
  return {
    code: out.code,
    signal: out.signal,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
  };
}

// [crash, the exit status 128+signal]
const CRASHES: Array<[string, number]> = [["fpe", 136], ["abort", 134], ["segv", 139], [
  "kill",
  137,
]];

Deno.test("a signal death exits with 128+signal from deno run", async () => {
  for (const [what, status] of CRASHES) {
    const r = await run(Deno.execPath(), ["run", "-A", CRASH, what]);
    assert.ok(!r.stdout.includes("survived"), `${what}: the process went on`);
    assert.strictEqual(r.code, status, `${what}: exit ${r.code} (signal ${r.signal})\n${r.stderr}`);
    if (what === "fpe" || what === "abort") {
      assert.match(r.stderr, /ecn_torch: fatal SIG(FPE|ABRT)/, `${what}: no message`);
    }
  }
});

Deno.test({
  name: "a signal death is not success through node_modules/.bin/deno and deno task",
  ignore: !haveLauncher,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "ecn_exit_" });
    try {
      await Deno.writeTextFile(
        `${dir}/deno.json`,
        JSON.stringify({ tasks: { crash: `deno run -A ${JSON.stringify(CRASH)}` } }),
      );
      for (const [what, status] of CRASHES) {
        const direct = await run(LAUNCHER, ["run", "-A", CRASH, what]);
        assert.strictEqual(
          direct.code,
          status,
          `node_modules/.bin/deno run, ${what}: exit ${direct.code}; if it is npm's launcher ` +
            `(node_modules/deno/bin.cjs, which reports a signal death as 0), run scripts/setup.sh ` +
            `again: it points node_modules/.bin/deno at the Deno binary`,
        );
        const task = await run(LAUNCHER, [
          "task",
          "-q",
          "--config",
          `${dir}/deno.json`,
          "crash",
          what,
        ], dir);
        assert.notStrictEqual(task.code, 0, `deno task ${what}: exit 0 after a signal death`);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// PyTorch 1.13's BatchNorm2d(0) refuses a [2, 0, 4, 4] input in both modes with "select(): index 0
// out of range for tensor of size [0]"; so does this library, with a TorchError (the train-mode
// call used to end the process with SIGFPE and exit status 0).
Deno.test("BatchNorm2d(0) on [2, 0, 4, 4]: a TorchError as in PyTorch, not a crash", async () => {
  const r = await run(Deno.execPath(), ["run", "-A", CRASH, "batchnorm0"]);
  assert.strictEqual(r.code, 0, `exit ${r.code} (signal ${r.signal})\n${r.stderr}`);
  const want = "TorchError batchNorm: select(): index 0 out of range for tensor of size [0] " +
    "at dimension 0";
  assert.deepStrictEqual(JSON.parse(r.stdout.trim()), { train: want, eval: want });
});
