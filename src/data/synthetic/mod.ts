/**
 * A deterministic procedural pedestrian generator that writes re-ID domains in the Market-1501
 * layout, so the whole pipeline (loading, CamStyle, ECN training, evaluation) can be exercised
 * without the real data sets.
 *
 * Identities differ by body shape, clothing colours and patterns, carried items and hair; each
 * domain has several cameras that differ in illumination, colour cast, blur, noise, background,
 * scale/offset and viewpoint. The default pair: "A" (daylight cameras) and "B" (dim, low-contrast,
 * desaturated, blurry, noisy night cameras, each under its own lamp colour: blue, amber, green,
 * violet; people of the same population with other body proportions). A model trained on A loses
 * most of its accuracy on B (the domain gap ECN is meant to close), while B's identities stay
 * distinguishable and its cameras differ mostly in colour and brightness, which CamStyle's
 * per-camera colour transfer can undo.
 *
 * The generator lives in small modules beside this one: spec.ts (the public options),
 * people.ts, cameras.ts, raster.ts, figure.ts, effects.ts, render.ts, plan.ts; its seeded
 * randomness (mulberry32, hashSeed) is src/util/random.ts.
 *
 * @module
 */

import { encodeJpeg, encodePng, type RgbImage } from "../image.ts";
import { checkSpec, fileName, planDomain, type Planned } from "./plan.ts";
import { makeIdentity } from "./people.ts";
import { hashSeed, mulberry32 } from "../../util/random.ts";
import { H, W } from "./raster.ts";
import { identityOf, makeWorld, renderImage, renderJunk, type World } from "./render.ts";
import {
  DEFAULT_DOMAINS,
  SYNTH_VERSION,
  type SyntheticDomainSpec,
  type SyntheticOptions,
  type SyntheticResult,
} from "./spec.ts";

export {
  DEFAULT_DOMAINS,
  SYNTH_HEIGHT,
  SYNTH_VERSION,
  SYNTH_WIDTH,
  type SyntheticDomainSpec,
  type SyntheticOptions,
  type SyntheticResult,
} from "./spec.ts";

function renderPlanned(w: World, p: Planned): RgbImage {
  if (p.kind === "junk") return renderJunk(w, p.cam, p.seed);
  // Distractors are one-off people, each from its own seed.
  const person = p.kind === "distractor"
    ? makeIdentity(mulberry32(hashSeed(p.seed, 0xd15)), w.spec.style)
    : identityOf(w, p.pid);
  return renderImage(w, person, p.cam, p.seed);
}

function encode(img: RgbImage, format: "jpg" | "png", quality: number): Uint8Array {
  return format === "png" ? encodePng(img) : encodeJpeg(img, quality);
}

interface Manifest {
  generator: string;
  version: number;
  options: {
    seed: number;
    format: string;
    width: number;
    height: number;
    domains: SyntheticDomainSpec[];
  };
}

function readManifest(path: string): Manifest | null {
  try {
    return JSON.parse(Deno.readTextFileSync(path)) as Manifest;
  } catch {
    return null;
  }
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Writes the synthetic domains under `outDir/{name}/` in the Market-1501 layout and
 * `outDir/manifest.json` (generator version and options, written last, so an interrupted run
 * is redone). When the manifest matches, nothing is written and the paths are returned.
 * Refuses a non-empty `outDir` without a manifest of this generator.
 */
export async function generateSyntheticDomains(opts: SyntheticOptions): Promise<SyntheticResult> {
  const seed = opts.seed ?? 1;
  if (!Number.isInteger(seed)) throw new Error(`synthetic seed must be an integer, got ${seed}`);
  const format = opts.format ?? "png";
  if (format !== "jpg" && format !== "png") {
    throw new Error(`synthetic format must be jpg or png, got ${format}`);
  }
  const domains = (opts.domains ?? DEFAULT_DOMAINS).map((d) => ({ ...d }));
  if (domains.length === 0) throw new Error("synthetic: at least one domain is needed");
  for (const d of domains) checkSpec(d);
  if (new Set(domains.map((d) => d.name)).size !== domains.length) {
    throw new Error(`synthetic domain names must differ: ${domains.map((d) => d.name).join(", ")}`);
  }
  const root = opts.outDir;
  const paths: Record<string, string> = {};
  for (const d of domains) paths[d.name] = `${root}/${d.name}`;
  const manifest: Manifest = {
    generator: "ecn-synthetic",
    version: SYNTH_VERSION,
    options: { seed, format, width: W, height: H, domains },
  };
  const manifestPath = `${root}/manifest.json`;
  const old = readManifest(manifestPath);
  if (!opts.force && old && JSON.stringify(old) === JSON.stringify(manifest)) {
    if (domains.every((d) => exists(`${paths[d.name]}/bounding_box_train`))) {
      return { root, domains: paths, generated: false, images: 0 };
    }
  }
  if (exists(root)) {
    const entries = [...Deno.readDirSync(root)];
    if (entries.length > 0 && old?.generator !== "ecn-synthetic") {
      throw new Error(
        `synthetic: ${root} is not empty and has no manifest.json of this generator; ` +
          `choose an empty or new output folder`,
      );
    }
    // Our own earlier output with other options: remove it, so no stale files mix in.
    if (exists(manifestPath)) Deno.removeSync(manifestPath);
    for (const e of entries) {
      if (e.isDirectory && (old?.options.domains ?? []).some((d) => d.name === e.name)) {
        Deno.removeSync(`${root}/${e.name}`, { recursive: true });
      }
    }
  }
  let images = 0;
  for (let di = 0; di < domains.length; di++) {
    const w = makeWorld(domains[di], seed, di);
    const dir = paths[domains[di].name];
    for (const s of ["bounding_box_train", "query", "bounding_box_test"]) {
      Deno.mkdirSync(`${dir}/${s}`, { recursive: true });
    }
    for (const p of planDomain(w)) {
      const img = renderPlanned(w, p);
      await Deno.writeFile(
        `${dir}/${p.split}/${fileName(p, format)}`,
        encode(img, format, w.cams[p.cam].quality),
      );
      images++;
    }
  }
  Deno.writeTextFileSync(manifestPath, JSON.stringify(manifest, null, 2) + "\n");
  return { root, domains: paths, generated: true, images };
}

/**
 * A preview grid: for each domain, `ids` training identities (rows) seen by each of its cameras
 * (columns), `scale` times enlarged (nearest neighbour), separated by grey lines.
 */
export function syntheticPreview(
  opts: { seed?: number; domains?: readonly SyntheticDomainSpec[]; ids?: number; scale?: number } =
    {},
): RgbImage {
  const seed = opts.seed ?? 1;
  const domains = opts.domains ?? DEFAULT_DOMAINS;
  const ids = opts.ids ?? 3;
  const scale = opts.scale ?? 2;
  const cols = Math.max(...domains.map((d) => d.numCams));
  const rows = domains.length * ids;
  const gap = 2;
  const cw = W * scale + gap, ch = H * scale + gap;
  const out: RgbImage = {
    width: cols * cw + gap,
    height: rows * ch + gap + (domains.length - 1) * 4,
    data: new Uint8Array(0),
  };
  out.data = new Uint8Array(out.width * out.height * 3).fill(128);
  let row = 0;
  domains.forEach((d, di) => {
    const w = makeWorld(d, seed, di);
    for (let k = 0; k < ids; k++, row++) {
      const person = identityOf(w, k + 1);
      for (let c = 0; c < d.numCams; c++) {
        const img = renderImage(w, person, c, hashSeed(seed, di, k + 1, c, 0x9e));
        const ox = gap + c * cw, oy = gap + row * ch + di * 4;
        for (let y = 0; y < H * scale; y++) {
          for (let x = 0; x < W * scale; x++) {
            const s = (Math.floor(y / scale) * W + Math.floor(x / scale)) * 3;
            const o = ((oy + y) * out.width + ox + x) * 3;
            out.data[o] = img.data[s];
            out.data[o + 1] = img.data[s + 1];
            out.data[o + 2] = img.data[s + 2];
          }
        }
      }
    }
  });
  return out;
}
