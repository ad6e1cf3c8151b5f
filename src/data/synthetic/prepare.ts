/**
 * The embedded synthetic data of `deno task train` without data arguments: the default domains
 * (A labelled, B unlabelled) generated once into a folder, with CamStyle copies of B's training
 * images, both regenerated only when the generator's options change.
 *
 * @module
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { generateCamStyle } from "../camstyle.ts";
import { loadReidDataset } from "../datasets.ts";
import { generateSyntheticDomains } from "./mod.ts";

/** What {@link prepareSynthetic} is doing, for a caller that shows it. */
export type SyntheticPrepareEvent =
  | {
    /** The domains were (re)generated. */
    kind: "generated";
    images: number;
    root: string;
  }
  | {
    /** CamStyle copies of the target domain are being written (takes a while). */
    kind: "camstyle";
    domain: string;
    dir: string;
  };

/** How the target's CamStyle copies are made: the generator's defaults (colour and sharpness). */
const SYNTHETIC_CAMSTYLE = { sharpness: true } as const;

/** The folders of the prepared synthetic data. */
export interface PreparedSynthetic {
  /** The labelled source domain (A). */
  source: string;
  /** The unlabelled target domain (B). */
  target: string;
  /** The target's CamStyle folder. */
  camstyle: string;
}

/**
 * Generates (once) the default synthetic domains under `dataDir` and, unless `camStyle` is false,
 * the CamStyle copies of the target domain.
 */
export async function prepareSynthetic(
  dataDir: string,
  opts: { camStyle?: boolean; onEvent?: (e: SyntheticPrepareEvent) => void } = {},
): Promise<PreparedSynthetic> {
  const emit = opts.onEvent ?? (() => {});
  const res = await generateSyntheticDomains({ outDir: dataDir });
  if (res.generated) emit({ kind: "generated", images: res.images, root: res.root });
  const names = Object.keys(res.domains);
  const source = res.domains[names[0]];
  const target = res.domains[names[1]];
  const camstyle = join(dataDir, `${names[1]}_camstyle`);
  // The marker holds the settings the copies were made with: copies of older images carry the
  // same names, and copies made with other settings (colour only, before sharpness became the
  // default) are remade, not mixed.
  const done = join(camstyle, ".complete");
  const settings = JSON.stringify(SYNTHETIC_CAMSTYLE);
  const current = existsSync(done) ? Deno.readTextFileSync(done) : undefined;
  if ((res.generated || current !== settings) && existsSync(camstyle)) {
    Deno.removeSync(camstyle, { recursive: true });
  }
  if ((opts.camStyle ?? true) && !existsSync(done)) {
    const ds = loadReidDataset(target);
    emit({ kind: "camstyle", domain: names[1], dir: camstyle });
    await generateCamStyle(ds, camstyle, SYNTHETIC_CAMSTYLE);
    Deno.writeTextFileSync(done, settings);
  }
  return { source, target, camstyle };
}
