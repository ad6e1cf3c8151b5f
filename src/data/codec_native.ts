/**
 * Loading the image codec library (build/libecn_image.so: libjpeg-turbo and libpng behind a small
 * C API, native/image/), separate from the libtorch shim so that loader workers need no libtorch.
 * {@link configureImageCodec} sets another path (the commands read `ECN_IMAGE_LIB` in
 * src/cli/env.ts; loader workers get the main thread's path in their first message). Loaded once
 * per thread (each loader worker loads its own handle). On the main thread it is loaded at import
 * when FFI permission is already granted (so that Deno's test sanitizer does not count the handle
 * as leaked by whichever test decodes first; a failure is reported by the first codec call, never
 * at import), otherwise at first use.
 *
 * @module
 */

/** The C API version this code expects (ECN_IMAGE_ABI_VERSION in native/image/ecn_image.h). */
export const IMAGE_ABI_VERSION = 1;

const SYMBOLS = {
  ecn_image_abi_version: { parameters: [], result: "i32" },
  ecn_image_versions: { parameters: [], result: "pointer" },
  ecn_image_last_error: { parameters: [], result: "pointer" },
  ecn_jpeg_decode: { parameters: ["buffer", "usize", "buffer"], result: "pointer" },
  ecn_png_decode: { parameters: ["buffer", "usize", "buffer"], result: "pointer" },
  ecn_jpeg_encode: { parameters: ["buffer", "i32", "i32", "i32", "buffer"], result: "pointer" },
  ecn_png_encode: { parameters: ["buffer", "i32", "i32", "i32", "buffer"], result: "pointer" },
  ecn_image_free: { parameters: ["pointer"], result: "void" },
} as const;

type Codec = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

let codec: Codec | undefined;
let handle: Deno.DynamicLibrary<typeof SYMBOLS> | undefined;
let loadedFrom = "";
let configuredPath: string | undefined;

const IN_WORKER = "WorkerGlobalScope" in globalThis;

/** The path the codec library is (or would be) loaded from. */
export function imageLibraryPath(): string {
  if (configuredPath) return configuredPath;
  const suffix = Deno.build.os === "darwin" ? "dylib" : Deno.build.os === "windows" ? "dll" : "so";
  // Decoded: the package may live in a folder whose name has spaces or non-ASCII characters.
  return decodeURIComponent(
    new URL(`../../build/libecn_image.${suffix}`, import.meta.url).pathname,
  );
}

/** Options of {@link configureImageCodec}. */
export interface ImageCodecOptions {
  /** The codec library to load (default: build/libecn_image.so beside this package's root). */
  libraryPath?: string;
}

/**
 * Sets the codec library this thread loads (and the loader workers it starts). A library already
 * loaded from another path is closed, and the new one loaded on the main thread at once (a failure
 * is reported by the next codec call). Throws a RangeError when the path is empty.
 */
export function configureImageCodec(opts: ImageCodecOptions): void {
  const path = opts.libraryPath;
  if (path !== undefined && (typeof path !== "string" || path === "")) {
    throw new RangeError(`configureImageCodec: libraryPath must be a file path, got '${path}'`);
  }
  configuredPath = path;
  if (handle && loadedFrom !== imageLibraryPath()) {
    handle.close();
    handle = codec = undefined;
    loadedFrom = "";
    loadEagerly();
  }
}

/** The loaded library; a failed load throws and is retried by the next call. */
function load(): Codec {
  if (codec) return codec;
  const path = imageLibraryPath();
  let dl: Deno.DynamicLibrary<typeof SYMBOLS>;
  try {
    dl = Deno.dlopen(path, SYMBOLS);
  } catch (e) {
    throw new Error(
      `cannot load the image codec library from ${path}: ${(e as Error).message}\n` +
        "Build it with `deno task build` (needs a C compiler, libjpeg-turbo and libpng dev " +
        "packages), or point ECN_IMAGE_LIB (configureImageCodec's libraryPath) at a built " +
        "libecn_image.so.",
      { cause: e },
    );
  }
  const abi = dl.symbols.ecn_image_abi_version();
  if (abi !== IMAGE_ABI_VERSION) {
    dl.close();
    throw new Error(
      `the image codec library at ${path} has ABI version ${abi}, this code needs ` +
        `${IMAGE_ABI_VERSION}: rebuild it with \`deno task build --force\``,
    );
  }
  handle = dl;
  loadedFrom = path;
  codec = dl.symbols;
  return codec;
}

/**
 * Loads now on the main thread where it cannot prompt. A failure here is not lost: the first
 * codec call loads again and throws the error. Workers wait for their path (first message).
 */
function loadEagerly(): void {
  if (IN_WORKER || Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return;
  try {
    load();
  } catch (e) {
    if (!(e instanceof Error)) throw e;
  }
}

loadEagerly();

function cString(p: Deno.PointerValue): string {
  return p === null ? "" : Deno.UnsafePointerView.getCString(p);
}

/** The libjpeg-turbo and libpng versions the codec library was built against. */
export function codecVersions(): string {
  return cString(load().ecn_image_versions());
}

/** Copies `n` bytes from a library-owned buffer into a fresh Uint8Array and frees the buffer. */
function take(c: Codec, p: Deno.PointerObject, n: number): Uint8Array {
  const out = new Uint8Array(n);
  try {
    if (n > 0) new Deno.UnsafePointerView(p).copyInto(out);
  } finally {
    c.ecn_image_free(p);
  }
  return out;
}

/** A decoded image plus what the decoder reported about the file. */
export interface NativeDecoded {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** `width * height * 3` bytes, RGB interleaved. */
  data: Uint8Array;
  /** JPEG: [components, progressive 0/1]; PNG: [color type, bit depth]. */
  detail: [number, number];
}

const info = new Int32Array(4);

/** FFI "buffer" parameters are typed as views of plain ArrayBuffers. */
const buf = (a: Uint8Array): Uint8Array<ArrayBuffer> => a as Uint8Array<ArrayBuffer>;

function decodeWith(
  kind: "jpeg" | "png",
  bytes: Uint8Array,
  path: string,
): NativeDecoded {
  const c = load();
  info.fill(0);
  const p = kind === "jpeg"
    ? c.ecn_jpeg_decode(buf(bytes), BigInt(bytes.length), info)
    : c.ecn_png_decode(buf(bytes), BigInt(bytes.length), info);
  if (p === null) {
    throw new Error(`${path}: ${cString(c.ecn_image_last_error())} (${bytes.length} bytes)`);
  }
  const [width, height, d0, d1] = info;
  return { width, height, data: take(c, p, width * height * 3), detail: [d0, d1] };
}

/**
 * Decodes a JPEG with libjpeg-turbo as Pillow does (islow IDCT, fancy upsampling; gray and CMYK
 * converted as `convert("RGB")`). Errors name `path`.
 */
export function nativeDecodeJpeg(bytes: Uint8Array, path: string): NativeDecoded {
  return decodeWith("jpeg", bytes, path);
}

/** Decodes an 8-bit (or 1/2/4-bit gray/palette) PNG with libpng to RGB. Errors name `path`. */
export function nativeDecodePng(bytes: Uint8Array, path: string): NativeDecoded {
  return decodeWith("png", bytes, path);
}

const outLen = new BigInt64Array(1);

function encoded(c: Codec, p: Deno.PointerValue, what: string): Uint8Array {
  if (p === null) throw new Error(`${what}: ${cString(c.ecn_image_last_error())}`);
  return take(c, p, Number(outLen[0]));
}

/** Encodes RGB as JPEG with Pillow's defaults at `quality` (see ecn_jpeg_encode). */
export function nativeEncodeJpeg(
  rgb: Uint8Array,
  width: number,
  height: number,
  quality: number,
): Uint8Array {
  const c = load();
  return encoded(c, c.ecn_jpeg_encode(buf(rgb), width, height, quality, outLen), "encodeJpeg");
}

/** Encodes RGB as an 8-bit truecolor PNG at zlib `level` (0..9). */
export function nativeEncodePng(
  rgb: Uint8Array,
  width: number,
  height: number,
  level: number,
): Uint8Array {
  const c = load();
  return encoded(c, c.ecn_png_encode(buf(rgb), width, height, level, outLen), "encodePng");
}
