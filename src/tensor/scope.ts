/**
 * Lifetimes: scopes free every tensor made inside them, except what they return or keep.
 *
 * @module
 */

/** Anything with an explicit release. */
export interface Disposable {
  /** Frees the object's native resources now. */
  dispose(): void;
  /** Called when no scope owns the object any more (tensors arm their finalizer then). */
  escape?(): void;
}

/** One open scope: the tensors created while it is the innermost one. */
export class Scope {
  /** Tensors owned by this scope. */
  readonly owned: Set<Disposable> = new Set();
}

const stack: Scope[] = [];

/** The innermost open scope, if any. */
export function currentScope(): Scope | undefined {
  return stack.length === 0 ? undefined : stack[stack.length - 1];
}

/** Removes `t` from whatever scope owns it, so that it outlives the scope; returns it. */
export function keep<T extends Disposable>(t: T): T {
  for (let i = stack.length - 1; i >= 0; i--) {
    if (stack[i].owned.delete(t)) break;
  }
  t.escape?.();
  return t;
}

function collect(value: unknown, out: Set<Disposable>, depth = 0): void {
  if (value === null || typeof value !== "object" || depth > 4) return;
  if (typeof (value as Disposable).dispose === "function" && "shape" in (value as object)) {
    out.add(value as Disposable);
    return;
  }
  if (Array.isArray(value)) {
    for (const v of value) collect(v, out, depth + 1);
  } else if (value instanceof Map) {
    for (const v of value.values()) collect(v, out, depth + 1);
  } else if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) collect(v, out, depth + 1);
  }
}

function close(scope: Scope, result: unknown): void {
  const idx = stack.lastIndexOf(scope);
  if (idx >= 0) stack.splice(idx, 1);
  const escaping = new Set<Disposable>();
  collect(result, escaping);
  const parent = currentScope();
  for (const t of scope.owned) {
    if (!escaping.has(t)) t.dispose();
    else if (parent) parent.owned.add(t);
    else t.escape?.();
  }
  scope.owned.clear();
}

/**
 * Runs `fn` in a new scope and frees every tensor created in it, except the tensors it returns
 * (a tensor, or tensors inside returned arrays, Maps and plain objects) and those passed to
 * `keep()`. Returned tensors move to the enclosing scope, if there is one.
 */
export function scope<T>(fn: () => T): T {
  const s = new Scope();
  stack.push(s);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    close(s, undefined);
    throw e;
  }
  if (result instanceof Promise) {
    close(s, undefined);
    throw new Error("scope(fn): fn must be synchronous; use scopeAsync for async functions");
  }
  close(s, result);
  return result;
}

/** Like `scope`, for an async function (do not interleave other scoped work while it awaits). */
export async function scopeAsync<T>(fn: () => Promise<T>): Promise<T> {
  const s = new Scope();
  stack.push(s);
  let result: T;
  try {
    result = await fn();
  } catch (e) {
    close(s, undefined);
    throw e;
  }
  close(s, result);
  return result;
}
