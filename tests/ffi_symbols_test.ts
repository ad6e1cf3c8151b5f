// The foreign-symbol table (src/ffi/symbols.ts) agrees with the C header (native/ecn_torch.h).
import assert from "node:assert";
import { SYMBOLS } from "../src/ffi/symbols.ts";

function ffiType(c: string): string {
  c = c.trim();
  if (c === "ts_tensor" || c === "const char*") return "pointer";
  if (c.includes("*")) return "buffer";
  const map: Record<string, string> = {
    int32_t: "i32",
    int64_t: "i64",
    double: "f64",
    void: "void",
  };
  if (!(c in map)) throw new Error(`unmapped C type '${c}'`);
  return map[c];
}

Deno.test("every TS_API declaration in the header has the same entry in SYMBOLS, and no more", () => {
  const header = Deno.readTextFileSync(new URL("../native/ecn_torch.h", import.meta.url));
  const decls = header.split("\n").filter((l) => l.startsWith("TS_API "));
  assert.ok(decls.length > 50, `expected the full API, found ${decls.length} declarations`);
  const fromHeader: Record<string, { parameters: string[]; result: string }> = {};
  for (const d of decls) {
    const m = d.match(/^TS_API (.+?)\s*(\w+)\((.*)\);$/);
    assert.ok(m, `cannot parse: ${d}`);
    const [, ret, name, params] = m!;
    const parameters = params.trim() === "void" ? [] : params.split(",").map((p) => {
      const t = p.trim().replace(/\s*\w+$/, "");
      return ffiType(t);
    });
    const r = ret.trim();
    fromHeader[name] = { parameters, result: r === "const char*" ? "pointer" : ffiType(r) };
  }
  const fromTable = Object.fromEntries(
    Object.entries(SYMBOLS).map((
      [k, v],
    ) => [k, { parameters: [...v.parameters], result: v.result }]),
  );
  assert.deepStrictEqual(fromTable, fromHeader);
});
