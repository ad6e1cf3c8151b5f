/**
 * Test harness: runs op cases in the project and in PyTorch (one oracle process for a list of
 * cases) on the same random inputs, and compares outputs and input gradients.
 */
import "./native.ts";
import { mulberry32 } from "../src/util/random.ts";
import assert from "node:assert";
import { manualSeed, type Tensor, tensor } from "../src/tensor/mod.ts";
import { runOracleJson } from "./oracle/oracle.ts";

/** A seeded PRNG (mulberry32, the generator the synthetic data uses) for test data. */
export const prng: (seed: number) => () => number = mulberry32;

/** How one input of a case is made. */
export interface InputSpec {
  shape: number[];
  dtype?: "float32" | "float64" | "int64" | "bool";
  requiresGrad?: boolean;
  /** normal (default), positive (0.5..2), int range [lo, hi), or explicit data. */
  gen?: "normal" | "positive" | { int: [number, number] } | { data: number[] };
}

/** One op case: the project side and the PyTorch expression over the same named inputs. */
export interface OpCase {
  name: string;
  inputs: Record<string, InputSpec>;
  /** Python expression over the inputs, `torch` and `F`. */
  expr: string;
  /** The project side. */
  run: (v: Record<string, Tensor>) => Tensor | Tensor[];
  /** Relative tolerance (default 1e-5). */
  tol?: number;
  /** Seed both sides' global generator with this before running (dropout). */
  seed?: number;
  /** Inputs to compare after the call (in-place updates such as running statistics). */
  after?: string[];
  /** Set false to skip the backward check even when inputs require grad. */
  backward?: boolean;
}

interface Flat {
  shape: number[];
  data: number[];
}

interface OracleResult {
  outs: Flat[];
  grads: Record<string, Flat>;
  after: Record<string, Flat>;
}

function makeData(spec: InputSpec, rnd: () => number): number[] {
  const n = spec.shape.reduce((a, b) => a * b, 1);
  const g = spec.gen ?? "normal";
  if (typeof g === "object" && "data" in g) return g.data;
  const out: number[] = new Array(n);
  for (let i = 0; i < n; i++) {
    if (g === "normal") {
      const u = Math.max(rnd(), 1e-12);
      const v = rnd();
      out[i] = Math.fround(Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v));
    } else if (g === "positive") {
      out[i] = Math.fround(0.5 + 1.5 * rnd());
    } else {
      const [lo, hi] = g.int;
      out[i] = lo + Math.floor(rnd() * (hi - lo));
    }
  }
  if (spec.dtype === "bool") return out.map((x) => (x > 0 ? 1 : 0));
  return out;
}

function toFlat(t: Tensor): Flat {
  const a = t.toArray();
  const data = a instanceof BigInt64Array ? Array.from(a, Number) : Array.from(a as Float32Array);
  return { shape: [...t.shape], data };
}

/** Relative error: max |a - b| / max(max |b|, 1e-6). */
export function relError(a: number[], b: number[]): number {
  let diff = 0;
  let scale = 1e-6;
  for (let i = 0; i < b.length; i++) {
    if (Number.isNaN(a[i]) !== Number.isNaN(b[i])) return Infinity;
    if (Number.isNaN(b[i])) continue;
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / scale;
}

function compare(label: string, got: Flat, want: Flat, tol: number): string | null {
  if (got.shape.join(",") !== want.shape.join(",")) {
    return `${label}: shape [${got.shape}] != [${want.shape}]`;
  }
  if (got.data.length !== want.data.length) return `${label}: length mismatch`;
  const e = relError(got.data, want.data);
  return e <= tol ? null : `${label}: relative error ${e.toExponential(3)} > ${tol}`;
}

/** Runs the cases on both sides; returns a list of failure messages (empty when all agree). */
export async function runOpCases(cases: OpCase[], seed = 1234): Promise<string[]> {
  const rnd = prng(seed);
  const payload = [];
  const ours: Array<
    { outs: Tensor[]; inputs: Record<string, Tensor>; gradOut?: Tensor; gradData?: number[] }
  > = [];
  for (const c of cases) {
    const specs: Record<string, unknown> = {};
    const inputs: Record<string, Tensor> = {};
    for (const [name, spec] of Object.entries(c.inputs)) {
      const data = makeData(spec, rnd);
      const dtype = spec.dtype ?? "float32";
      specs[name] = { data, shape: spec.shape, dtype, requiresGrad: !!spec.requiresGrad };
      const arr = dtype === "int64"
        ? BigInt64Array.from(data.map(BigInt))
        : dtype === "bool"
        ? Uint8Array.from(data)
        : dtype === "float64"
        ? Float64Array.from(data)
        : Float32Array.from(data);
      let t = tensor(arr, { shape: spec.shape });
      if (dtype === "bool") {
        const b = t.to({ dtype: "bool" });
        t.dispose();
        t = b;
      }
      if (spec.requiresGrad) t.setRequiresGrad(true);
      inputs[name] = t;
    }
    if (c.seed !== undefined) manualSeed(c.seed);
    const r = c.run(inputs);
    const outs = Array.isArray(r) ? r : [r];
    const wantGrad = c.backward !== false && Object.values(c.inputs).some((s) => s.requiresGrad);
    let gradOut: Tensor | undefined;
    let gradData: number[] | undefined;
    if (wantGrad) {
      gradData = makeData({ shape: [...outs[0].shape] }, rnd);
      gradOut = tensor(Float32Array.from(gradData), { shape: [...outs[0].shape] });
    }
    payload.push({
      name: c.name,
      expr: c.expr,
      inputs: specs,
      seed: c.seed,
      gradOut: wantGrad ? { data: gradData, shape: outs[0].shape, dtype: "float32" } : null,
      after: c.after ?? [],
    });
    ours.push({ outs, inputs, gradOut, gradData });
  }
  const want = await runOracleJson<OracleResult[]>("ops_reference.py", payload);
  const failures: string[] = [];
  for (let i = 0; i < cases.length; i++) {
    const c = cases[i];
    const tol = c.tol ?? 1e-5;
    const o = ours[i];
    const w = want[i];
    assert(w.outs.length === o.outs.length);
    for (let k = 0; k < o.outs.length; k++) {
      const f = compare(`${c.name} output ${k}`, toFlat(o.outs[k]), w.outs[k], tol);
      if (f) failures.push(f);
    }
    if (o.gradOut) {
      try {
        o.outs[0].backward(o.gradOut);
        for (const [name, g] of Object.entries(w.grads)) {
          const mine = o.inputs[name].grad;
          if (!mine) {
            failures.push(`${c.name}: no gradient for ${name}`);
            continue;
          }
          const f = compare(`${c.name} grad ${name}`, toFlat(mine), g, tol);
          if (f) failures.push(f);
          mine.dispose();
        }
      } catch (e) {
        failures.push(`${c.name}: backward failed: ${(e as Error).message}`);
      }
    }
    for (const [name, a] of Object.entries(w.after)) {
      const f = compare(`${c.name} after ${name}`, toFlat(o.inputs[name]), a, tol);
      if (f) failures.push(f);
    }
    for (const t of [...o.outs, ...Object.values(o.inputs)]) t.dispose();
    o.gradOut?.dispose();
  }
  return failures;
}
