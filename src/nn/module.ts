/**
 * The Module base class: named parameters, buffers and submodules whose dotted names equal
 * PyTorch's state-dict keys, train/eval mode, freezing, state dicts and explicit disposal.
 *
 * Parameters and buffers live outside scopes (they are `keep()`-ed when registered), so a
 * caller's `scope()` around a training step never frees them; `dispose()` frees them.
 * Subclasses should read their tensors through `param(name)` / `buffer(name)` (or getters over
 * them) rather than caching them in fields, because `to(device)` replaces the tensors.
 *
 * @module
 */
import { type DeviceLike, type DType, keep, noGrad, Tensor, TorchError } from "../tensor/mod.ts";
import type { RawStateDict } from "./weights.ts";
import { rawToTensor } from "./state_dict.ts";

/** Result of {@link Module.loadStateDict}: keys the module has that the dict lacked, and back. */
export interface LoadResult {
  /** Keys of the module not found in the state dict. */
  missing: string[];
  /** Keys of the state dict the module does not have. */
  unexpected: string[];
}

/** Base class of every layer and network. */
export abstract class Module {
  /** Training mode (dropout active, BatchNorm on batch statistics). */
  training = true;
  readonly #params: Map<string, Tensor | null> = new Map();
  readonly #buffers: Map<string, Tensor | null> = new Map();
  readonly #modules: Map<string, Module> = new Map();

  /** The forward computation. */
  abstract forward(x: Tensor): Tensor;

  /** Registers a parameter (kept out of scopes, gradient recording on); null for "no bias". */
  protected registerParameter(name: string, t: Tensor | null): Tensor | null {
    this.#checkName(name);
    if (t !== null) {
      keep(t);
      if (!t.requiresGrad) t.setRequiresGrad(true);
    }
    this.#params.set(name, t);
    return t;
  }

  /** Registers a buffer: state that is saved but not trained (kept out of scopes). */
  protected registerBuffer(name: string, t: Tensor | null): Tensor | null {
    this.#checkName(name);
    if (t !== null) keep(t);
    this.#buffers.set(name, t);
    return t;
  }

  /** Registers a submodule under `name` (its keys get the prefix `name.`). */
  protected registerModule<M extends Module>(name: string, m: M): M {
    this.#checkName(name);
    this.#modules.set(name, m);
    return m;
  }

  #checkName(name: string): void {
    if (name === "" || name.includes(".")) {
      throw new TorchError("Module.register", `invalid name ${JSON.stringify(name)}`);
    }
    if (this.#params.has(name) || this.#buffers.has(name) || this.#modules.has(name)) {
      throw new TorchError(
        "Module.register",
        `${this.constructor.name} already has a member named ${JSON.stringify(name)}`,
      );
    }
  }

  /** This module's own parameter `name` (throws when it is absent or null). */
  param(name: string): Tensor {
    const t = this.#params.get(name);
    if (!t) {
      throw new TorchError(
        "Module.param",
        `${this.constructor.name} has no parameter ${JSON.stringify(name)}`,
      );
    }
    return t;
  }

  /** This module's own parameter `name`, or null when registered as null (e.g. no bias). */
  paramOrNull(name: string): Tensor | null {
    if (!this.#params.has(name)) this.param(name);
    return this.#params.get(name) ?? null;
  }

  /** This module's own buffer `name` (throws when it is absent or null). */
  buffer(name: string): Tensor {
    const t = this.#buffers.get(name);
    if (!t) {
      throw new TorchError(
        "Module.buffer",
        `${this.constructor.name} has no buffer ${JSON.stringify(name)}`,
      );
    }
    return t;
  }

  /** Direct children, in registration order. */
  children(): Array<[string, Module]> {
    return [...this.#modules];
  }

  /** All parameters with dotted names (equal to PyTorch's state-dict keys). */
  namedParameters(prefix = ""): Array<[string, Tensor]> {
    const out: Array<[string, Tensor]> = [];
    for (const [name, m] of this.namedModules(prefix)) {
      const p = name === "" ? "" : name + ".";
      for (const [k, t] of m.#params) if (t) out.push([p + k, t]);
    }
    return out;
  }

  /** All parameters, in the order of `namedParameters()` (PyTorch's `parameters()` order). */
  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  /** All buffers with dotted names. */
  namedBuffers(prefix = ""): Array<[string, Tensor]> {
    const out: Array<[string, Tensor]> = [];
    for (const [name, m] of this.namedModules(prefix)) {
      const p = name === "" ? "" : name + ".";
      for (const [k, t] of m.#buffers) if (t) out.push([p + k, t]);
    }
    return out;
  }

  /** This module (named `prefix`) and all descendants, depth first, with dotted names. */
  namedModules(prefix = ""): Array<[string, Module]> {
    const out: Array<[string, Module]> = [[prefix, this]];
    for (const [k, m] of this.#modules) {
      out.push(...m.namedModules(prefix === "" ? k : `${prefix}.${k}`));
    }
    return out;
  }

  /** The descendant at a dotted path, e.g. `"layer2.0.downsample"`. */
  child(path: string): Module {
    // deno-lint-ignore no-this-alias
    let m: Module = this;
    for (const part of path.split(".")) {
      const next = m.#modules.get(part);
      if (!next) {
        throw new TorchError(
          "Module.child",
          `no submodule ${JSON.stringify(path)}: ${m.constructor.name} has no child ` +
            `${JSON.stringify(part)} (children: ${[...m.#modules.keys()].join(", ") || "none"})`,
        );
      }
      m = next;
    }
    return m;
  }

  /** Sets training mode on this module and all descendants. */
  train(mode = true): this {
    for (const [, m] of this.namedModules()) m.training = mode;
    return this;
  }

  /** Sets eval mode on this module and all descendants. */
  eval(): this {
    return this.train(false);
  }

  /** Turns gradient recording on or off for every parameter (freezing). */
  setRequiresGrad(flag: boolean): this {
    for (const t of this.parameters()) t.setRequiresGrad(flag);
    return this;
  }

  /** Parameters and buffers by PyTorch key, in PyTorch's `state_dict()` order (same tensors). */
  stateDict(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    for (const [name, m] of this.namedModules()) {
      const p = name === "" ? "" : name + ".";
      for (const [k, t] of m.#params) if (t) out.set(p + k, t);
      for (const [k, t] of m.#buffers) if (t) out.set(p + k, t);
    }
    return out;
  }

  /**
   * Copies values from `sd` (tensors or raw weight-file tensors) into this module's parameters
   * and buffers, in place. With `strict` (the default) any missing, unexpected or wrongly shaped
   * key throws one error listing all of them, and nothing is copied; otherwise the matching keys
   * are copied and wrongly shaped ones still throw.
   */
  loadStateDict(
    sd: Map<string, Tensor> | RawStateDict,
    opts: { strict?: boolean } = {},
  ): LoadResult {
    const strict = opts.strict ?? true;
    const own = this.stateDict();
    const missing = [...own.keys()].filter((k) => !sd.has(k));
    const unexpected = [...sd.keys()].filter((k) => !own.has(k));
    const misShaped: string[] = [];
    for (const [k, t] of own) {
      const src = sd.get(k);
      if (src === undefined) continue;
      const s = src.shape;
      if (s.length !== t.shape.length || s.some((d, i) => d !== t.shape[i])) {
        misShaped.push(`${k}: file has [${s}], model needs [${t.shape}]`);
      }
    }
    if (misShaped.length > 0 || (strict && (missing.length > 0 || unexpected.length > 0))) {
      const parts: string[] = [];
      if (missing.length > 0) parts.push(`missing keys (${missing.length}): ${missing.join(", ")}`);
      if (unexpected.length > 0) {
        parts.push(`unexpected keys (${unexpected.length}): ${unexpected.join(", ")}`);
      }
      if (misShaped.length > 0) {
        parts.push(`wrongly shaped keys (${misShaped.length}): ${misShaped.join("; ")}`);
      }
      throw new TorchError(
        "loadStateDict",
        `state dict does not fit ${this.constructor.name}: ${parts.join(" | ")}`,
      );
    }
    noGrad(() => {
      for (const [k, t] of own) {
        const src = sd.get(k);
        if (src === undefined) continue;
        if (isTensor(src)) {
          t.copy_(src);
        } else {
          using tmp = rawToTensor(src, k);
          t.copy_(tmp);
        }
      }
    });
    return { missing, unexpected };
  }

  /**
   * Moves (and/or converts floating tensors of) every parameter and buffer, replacing them with
   * new tensors; gradient flags are preserved and the old tensors are freed. Returns this.
   */
  to(opts: { device?: DeviceLike; dtype?: DType }): this {
    for (const [, m] of this.namedModules()) {
      for (const map of [m.#params, m.#buffers]) {
        for (const [k, t] of map) {
          if (!t) continue;
          const floating = t.dtype.startsWith("float") || t.dtype === "bfloat16";
          const moved = noGrad(() =>
            t.to({ device: opts.device, dtype: floating ? opts.dtype : undefined })
          );
          keep(moved);
          if (map === m.#params && t.requiresGrad) moved.setRequiresGrad(true);
          t.dispose();
          map.set(k, moved);
        }
      }
    }
    return this;
  }

  /** Frees every parameter and buffer of this module and its descendants. */
  dispose(): void {
    for (const [, m] of this.namedModules()) {
      for (const t of m.#params.values()) t?.dispose();
      for (const t of m.#buffers.values()) t?.dispose();
      m.disposeExtra();
    }
  }

  /** Frees tensors a subclass holds besides its parameters and buffers (caches); see dispose. */
  protected disposeExtra(): void {}

  /** `using model = ...` support. */
  [Symbol.dispose](): void {
    this.dispose();
  }
}

function isTensor(x: unknown): x is Tensor {
  return x instanceof Tensor;
}
