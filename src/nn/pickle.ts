/**
 * A restricted pickle reader for `torch.save` files: the binary opcodes of protocols 2
 * to 5, and the value classes it builds (globals, opaque values, storage references,
 * tensors not yet read).
 *
 * It knows only the globals a state dict needs (OrderedDict, the tensor and parameter
 * rebuild functions, the storage types, `_codecs.encode`); any other global is never
 * called: it becomes an {@link Opaque} value that names it, so a caller can report it if
 * it ends up where a tensor was expected. Nothing from the file is ever run.
 *
 * @module
 */

import type { RawDtype } from "./weights.ts";

/** A `module.name` global named by the pickle; only the known ones do anything. */
export class PyGlobal {
  constructor(readonly module: string, readonly name: string) {}
  get full(): string {
    return `${this.module}.${this.name}`;
  }
}

/** What calling or building an unknown global gave: never evaluated, only named. */
export class Opaque {
  constructor(readonly origin: string) {}
}

/** A storage named by a persistent id. */
export interface StorageRef {
  /** The storage's key: its file name under `data/` (zip) or its place in the key list. */
  key: string;
  /** The storage type's name, e.g. `FloatStorage`. */
  typeName: string;
  /** Its element type, undefined for storages a RawTensor cannot hold (e.g. int16). */
  dtype: RawDtype | undefined;
  /** Elements in the storage. */
  numel: number;
  /** Legacy-format views: element offset and length inside the root storage. */
  view?: { offset: number; numel: number };
}

/** `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)`, not yet read. */
export class PickledTensor {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly size: number[],
    readonly stride: number[],
  ) {}
}

const STORAGE_DTYPES: Record<string, RawDtype | undefined> = {
  FloatStorage: "float32",
  HalfStorage: "float16",
  BFloat16Storage: "bfloat16",
  DoubleStorage: "float64",
  LongStorage: "int64",
  IntStorage: "int32",
  CharStorage: "int8",
  ByteStorage: "uint8",
  BoolStorage: "bool",
  // Known storages whose dtype RawTensor cannot hold: named in the error if used.
  ShortStorage: undefined,
  ComplexFloatStorage: undefined,
  ComplexDoubleStorage: undefined,
  QInt8Storage: undefined,
  QUInt8Storage: undefined,
  QInt32Storage: undefined,
};

function isStorageType(g: unknown): g is PyGlobal {
  return g instanceof PyGlobal && g.module === "torch" && Object.hasOwn(STORAGE_DTYPES, g.name);
}

/** Calls one of the few known globals; anything else stays opaque. */
function callGlobal(fn: unknown, args: unknown[], where: string): unknown {
  if (!(fn instanceof PyGlobal)) return new Opaque(describe(fn));
  switch (fn.full) {
    case "collections.OrderedDict": {
      const m = new Map<unknown, unknown>();
      if (args.length > 0 && Array.isArray(args[0])) {
        for (const pair of args[0]) m.set((pair as unknown[])[0], (pair as unknown[])[1]);
      }
      return m;
    }
    case "torch._utils._rebuild_tensor":
    case "torch._utils._rebuild_tensor_v2": {
      const [storage, offset, size, stride] = args;
      if (
        !isStorageRef(storage) || typeof offset !== "number" || !isIntArray(size) ||
        !isIntArray(stride) || size.length !== stride.length
      ) {
        throw new Error(`${where}: ${fn.full} got arguments it cannot rebuild a tensor from`);
      }
      return new PickledTensor(storage, offset, size, stride);
    }
    case "torch._utils._rebuild_parameter":
    case "torch._utils._rebuild_parameter_with_state":
      // The parameter's data tensor; requires_grad and hooks do not matter for weights.
      return args[0];
    case "torch._tensor._rebuild_from_type_v2": {
      // (func, new_type, func_args, state): the tensor subclass wrapper is dropped.
      const [inner, , innerArgs] = args;
      return callGlobal(inner, Array.isArray(innerArgs) ? innerArgs : [], where);
    }
    case "_codecs.encode": {
      // Protocol 2 pickles `bytes` as _codecs.encode(text, "latin1").
      const [text] = args;
      if (typeof text !== "string") return new Opaque(fn.full);
      return Uint8Array.from(text, (c) => c.charCodeAt(0) & 0xff);
    }
    default:
      return new Opaque(fn.full);
  }
}

function isStorageRef(v: unknown): v is StorageRef {
  return typeof v === "object" && v !== null && "key" in v && "typeName" in v;
}

function isIntArray(v: unknown): v is number[] {
  return Array.isArray(v) && v.every((x) => Number.isSafeInteger(x) && x >= 0);
}

/** A short name for a pickled value's kind, for error messages (`dict`, `tensor`, a global). */
export function describe(v: unknown): string {
  if (v instanceof Opaque) return v.origin;
  if (v instanceof PyGlobal) return v.full;
  if (v instanceof PickledTensor) return "tensor";
  if (v instanceof Map) return "dict";
  if (Array.isArray(v)) return "list/tuple";
  if (v instanceof Uint8Array) return "bytes";
  if (v === null) return "None";
  return typeof v;
}

// ---------------------------------------------------------------- the unpickler

/** Resolves a persistent id (BINPERSID) to the value it stands for, e.g. a {@link StorageRef}. */
export type PersistentLoad = (pid: unknown) => unknown;

/**
 * Reads one pickle (protocols 2 to 5, the binary opcodes) starting at `pos`; returns
 * the value and the position after STOP.
 */
export function unpickle(
  bytes: Uint8Array,
  pos: number,
  persistentLoad: PersistentLoad,
  where: string,
): { value: unknown; end: number } {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const utf8 = new TextDecoder("utf-8");
  let stack: unknown[] = [];
  const metastack: unknown[][] = [];
  const memo = new Map<number, unknown>();
  const need = (n: number): number => {
    if (pos + n > bytes.length) {
      throw new Error(`${where}: pickle data truncated at byte ${pos} (file truncated?)`);
    }
    const p = pos;
    pos += n;
    return p;
  };
  const line = (): string => {
    const nl = bytes.indexOf(0x0a, pos);
    if (nl < 0) throw new Error(`${where}: pickle data truncated at byte ${pos}`);
    const s = utf8.decode(bytes.subarray(pos, nl));
    pos = nl + 1;
    return s;
  };
  const latin1 = (b: Uint8Array): string => {
    let s = "";
    for (let i = 0; i < b.length; i += 8192) {
      s += String.fromCharCode(...b.subarray(i, i + 8192));
    }
    return s;
  };
  const popMark = (): unknown[] => {
    const items = stack;
    const prev = metastack.pop();
    if (prev === undefined) throw new Error(`${where}: pickle MARK missing`);
    stack = prev;
    return items;
  };
  // Not `stack.push(popMark())`: that reads `stack` before popMark replaces it.
  const pushMarked = (): void => {
    const items = popMark();
    stack.push(items);
  };
  const pop = (): unknown => {
    if (stack.length === 0) throw new Error(`${where}: pickle stack underflow at byte ${pos}`);
    return stack.pop();
  };
  const top = (): unknown => {
    if (stack.length === 0) throw new Error(`${where}: pickle stack underflow at byte ${pos}`);
    return stack[stack.length - 1];
  };
  const setItems = (target: unknown, items: unknown[]): void => {
    if (!(target instanceof Map)) return; // Setting items on an opaque object: ignore it.
    for (let i = 0; i + 1 < items.length; i += 2) target.set(items[i], items[i + 1]);
  };
  const appendItems = (target: unknown, items: unknown[]): void => {
    if (Array.isArray(target)) target.push(...items);
  };
  const readLong = (n: number): number | bigint => {
    const p = need(n);
    let v = 0n;
    for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[p + i]);
    if (n > 0 && bytes[p + n - 1] & 0x80) v -= 1n << BigInt(8 * n);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(v)
      : v;
  };
  const u64 = (): number => {
    const v = dv.getBigUint64(need(8), true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`${where}: pickle length too large`);
    return Number(v);
  };

  for (;;) {
    const at = pos;
    const op = bytes[need(1)];
    switch (op) {
      case 0x80: // PROTO
        need(1);
        break;
      case 0x95: // FRAME: framing is only a hint for buffered readers
        need(8);
        break;
      case 0x2e: // STOP
        return { value: pop(), end: pos };
      case 0x28: // MARK
        metastack.push(stack);
        stack = [];
        break;
      case 0x30: // POP
        pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4a: // BININT
        stack.push(dv.getInt32(need(4), true));
        break;
      case 0x4b: // BININT1
        stack.push(bytes[need(1)]);
        break;
      case 0x4d: // BININT2
        stack.push(dv.getUint16(need(2), true));
        break;
      case 0x8a: // LONG1
        stack.push(readLong(bytes[need(1)]));
        break;
      case 0x8b: { // LONG4
        const n = dv.getInt32(need(4), true);
        stack.push(readLong(n));
        break;
      }
      case 0x47: // BINFLOAT (big-endian)
        stack.push(dv.getFloat64(need(8), false));
        break;
      case 0x58: { // BINUNICODE
        const n = dv.getUint32(need(4), true);
        stack.push(utf8.decode(bytes.subarray(need(n), pos)));
        break;
      }
      case 0x8c: { // SHORT_BINUNICODE
        const n = bytes[need(1)];
        stack.push(utf8.decode(bytes.subarray(need(n), pos)));
        break;
      }
      case 0x8d: { // BINUNICODE8
        const n = u64();
        stack.push(utf8.decode(bytes.subarray(need(n), pos)));
        break;
      }
      case 0x54: { // BINSTRING: Python 2 str, read as latin-1 text like torch.load does
        const n = dv.getInt32(need(4), true);
        stack.push(latin1(bytes.subarray(need(n), pos)));
        break;
      }
      case 0x55: { // SHORT_BINSTRING
        const n = bytes[need(1)];
        stack.push(latin1(bytes.subarray(need(n), pos)));
        break;
      }
      case 0x42: { // BINBYTES
        const n = dv.getUint32(need(4), true);
        stack.push(bytes.slice(need(n), pos));
        break;
      }
      case 0x43: { // SHORT_BINBYTES
        const n = bytes[need(1)];
        stack.push(bytes.slice(need(n), pos));
        break;
      }
      case 0x8e: { // BINBYTES8
        const n = u64();
        stack.push(bytes.slice(need(n), pos));
        break;
      }
      case 0x96: { // BYTEARRAY8
        const n = u64();
        stack.push(bytes.slice(need(n), pos));
        break;
      }
      case 0x29: // EMPTY_TUPLE
        stack.push([]);
        break;
      case 0x85: // TUPLE1
        stack.push([pop()]);
        break;
      case 0x86: { // TUPLE2
        const b = pop(), a = pop();
        stack.push([a, b]);
        break;
      }
      case 0x87: { // TUPLE3
        const c = pop(), b = pop(), a = pop();
        stack.push([a, b, c]);
        break;
      }
      case 0x74: // TUPLE
        pushMarked();
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x6c: // LIST
        pushMarked();
        break;
      case 0x61: { // APPEND
        const v = pop();
        appendItems(top(), [v]);
        break;
      }
      case 0x65: { // APPENDS
        const items = popMark();
        appendItems(top(), items);
        break;
      }
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x64: { // DICT
        const m = new Map();
        setItems(m, popMark());
        stack.push(m);
        break;
      }
      case 0x73: { // SETITEM
        const v = pop(), k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: { // SETITEMS
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x8f: // EMPTY_SET: sets never hold weights; kept as a list
        stack.push([]);
        break;
      case 0x90: { // ADDITEMS
        const items = popMark();
        appendItems(top(), items);
        break;
      }
      case 0x91: // FROZENSET
        pushMarked();
        break;
      case 0x68: // BINGET
        stack.push(memoGet(memo, bytes[need(1)], where));
        break;
      case 0x6a: // LONG_BINGET
        stack.push(memoGet(memo, dv.getUint32(need(4), true), where));
        break;
      case 0x71: // BINPUT
        memo.set(bytes[need(1)], top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(dv.getUint32(need(4), true), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x63: { // GLOBAL
        const module = line();
        const name = line();
        stack.push(new PyGlobal(module, name));
        break;
      }
      case 0x93: { // STACK_GLOBAL
        const name = pop(), module = pop();
        stack.push(new PyGlobal(String(module), String(name)));
        break;
      }
      case 0x52: { // REDUCE
        const args = pop(), fn = pop();
        stack.push(callGlobal(fn, Array.isArray(args) ? args : [], where));
        break;
      }
      case 0x81: { // NEWOBJ: cls.__new__(cls, *args)
        const args = pop(), cls = pop();
        stack.push(callGlobal(cls, Array.isArray(args) ? args : [], where));
        break;
      }
      case 0x92: { // NEWOBJ_EX
        pop();
        const args = pop(), cls = pop();
        stack.push(callGlobal(cls, Array.isArray(args) ? args : [], where));
        break;
      }
      case 0x62: { // BUILD: object state (e.g. a state dict's _metadata); not needed
        pop();
        break;
      }
      case 0x51: // BINPERSID
        stack.push(persistentLoad(pop()));
        break;
      default:
        throw new Error(
          `${where}: unsupported pickle opcode 0x${
            op.toString(16).padStart(2, "0")
          } at byte ${at}` +
            ` (only binary protocols 2-5 are read)`,
        );
    }
  }
}

function memoGet(memo: Map<number, unknown>, i: number, where: string): unknown {
  if (!memo.has(i)) throw new Error(`${where}: pickle memo entry ${i} is missing`);
  return memo.get(i);
}

/** Turns `('storage', torch.FloatStorage, key, location, numel[, view])` into a ref. */
export function storageRef(pid: unknown, where: string): StorageRef {
  if (!Array.isArray(pid) || pid[0] !== "storage" || pid.length < 5) {
    throw new Error(`${where}: unsupported persistent id ${describe(pid)} (expected a storage)`);
  }
  const [, type, key, , n, view] = pid;
  if (!isStorageType(type)) {
    throw new Error(`${where}: unknown storage type ${describe(type)} in a persistent id`);
  }
  if (typeof key !== "string" || !Number.isSafeInteger(n)) {
    throw new Error(`${where}: malformed storage persistent id for key ${String(key)}`);
  }
  const ref: StorageRef = {
    key,
    typeName: type.name,
    dtype: STORAGE_DTYPES[type.name],
    numel: n as number,
  };
  if (Array.isArray(view)) {
    const [, offset, size] = view;
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(size)) {
      throw new Error(`${where}: malformed storage view of ${key}`);
    }
    ref.view = { offset: offset as number, numel: size as number };
  }
  return ref;
}
