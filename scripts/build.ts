/**
 * Builds the native shim (native/*.cpp) into build/libecn_torch.so against a libtorch found in
 * this order:
 *
 * 1. `LIBTORCH=/path/to/libtorch` (the official prebuilt archive, or any tree with include/ and lib/);
 * 2. the system libtorch (Debian's `libtorch-dev`: headers under /usr/include/torch);
 * 3. a Python torch install (`python3 -c "import torch"`, or the interpreter in `ECN_PYTHON`).
 *
 * CUDA libraries are linked when the libtorch has them. Only changed sources are recompiled.
 *
 * It first builds the image codec library (native/image/*.c, libjpeg-turbo and libpng) into
 * build/libecn_image.so, which needs no libtorch (the data loader's workers use it).
 *
 * Usage: `deno task build [--force] [--verbose] [--image-only]`.
 */
import { parseArgs } from "node:util";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";

/** Where a libtorch was found and how to compile against it. */
export interface LibtorchInstall {
  /** How it was found: "LIBTORCH", "system" or "python". */
  source: string;
  includeDirs: string[];
  libDir: string;
  cuda: boolean;
  /** The value of _GLIBCXX_USE_CXX11_ABI the libtorch was built with. */
  cxx11Abi: number;
}

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const NATIVE = join(ROOT, "native");
const BUILD = join(ROOT, "build");
/** The library this script produces. */
export const LIBRARY_PATH: string = join(BUILD, "libecn_torch.so");

function run(cmd: string, args: string[]): { ok: boolean; out: string; err: string } {
  try {
    const o = new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).outputSync();
    const dec = new TextDecoder();
    return { ok: o.success, out: dec.decode(o.stdout), err: dec.decode(o.stderr) };
  } catch (e) {
    return { ok: false, out: "", err: String(e) };
  }
}

function abiFromCmake(root: string): number | undefined {
  for (
    const f of [
      join(root, "share/cmake/Torch/TorchConfig.cmake"),
      "/usr/lib/x86_64-linux-gnu/cmake/Torch/TorchConfig.cmake",
      "/usr/lib/aarch64-linux-gnu/cmake/Torch/TorchConfig.cmake",
    ]
  ) {
    if (!existsSync(f)) continue;
    const m = readFileSync(f, "utf8").match(/_GLIBCXX_USE_CXX11_ABI=(\d)/);
    if (m) return Number(m[1]);
  }
  return undefined;
}

function fromRoot(root: string, source: string, abi?: number): LibtorchInstall | undefined {
  const inc = join(root, "include");
  const lib = join(root, "lib");
  if (!existsSync(join(inc, "ATen/ATen.h")) || !existsSync(join(lib, "libtorch.so"))) {
    return undefined;
  }
  return {
    source,
    includeDirs: [inc, join(inc, "torch/csrc/api/include")],
    libDir: lib,
    cuda: existsSync(join(lib, "libtorch_cuda.so")),
    cxx11Abi: abi ?? abiFromCmake(root) ?? 1,
  };
}

/** Finds libtorch (see the module doc for the order); throws one clear message when none is found. */
export function findLibtorch(): LibtorchInstall {
  const env = Deno.env.get("LIBTORCH");
  if (env) {
    const found = fromRoot(env, "LIBTORCH");
    if (!found) {
      throw new Error(
        `LIBTORCH=${env} is not a libtorch tree: expected ${env}/include/ATen/ATen.h and ${env}/lib/libtorch.so`,
      );
    }
    return found;
  }
  for (const arch of ["x86_64-linux-gnu", "aarch64-linux-gnu"]) {
    const lib = `/usr/lib/${arch}`;
    if (existsSync("/usr/include/ATen/ATen.h") && existsSync(join(lib, "libtorch.so"))) {
      return {
        source: "system",
        includeDirs: ["/usr/include", "/usr/include/torch/csrc/api/include"],
        libDir: lib,
        cuda: existsSync(join(lib, "libtorch_cuda.so")),
        cxx11Abi: abiFromCmake("/usr") ?? 1,
      };
    }
  }
  const pythons = [Deno.env.get("ECN_PYTHON"), "python3", "/usr/bin/python3"].filter(Boolean);
  for (const py of pythons as string[]) {
    const r = run(py, [
      "-c",
      "import os, torch; print(os.path.dirname(torch.__file__)); print(int(torch._C._GLIBCXX_USE_CXX11_ABI))",
    ]);
    if (!r.ok) continue;
    const [dir, abi] = r.out.trim().split("\n");
    const found = fromRoot(dir, "python", Number(abi));
    if (found) return found;
  }
  throw new Error(
    "libtorch not found. Install one of:\n" +
      "  - Debian/Ubuntu: apt-get install libtorch-dev\n" +
      "  - the official archive: unpack libtorch-*.zip and set LIBTORCH=/path/to/libtorch\n" +
      "  - a Python torch: pip install torch (or set ECN_PYTHON to the interpreter that has it)",
  );
}

function cudaIncludeDirs(): string[] {
  const dirs: string[] = [];
  for (const d of [Deno.env.get("CUDA_HOME"), "/usr/local/cuda"]) {
    if (d && existsSync(join(d, "include/cuda_runtime_api.h"))) dirs.push(join(d, "include"));
  }
  const r = run(Deno.env.get("ECN_PYTHON") ?? "python3", [
    "-c",
    "import nvidia.cuda_runtime, os; print(os.path.dirname(nvidia.cuda_runtime.__file__))",
  ]);
  if (r.ok) dirs.push(join(r.out.trim(), "include"));
  return dirs;
}

/**
 * Whether the fused inference convolution (native/fused_conv.cpp) can call oneDNN directly: only
 * where libtorch itself uses a shared libdnnl (Debian's libtorch-dev) and its headers are
 * installed (libdnnl-dev), so that both share one library and one thread pool. Other libtorch
 * builds carry oneDNN inside libtorch_cpu; there the fused call falls back to libtorch's ops.
 * ECN_DNNL=0 turns it off.
 */
function dnnlFor(torch: LibtorchInstall): boolean {
  if (Deno.env.get("ECN_DNNL") === "0") return false;
  const header = torch.includeDirs.some((d) => existsSync(join(d, "oneapi/dnnl/dnnl.hpp")));
  if (!header || !existsSync(join(torch.libDir, "libdnnl.so"))) return false;
  const r = run("readelf", ["-d", join(torch.libDir, "libtorch_cpu.so")]);
  return r.ok && /NEEDED.*\[libdnnl\.so/.test(r.out);
}

function findCompiler(): string {
  const cxx = Deno.env.get("CXX") ?? "c++";
  if (!run(cxx, ["--version"]).ok) {
    throw new Error(
      `C++ compiler '${cxx}' not found: install one (apt-get install g++) or set CXX to its path`,
    );
  }
  return cxx;
}

function hash(parts: string[]): string {
  const h = createHash("sha256");
  for (const p of parts) h.update(p).update("\0");
  return h.digest("hex").slice(0, 16);
}

/**
 * A file name beside `path` that no other build writes: two commands started at once (two
 * `deno task train` runs, say) each build into their own file and rename it into place, so
 * neither links a half-written object nor loses its output to the other's rename.
 */
function tempName(path: string): string {
  return `${path}.${Deno.pid}.tmp`;
}

/** Removes temporary files of builds that died midway (a failed compile ends its whole build). */
function removeOrphanTemps(): void {
  if (!existsSync("/proc/self")) return; // no way to tell a live build from a dead one
  for (const f of readdirSync(BUILD)) {
    const m = /\.(\d+)\.tmp$/.exec(f);
    if (m && !existsSync(`/proc/${m[1]}`)) Deno.removeSync(join(BUILD, f));
  }
}

async function compile(cxx: string, args: string[], label: string, verbose: boolean) {
  if (verbose) console.log(`${cxx} ${args.join(" ")}`);
  const o = await new Deno.Command(cxx, { args, stdout: "piped", stderr: "piped" }).output();
  if (!o.success) {
    throw new Error(`compiling ${label} failed:\n${new TextDecoder().decode(o.stderr)}`);
  }
}

/** Builds the shim; returns the library path. Recompiles only sources whose inputs changed. */
export async function build(opts: { force?: boolean; verbose?: boolean } = {}): Promise<string> {
  const cxx = findCompiler();
  const torch = findLibtorch();
  mkdirSync(BUILD, { recursive: true });
  removeOrphanTemps();
  const defines = [`-D_GLIBCXX_USE_CXX11_ABI=${torch.cxx11Abi}`];
  const incs = [...torch.includeDirs];
  if (torch.cuda) {
    defines.push("-DECN_WITH_CUDA");
    incs.push(...cudaIncludeDirs());
  }
  const dnnl = dnnlFor(torch);
  if (dnnl) defines.push("-DECN_WITH_DNNL");
  const cflags = [
    "-std=c++17",
    "-O2",
    "-fPIC",
    "-fvisibility=hidden",
    "-DNDEBUG",
    "-Wall",
    "-Wno-unused-variable",
    ...defines,
    ...incs.map((d) => `-I${d}`),
  ];
  const headers = ["common.h", "ecn_torch.h"].map((h) => readFileSync(join(NATIVE, h), "utf8"));
  const sources = readdirSync(NATIVE).filter((f) => f.endsWith(".cpp")).sort();
  const jobs = Math.max(1, Number(Deno.env.get("ECN_BUILD_JOBS") ?? navigator.hardwareConcurrency));
  const objects: string[] = [];
  const pending: Array<() => Promise<void>> = [];
  for (const src of sources) {
    const text = readFileSync(join(NATIVE, src), "utf8");
    const key = hash([cxx, ...cflags, ...headers, text]);
    const obj = join(BUILD, `${src.replace(/\.cpp$/, "")}.${key}.o`);
    objects.push(obj);
    if (!opts.force && existsSync(obj)) continue;
    pending.push(async () => {
      console.log(`build: compiling native/${src} (libtorch: ${torch.source})`);
      const tmp = tempName(obj);
      await compile(
        cxx,
        [...cflags, "-c", join(NATIVE, src), "-o", tmp],
        `native/${src}`,
        !!opts.verbose,
      );
      Deno.renameSync(tmp, obj);
    });
  }
  for (let i = 0; i < pending.length; i += jobs) {
    await Promise.all(pending.slice(i, i + jobs).map((f) => f()));
  }
  const libraryTmp = tempName(LIBRARY_PATH);
  const libs = torch.cuda
    ? ["-Wl,--no-as-needed", "-ltorch_cuda", "-lc10_cuda", "-Wl,--as-needed"]
    : [];
  const linkArgs = [
    "-shared",
    "-o",
    libraryTmp,
    ...objects,
    `-L${torch.libDir}`,
    `-Wl,-rpath,${torch.libDir}`,
    ...libs,
    ...(dnnl ? ["-ldnnl"] : []),
    "-ltorch",
    "-ltorch_cpu",
    "-lc10",
  ];
  const linkKey = hash(linkArgs.map((a) => a === libraryTmp ? LIBRARY_PATH : a));
  const stamp = join(BUILD, "link.stamp");
  const upToDate = existsSync(LIBRARY_PATH) && existsSync(stamp) &&
    readFileSync(stamp, "utf8") === linkKey && pending.length === 0;
  if (!upToDate || opts.force) {
    await compile(cxx, linkArgs, "the shim library", !!opts.verbose);
    Deno.renameSync(libraryTmp, LIBRARY_PATH);
    writeFileSync(stamp, linkKey);
    // Drop objects of older source versions.
    const keep = new Set(objects);
    for (const f of readdirSync(BUILD)) {
      const p = join(BUILD, f);
      if (f.endsWith(".o") && !keep.has(p) && statSync(p).isFile()) Deno.removeSync(p);
    }
    console.log(
      `build: ${LIBRARY_PATH} (libtorch from ${torch.source}${
        torch.cuda ? ", with CUDA" : ", CPU"
      }${dnnl ? ", fused inference convolutions through oneDNN" : ""})`,
    );
  }
  return LIBRARY_PATH;
}

/** The image codec library (libjpeg-turbo and libpng, no libtorch) built from native/image/. */
export const IMAGE_LIBRARY_PATH: string = join(BUILD, "libecn_image.so");

/** Debian packages with the headers the codec library needs, by header. */
const IMAGE_HEADERS: [string, string][] = [
  ["jpeglib.h", "libjpeg62-turbo-dev"],
  ["png.h", "libpng-dev"],
];

/**
 * Builds build/libecn_image.so from native/image/*.c when its sources, headers or flags changed;
 * returns its path. Throws one message naming the package to install when a header is missing.
 */
export async function buildImageLibrary(
  opts: { force?: boolean; verbose?: boolean } = {},
): Promise<string> {
  const cc = Deno.env.get("CC") ?? "cc";
  if (!run(cc, ["--version"]).ok) {
    throw new Error(
      `C compiler '${cc}' not found: install one (apt-get install gcc) or set CC to its path`,
    );
  }
  const dir = join(NATIVE, "image");
  const files = readdirSync(dir).filter((f) => f.endsWith(".c") || f.endsWith(".h")).sort();
  const sources = files.filter((f) => f.endsWith(".c")).map((f) => join(dir, f));
  const cflags = ["-std=c11", "-O2", "-fPIC", "-fvisibility=hidden", "-Wall", "-Wextra"];
  const libs = ["-ljpeg", "-lpng"];
  const key = hash([
    cc,
    ...cflags,
    ...libs,
    ...files.map((f) => readFileSync(join(dir, f), "utf8")),
  ]);
  const stamp = join(BUILD, "image.stamp");
  if (
    !opts.force && existsSync(IMAGE_LIBRARY_PATH) && existsSync(stamp) &&
    readFileSync(stamp, "utf8") === key
  ) {
    return IMAGE_LIBRARY_PATH;
  }
  const missing = IMAGE_HEADERS.filter(([h]) => {
    const probe = tempName(join(BUILD, `probe_${h.replace(".", "_")}`)) + ".c";
    mkdirSync(BUILD, { recursive: true });
    writeFileSync(probe, `#include <stdio.h>\n#include <${h}>\nint main(void) { return 0; }\n`);
    const ok = run(cc, ["-fsyntax-only", probe]).ok;
    Deno.removeSync(probe);
    return !ok;
  });
  if (missing.length > 0) {
    throw new Error(
      `the image codec library needs ${missing.map(([h]) => h).join(" and ")}: ` +
        `apt-get install ${missing.map(([, p]) => p).join(" ")}` +
        (missing.some(([h]) => h === "jpeglib.h")
          ? " (on Ubuntu libjpeg-turbo8-dev instead of libjpeg62-turbo-dev)"
          : "") +
        ", or run scripts/setup.sh",
    );
  }
  console.log(`build: compiling native/image (libjpeg-turbo, libpng)`);
  const tmp = tempName(IMAGE_LIBRARY_PATH);
  await compile(
    cc,
    [...cflags, "-shared", "-o", tmp, ...sources, ...libs],
    "native/image (the image codec library)",
    !!opts.verbose,
  );
  Deno.renameSync(tmp, IMAGE_LIBRARY_PATH);
  writeFileSync(stamp, key);
  console.log(`build: ${IMAGE_LIBRARY_PATH}`);
  return IMAGE_LIBRARY_PATH;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      force: { type: "boolean" },
      verbose: { type: "boolean" },
      "image-only": { type: "boolean" },
    },
  });
  try {
    await buildImageLibrary({ force: values.force, verbose: values.verbose });
    if (!values["image-only"]) await build({ force: values.force, verbose: values.verbose });
  } catch (e) {
    console.error(`build: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
