/**
 * PyTorch `torch.save` files, read without Python and without running anything from
 * the file: the zip format (PyTorch >= 1.6: `archive/data.pkl` + `archive/data/<key>`)
 * and the legacy format (magic number, protocol version and system info pickles, the
 * object pickle, the storage key list, then each storage's bytes).
 *
 * The unpickler knows only the globals a state dict needs (OrderedDict, the tensor and
 * parameter rebuild functions, the storage types); any other global is never called:
 * it becomes an opaque value, and an error names it if it ends up inside the state dict
 * that is returned.
 *
 * @module
 */

import {
  detectWeightsFormat,
  dtypeSize,
  numel,
  type RawDtype,
  type RawStateDict,
  type RawTensor,
  readWholeFile,
  stripKeyPrefix,
} from "./weights.ts";

/** How {@link readPth} finds the state dict inside what the file holds. */
export interface ReadPthOptions {
  /**
   * The entry of a checkpoint dict that holds the state dict, e.g. `"state_dict"`, or a
   * path of keys (`["model", "ema"]`). Without it a single obvious wrapper is unwrapped.
   */
  key?: string | string[];
  /** Removed from the start of every name that has it, e.g. `"module."` from DataParallel. */
  stripPrefix?: string;
}

/** Reads the state dict in a PyTorch `.pth` file (zip or legacy format). */
export async function readPth(path: string, opts: ReadPthOptions = {}): Promise<RawStateDict> {
  return await parsePth(await readWholeFile(path), path, opts);
}

/** {@link readPth} on bytes already in memory; `path` only names the source in errors. */
export async function parsePth(
  bytes: Uint8Array,
  path = "<bytes>",
  opts: ReadPthOptions = {},
): Promise<RawStateDict> {
  let format: string;
  try {
    format = detectWeightsFormat(bytes.subarray(0, 16), path);
  } catch {
    format = "";
  }
  let loaded: Loaded;
  if (format === "pth-zip") loaded = await loadZip(bytes, path);
  else if (format === "pth-legacy") loaded = loadLegacy(bytes, path);
  else if (format === "safetensors") {
    throw new Error(
      `${path}: this is a safetensors file; read it with readWeights or readSafetensors`,
    );
  } else {
    throw new Error(
      `${path}: expected a PyTorch .pth (zip) or safetensors file, but it is neither ` +
        `(${bytes.length} bytes)`,
    );
  }
  const dict = selectStateDict(loaded.root, path, opts.key);
  const out: RawStateDict = new Map();
  for (const [name, t] of dict) out.set(name, materialize(t, loaded.storage, `${path}: ${name}`));
  return opts.stripPrefix === undefined ? out : stripKeyPrefix(out, opts.stripPrefix);
}

// ---------------------------------------------------------------- values from the pickle

/** A `module.name` global named by the pickle; only the known ones do anything. */
class PyGlobal {
  constructor(readonly module: string, readonly name: string) {}
  get full(): string {
    return `${this.module}.${this.name}`;
  }
}

/** What calling or building an unknown global gave: never evaluated, only named. */
class Opaque {
  constructor(readonly origin: string) {}
}

/** A storage named by a persistent id. */
interface StorageRef {
  key: string;
  typeName: string;
  dtype: RawDtype | undefined;
  numel: number;
  /** Legacy-format views: element offset and length inside the root storage. */
  view?: { offset: number; numel: number };
}

/** `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)`, not yet read. */
class PickledTensor {
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

function describe(v: unknown): string {
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

type PersistentLoad = (pid: unknown) => unknown;

/**
 * Reads one pickle (protocols 2 to 5, the binary opcodes) starting at `pos`; returns
 * the value and the position after STOP.
 */
function unpickle(
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
function storageRef(pid: unknown, where: string): StorageRef {
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

// ---------------------------------------------------------------- the two containers

interface Loaded {
  root: unknown;
  /** The bytes of the storage a ref points to (views already applied). */
  storage: (ref: StorageRef) => Uint8Array;
}

async function loadZip(bytes: Uint8Array, path: string): Promise<Loaded> {
  const entries = readZipDirectory(bytes, path);
  const pkl = [...entries.keys()].find((n) => n === "data.pkl" || n.endsWith("/data.pkl"));
  if (pkl === undefined) {
    throw new Error(
      `${path}: zip file has no data.pkl, so it is not a torch.save file ` +
        `(entries: ${[...entries.keys()].slice(0, 5).join(", ")})`,
    );
  }
  const prefix = pkl.slice(0, pkl.length - "data.pkl".length);
  const order = entries.get(prefix + "byteorder");
  if (order && new TextDecoder().decode(await zipEntryData(bytes, order, path)).trim() === "big") {
    throw new Error(`${path}: saved on a big-endian machine; only little-endian files are read`);
  }
  const refs = new Map<string, StorageRef>();
  const pickle = await zipEntryData(bytes, entries.get(pkl)!, path);
  const { value } = unpickle(pickle, 0, (pid) => {
    const ref = storageRef(pid, path);
    refs.set(ref.key, ref);
    return ref;
  }, `${path}: ${pkl}`);
  // Every storage the pickle names, read up front (stored entries are views, not copies).
  const data = new Map<string, Uint8Array>();
  for (const key of refs.keys()) {
    const entry = entries.get(`${prefix}data/${key}`);
    if (entry === undefined) {
      throw new Error(`${path}: storage ${key} has no entry ${prefix}data/${key} (truncated?)`);
    }
    data.set(key, await zipEntryData(bytes, entry, path));
  }
  return { root: value, storage: (ref) => data.get(ref.key)! };
}

/** torch.serialization.MAGIC_NUMBER and PROTOCOL_VERSION of the legacy format. */
const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL = 1001;

function loadLegacy(bytes: Uint8Array, path: string): Loaded {
  const noPersistent = (): never => {
    throw new Error(`${path}: unexpected persistent id in a legacy header pickle`);
  };
  const magic = unpickle(bytes, 0, noPersistent, path);
  if (magic.value !== LEGACY_MAGIC) {
    throw new Error(
      `${path}: expected a PyTorch .pth (zip) or safetensors file; this pickle does not start ` +
        `with torch's magic number, so it was not written by torch.save`,
    );
  }
  const proto = unpickle(bytes, magic.end, noPersistent, path);
  if (proto.value !== LEGACY_PROTOCOL) {
    throw new Error(`${path}: legacy torch format version ${String(proto.value)}, expected 1001`);
  }
  const sys = unpickle(bytes, proto.end, noPersistent, path);
  if (sys.value instanceof Map && sys.value.get("little_endian") === false) {
    throw new Error(`${path}: saved on a big-endian machine; only little-endian files are read`);
  }
  const roots = new Map<string, StorageRef>();
  const main = unpickle(bytes, sys.end, (pid) => {
    const ref = storageRef(pid, path);
    const known = roots.get(ref.key);
    if (known === undefined) roots.set(ref.key, { ...ref, view: undefined });
    return ref;
  }, path);
  const keys = unpickle(bytes, main.end, noPersistent, path);
  if (!Array.isArray(keys.value) || !keys.value.every((k) => typeof k === "string")) {
    throw new Error(`${path}: legacy storage key list is malformed`);
  }
  // Each storage: int64 element count, then its bytes, in key-list order.
  const data = new Map<string, Uint8Array>();
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = keys.end;
  for (const key of keys.value as string[]) {
    const ref = roots.get(key);
    if (ref === undefined) throw new Error(`${path}: storage ${key} is listed but never used`);
    if (pos + 8 > bytes.length) {
      throw new Error(`${path}: truncated: storage ${key} is missing (file ends at byte ${pos})`);
    }
    const count = Number(dv.getBigInt64(pos, true));
    const size = elementSize(ref, path);
    if (count !== ref.numel) {
      throw new Error(
        `${path}: storage ${key} holds ${count} elements, the pickle says ${ref.numel}`,
      );
    }
    const end = pos + 8 + count * size;
    if (end > bytes.length) {
      throw new Error(
        `${path}: truncated: storage ${key} needs bytes up to ${end}, file has ${bytes.length}`,
      );
    }
    data.set(key, bytes.subarray(pos + 8, end));
    pos = end;
  }
  return {
    root: main.value,
    storage(ref) {
      const root = data.get(ref.key);
      if (root === undefined) throw new Error(`${path}: storage ${ref.key} has no data`);
      if (ref.view === undefined) return root;
      const size = elementSize(ref, path);
      return root.subarray(ref.view.offset * size, (ref.view.offset + ref.view.numel) * size);
    },
  };
}

function elementSize(ref: StorageRef, path: string): number {
  if (ref.dtype === undefined) {
    throw new Error(
      `${path}: storage ${ref.key} is a torch.${ref.typeName}, a dtype this reader does not ` +
        `support (float32/16/64, bfloat16, int64/32/8, uint8, bool)`,
    );
  }
  return dtypeSize(ref.dtype);
}

// ---------------------------------------------------------------- zip

interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  localOffset: number;
}

/** Reads the central directory (zip64 too) of a zip held in memory. */
function readZipDirectory(bytes: Uint8Array, path: string): Map<string, ZipEntry> {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // The end-of-central-directory record sits in the last 22 + 65535 (comment) bytes.
  let eocd = -1;
  for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 22 - 65535); i--) {
    if (dv.getUint32(i, true) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) {
    throw new Error(`${path}: zip end record not found: the file is truncated or not a zip`);
  }
  let count = dv.getUint16(eocd + 10, true);
  let cdSize = dv.getUint32(eocd + 12, true);
  let cdOffset = dv.getUint32(eocd + 16, true);
  const loc = eocd - 20;
  // torch always writes the zip64 records; when present their values are authoritative.
  const hasZip64 = loc >= 0 && dv.getUint32(loc, true) === 0x07064b50;
  if (!hasZip64 && (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff)) {
    throw new Error(`${path}: zip64 end locator missing (truncated or corrupt zip)`);
  }
  if (hasZip64) {
    const rec = safeU64(dv, loc + 8, path);
    if (rec + 56 > bytes.length || dv.getUint32(rec, true) !== 0x06064b50) {
      throw new Error(`${path}: zip64 end record missing (truncated or corrupt zip)`);
    }
    count = safeU64(dv, rec + 32, path);
    cdSize = safeU64(dv, rec + 40, path);
    cdOffset = safeU64(dv, rec + 48, path);
  }
  if (cdOffset + cdSize > bytes.length) {
    throw new Error(`${path}: zip central directory lies past the end of the file (truncated?)`);
  }
  const entries = new Map<string, ZipEntry>();
  const utf8 = new TextDecoder();
  let p = cdOffset;
  for (let i = 0; i < count; i++) {
    if (p + 46 > bytes.length || dv.getUint32(p, true) !== 0x02014b50) {
      throw new Error(`${path}: corrupt zip central directory entry ${i}`);
    }
    const method = dv.getUint16(p + 10, true);
    let compressedSize = dv.getUint32(p + 20, true);
    let size = dv.getUint32(p + 24, true);
    const nameLen = dv.getUint16(p + 28, true);
    const extraLen = dv.getUint16(p + 30, true);
    const commentLen = dv.getUint16(p + 32, true);
    let localOffset = dv.getUint32(p + 42, true);
    const name = utf8.decode(bytes.subarray(p + 46, p + 46 + nameLen));
    // Zip64 extra field: the 64-bit values, in this order, for each field that is 0xffffffff.
    let e = p + 46 + nameLen;
    const extraEnd = e + extraLen;
    while (e + 4 <= extraEnd) {
      const id = dv.getUint16(e, true);
      const len = dv.getUint16(e + 2, true);
      if (id === 0x0001) {
        let q = e + 4;
        if (size === 0xffffffff) size = safeU64(dv, (q += 8) - 8, path);
        if (compressedSize === 0xffffffff) compressedSize = safeU64(dv, (q += 8) - 8, path);
        if (localOffset === 0xffffffff) localOffset = safeU64(dv, (q += 8) - 8, path);
      }
      e += 4 + len;
    }
    entries.set(name, { name, method, compressedSize, size, localOffset });
    p = extraEnd + commentLen;
  }
  return entries;
}

function safeU64(dv: DataView, at: number, path: string): number {
  const v = dv.getBigUint64(at, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`${path}: zip64 value too large`);
  return Number(v);
}

/** An entry's bytes: a view for stored entries, inflated for deflated ones. */
async function zipEntryData(bytes: Uint8Array, entry: ZipEntry, path: string): Promise<Uint8Array> {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const p = entry.localOffset;
  if (p + 30 > bytes.length || dv.getUint32(p, true) !== 0x04034b50) {
    throw new Error(`${path}: zip entry ${entry.name} has no local header (corrupt zip)`);
  }
  const start = p + 30 + dv.getUint16(p + 26, true) + dv.getUint16(p + 28, true);
  const end = start + entry.compressedSize;
  if (end > bytes.length) {
    throw new Error(`${path}: zip entry ${entry.name} runs past the end of the file (truncated?)`);
  }
  const raw = bytes.subarray(start, end);
  if (entry.method === 0) return raw;
  if (entry.method === 8) {
    let out: Uint8Array;
    try {
      const stream = new Blob([raw as Uint8Array<ArrayBuffer>]).stream()
        .pipeThrough(new DecompressionStream("deflate-raw"));
      out = new Uint8Array(await new Response(stream).arrayBuffer());
    } catch (e) {
      throw new Error(`${path}: zip entry ${entry.name} does not inflate: ${(e as Error).message}`);
    }
    if (out.length !== entry.size) {
      throw new Error(
        `${path}: zip entry ${entry.name} inflated to ${out.length} bytes, expected ${entry.size}`,
      );
    }
    return out;
  }
  throw new Error(
    `${path}: zip entry ${entry.name} uses compression method ${entry.method}; ` +
      `only stored (0) and deflate (8) are read`,
  );
}

// ---------------------------------------------------------------- choosing and building tensors

function isTensorDict(v: unknown): v is Map<unknown, unknown> {
  if (!(v instanceof Map) || v.size === 0) return false;
  for (const x of v.values()) if (!(x instanceof PickledTensor)) return false;
  return true;
}

function keysOf(m: Map<unknown, unknown>): string {
  return [...m.entries()].slice(0, 12).map(([k, v]) => `${String(k)} (${describe(v)})`).join(
    ", ",
  ) + (m.size > 12 ? ", ..." : "");
}

/** Finds the name -> tensor dict: at `key`, the root itself, or one unambiguous wrapper. */
function selectStateDict(
  root: unknown,
  path: string,
  key: string | string[] | undefined,
): Map<string, PickledTensor> {
  let v = root;
  let at = "the file's top level";
  if (key !== undefined) {
    for (const k of typeof key === "string" ? [key] : key) {
      if (!(v instanceof Map)) throw new Error(`${path}: ${at} is a ${describe(v)}, not a dict`);
      if (!v.has(k)) throw new Error(`${path}: ${at} has no key ${k}; it has ${keysOf(v)}`);
      v = v.get(k);
      at = `entry ${k}`;
    }
  } else {
    // Unwrap {"state_dict": {...}, "epoch": 3}-like checkpoints while exactly one
    // entry is a dict.
    while (v instanceof Map && v.size > 0 && !isTensorDict(v) && ![...v.values()].some(isTensor)) {
      const dicts = [...v.entries()].filter(([, x]) => x instanceof Map);
      const tensorDicts = dicts.filter(([, x]) => isTensorDict(x));
      const pick = tensorDicts.length === 1 ? tensorDicts : dicts;
      if (pick.length !== 1) {
        throw new Error(
          `${path}: cannot tell which entry holds the state dict (${keysOf(v)}); ` +
            `pass the key option`,
        );
      }
      at = `entry ${String(pick[0][0])}`;
      v = pick[0][1];
    }
  }
  if (v instanceof Opaque) {
    throw new Error(
      `${path}: ${at} is built by the pickle global ${v.origin}, which this reader does not ` +
        `allow (it never runs code from a file); expected a dict of tensors`,
    );
  }
  if (!(v instanceof Map)) {
    throw new Error(`${path}: ${at} is a ${describe(v)}, expected a dict of tensors`);
  }
  const out = new Map<string, PickledTensor>();
  for (const [k, x] of v) {
    if (typeof k !== "string") throw new Error(`${path}: ${at} has a non-string key ${String(k)}`);
    if (!(x instanceof PickledTensor)) {
      const why = x instanceof Opaque
        ? `built by the pickle global ${x.origin}, which this reader does not allow (it never ` +
          `runs code from a file)`
        : `a ${describe(x)}`;
      throw new Error(`${path}: ${at}: entry ${k} is ${why}, not a tensor`);
    }
    out.set(k, x);
  }
  return out;
}

function isTensor(v: unknown): boolean {
  return v instanceof PickledTensor;
}

/** Copies a (possibly strided, possibly offset) view out of its storage, contiguous. */
function materialize(
  t: PickledTensor,
  storageOf: (ref: StorageRef) => Uint8Array,
  where: string,
): RawTensor {
  const es = elementSize(t.storage, where);
  const dtype = t.storage.dtype!;
  const n = numel(t.size);
  const storage = storageOf(t.storage);
  const storageNumel = Math.floor(storage.length / es);
  if (n === 0) return { dtype, shape: [...t.size], data: new Uint8Array(0) };
  let last = t.offset;
  for (let d = 0; d < t.size.length; d++) last += (t.size[d] - 1) * t.stride[d];
  if (t.offset < 0 || last >= storageNumel) {
    throw new Error(
      `${where}: tensor [${t.size}] with stride [${t.stride}] at offset ${t.offset} reaches ` +
        `element ${last} of a storage of ${storageNumel} (file truncated or corrupt?)`,
    );
  }
  if (isContiguous(t.size, t.stride)) {
    return { dtype, shape: [...t.size], data: storage.slice(t.offset * es, (t.offset + n) * es) };
  }
  const out = new Uint8Array(n * es);
  const nd = t.size.length;
  const rowLen = t.size[nd - 1];
  const rowStride = t.stride[nd - 1];
  const idx = new Array<number>(nd - 1).fill(0);
  let dst = 0;
  for (let row = 0; row < n / rowLen; row++) {
    let src = t.offset;
    for (let d = 0; d < nd - 1; d++) src += idx[d] * t.stride[d];
    if (rowStride === 1) {
      out.set(storage.subarray(src * es, (src + rowLen) * es), dst);
      dst += rowLen * es;
    } else {
      for (let j = 0; j < rowLen; j++) {
        const s = (src + j * rowStride) * es;
        for (let b = 0; b < es; b++) out[dst++] = storage[s + b];
      }
    }
    for (let d = nd - 2; d >= 0; d--) {
      if (++idx[d] < t.size[d]) break;
      idx[d] = 0;
    }
  }
  return { dtype, shape: [...t.size], data: out };
}

function isContiguous(size: number[], stride: number[]): boolean {
  let expected = 1;
  for (let d = size.length - 1; d >= 0; d--) {
    if (size[d] !== 1 && stride[d] !== expected) return false;
    expected *= size[d];
  }
  return true;
}
