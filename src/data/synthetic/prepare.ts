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
  const done = join(camstyle, ".complete");
  // Copies of older images carry the same names: regenerate them with the data.
  if (res.generated && existsSync(camstyle)) Deno.removeSync(camstyle, { recursive: true });
  if ((opts.camStyle ?? true) && !existsSync(done)) {
    const ds = loadReidDataset(target);
    emit({ kind: "camstyle", domain: names[1], dir: camstyle });
    await generateCamStyle(ds, camstyle, {});
    Deno.writeTextFileSync(done, "");
  }
  return { source, target, camstyle };
}
