// Two commands started at once (two `deno task train` runs from one checkout, say) both run
// scripts/build.ts. Each build writes its objects, libraries and header probes into files of its
// own and renames them into place; with shared temporary names one build removed or renamed the
// other's file and failed ("No such file or directory ... libecn_torch.so.tmp").
import assert from "node:assert";

const ROOT = decodeURIComponent(new URL("../", import.meta.url).pathname);
const BUILD = `${ROOT}build/`;

async function build(): Promise<{ code: number; output: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}scripts/build.ts`],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, output: dec.decode(out.stdout) + dec.decode(out.stderr) };
}

Deno.test("two builds at once both link the shim and the image library", async () => {
  // Forget the link stamps so that both builds link both libraries (compiled objects are kept:
  // the test costs two links, not a rebuild).
  for (const stamp of ["link.stamp", "image.stamp"]) {
    try {
      Deno.removeSync(BUILD + stamp);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
  const [a, b] = await Promise.all([build(), build()]);
  assert.strictEqual(a.code, 0, a.output);
  assert.strictEqual(b.code, 0, b.output);
  for (const out of [a, b]) {
    assert.match(out.output, /libecn_torch\.so/);
    assert.match(out.output, /libecn_image\.so/);
  }
  const left = [...Deno.readDirSync(BUILD)].map((e) => e.name).filter((n) => n.endsWith(".tmp"));
  assert.deepStrictEqual(left, [], "temporary files left in build/");
  // The libraries in place are whole: a third build finds everything up to date.
  const c = await build();
  assert.strictEqual(c.code, 0, c.output);
  assert.doesNotMatch(c.output, /compiling/);
});
