// Fuzzing of the native boundary: every entry point of src/ffi/symbols.ts with empty and zero-sized
// shapes, null out-parameters and handles, degenerate parameters and every dtype
// (tests/fixtures/fuzz_cases.ts). Each case runs in a child process and must raise TorchError or
// return a result its checks accept; a case that ends its process (a signal from native code, an
// abort) fails the test by name. Cases run in groups per child; a group whose child dies is run
// again one case per child, to name the culprit.
import "./native.ts";
import assert from "node:assert";
import { SYMBOLS } from "../src/ffi/symbols.ts";
import { fuzzCases } from "./fixtures/fuzz_cases.ts";

const CHILD = new URL("./fixtures/fuzz_child.ts", import.meta.url).pathname;
const GROUP = 400;

interface Result {
  i: number;
  id: string;
  outcome: "ok" | "error" | "wrong";
  msg: string;
}

interface ChildRun {
  results: Result[];
  called: string[];
  code: number;
  signal: string | null;
  stderr: string;
}

async function runChild(indices: Array<number | string>): Promise<ChildRun> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CHILD, ...indices.map(String)],
    stdout: "piped",
    stderr: "piped",
    env: { ECN_NUM_THREADS: "1" },
  }).output();
  const results: Result[] = [];
  let called: string[] = [];
  let done = false;
  for (const line of new TextDecoder().decode(out.stdout).split("\n")) {
    if (!line.startsWith("{")) continue;
    const o = JSON.parse(line);
    if (o.done) {
      done = true;
      called = o.called;
    } else results.push(o);
  }
  const stderr = new TextDecoder().decode(out.stderr);
  // A child that printed its summary but exited badly still counts as a dead process.
  const code = done ? out.code : (out.code === 0 ? -1 : out.code);
  return { results, called, code, signal: out.signal, stderr };
}

Deno.test("fuzz: every native entry point survives empty shapes, nulls and every dtype", async () => {
  const ids = [...fuzzCases().keys()];
  const n = ids.length;
  const all = ids.map((_, i) => i);
  const groups: number[][] = [];
  for (let i = 0; i < n; i += GROUP) groups.push(all.slice(i, i + GROUP));
  const results = new Map<number, Result>();
  const called = new Set<string>();
  const dead: string[] = [];
  let children = 0;
  const t0 = performance.now();
  // Two children at a time: the groups are independent.
  const queue = [...groups];
  const worker = async () => {
    for (let g = queue.shift(); g; g = queue.shift()) {
      children++;
      const run = await runChild(g);
      run.called.forEach((s) => called.add(s));
      if (run.code === 0 && run.results.length === g.length) {
        for (const r of run.results) results.set(r.i, r);
        continue;
      }
      // Something in this group ended the process: one child per case names it.
      for (const i of g) {
        children++;
        const one = await runChild([i]);
        one.called.forEach((s) => called.add(s));
        if (one.code === 0 && one.results.length === 1) results.set(i, one.results[0]);
        else {
          const tail = one.stderr.trim().split("\n").slice(-3).join(" | ");
          dead.push(`${ids[i]}: process died (exit ${one.code}, signal ${one.signal}): ${tail}`);
        }
      }
    }
  };
  await Promise.all([worker(), worker()]);
  const secs = (performance.now() - t0) / 1000;
  const wrong = [...results.values()].filter((r) => r.outcome === "wrong");
  const refused = [...results.values()].filter((r) => r.outcome === "error").length;
  const ok = [...results.values()].filter((r) => r.outcome === "ok").length;
  console.log(
    `fuzz: ${n} cases in ${children} child processes (${secs.toFixed(1)} s): ${ok} correct ` +
      `results, ${refused} TorchErrors, ${wrong.length} wrong, ${dead.length} dead processes`,
  );
  assert.deepStrictEqual(dead, [], `cases that killed their process:\n${dead.join("\n")}`);
  assert.deepStrictEqual(
    wrong.map((r) => `${r.id}: ${r.msg}`),
    [],
    "cases whose result was wrong (or that threw something other than TorchError)",
  );
  assert.strictEqual(results.size, n, "every case reported");
  const missing = Object.keys(SYMBOLS).filter((s) => !called.has(s));
  assert.deepStrictEqual(missing, [], "native entry points no fuzz case reaches");
  assert.ok(n >= 3000, `only ${n} cases`);
});

Deno.test("fuzz: a case that ends its process is detected", async () => {
  const run = await runChild([0, "segv", 1]);
  assert.strictEqual(run.results.length, 1, "the case before the crash reported");
  assert.notStrictEqual(run.code, 0, "a dead child counts as failed");
});
