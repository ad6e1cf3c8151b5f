/**
 * `deno task synth --out DIR [--seed N] [--format jpg|png] [--preview FILE.png] [--force]`:
 * writes the synthetic re-ID domains (Market-1501 layout) of src/data/synthetic/.
 * Argument parsing only.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { encodePng } from "../data/image.ts";
import {
  DEFAULT_DOMAINS,
  generateSyntheticDomains,
  syntheticPreview,
} from "../data/synthetic/mod.ts";
import { configureFromEnv } from "./env.ts";

const USAGE =
  `usage: deno task synth --out DIR [--seed N] [--format jpg|png] [--preview FILE.png] [--force]
  --out DIR         output folder (one sub-folder per domain, A and B, plus manifest.json)
  --seed N          PRNG seed (default 1); the same seed gives byte-identical files
  --format F        png (default) or jpg (libjpeg-turbo, as Pillow writes it)
  --train-ids N     training identities per domain (default 100)
  --test-ids N      test identities per domain (default 50)
  --preview FILE    also write a PNG grid of a few identities across all cameras
  --force           regenerate even when DIR/manifest.json matches`;

/** Runs the command with `args`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        out: { type: "string" },
        seed: { type: "string", default: "1" },
        format: { type: "string", default: "png" },
        "train-ids": { type: "string" },
        "test-ids": { type: "string" },
        preview: { type: "string" },
        force: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
    }));
  } catch (e) {
    console.error(`${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (!values.out) {
    console.error(`--out is required\n${USAGE}`);
    return 2;
  }
  const int = (name: string, v: string | undefined): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n)) throw new Error(`--${name} must be an integer, got "${v}"`);
    return n;
  };
  try {
    configureFromEnv();
    const seed = int("seed", values.seed)!;
    const trainIds = int("train-ids", values["train-ids"]);
    const testIds = int("test-ids", values["test-ids"]);
    const domains = DEFAULT_DOMAINS.map((d) => ({
      ...d,
      trainIds: trainIds ?? d.trainIds,
      testIds: testIds ?? d.testIds,
    }));
    const format = values.format;
    if (format !== "jpg" && format !== "png") {
      throw new Error(`--format must be jpg or png, got "${format}"`);
    }
    const t0 = performance.now();
    const res = await generateSyntheticDomains({
      outDir: values.out,
      seed,
      domains,
      format,
      force: values.force,
    });
    const s = ((performance.now() - t0) / 1000).toFixed(2);
    console.log(
      res.generated
        ? `synth: wrote ${res.images} images in ${s} s`
        : `synth: ${res.root}/manifest.json matches; nothing regenerated`,
    );
    for (const [name, path] of Object.entries(res.domains)) {
      console.log(`  domain ${name}: ${path}`);
    }
    if (values.preview) {
      Deno.writeFileSync(values.preview, encodePng(syntheticPreview({ seed, domains })));
      console.log(`  preview: ${values.preview}`);
    }
    return 0;
  } catch (e) {
    console.error(`synth: ${(e as Error).message}`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
