/**
 * PyTorch `torch.save` files, read without Python and without running anything from
 * the file: the zip format (PyTorch >= 1.6: `archive/data.pkl` + `archive/data/<key>`,
 * via ./zip.ts) and the legacy format (magic number, protocol version and system info
 * pickles, the object pickle, the storage key list, then each storage's bytes); then the
 * state dict is chosen in what the pickle holds and each tensor is copied out of its
 * storage.
 *
 * The pickles are read by the restricted unpickler of ./pickle.ts: any global it does not
 * know is never called; it becomes an opaque value, and an error names it if it ends up
 * inside the state dict that is returned.
 *
 * @module
 */

import {
  detectWeightsFormat,
  dtypeSize,
  numel,
  type RawStateDict,
  type RawTensor,
  readWholeFile,
  stripKeyPrefix,
} from "./weights.ts";
import {
  describe,
  Opaque,
  PickledTensor,
  type StorageRef,
  storageRef,
  unpickle,
} from "./pickle.ts";
import { readZipDirectory, zipEntryData } from "./zip.ts";

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
