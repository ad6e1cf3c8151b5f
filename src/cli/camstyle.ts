/**
 * `deno task camstyle --data DIR [--out DIR] [--mode quantile|reinhard] [--colour-only]
 * [--background [--person-width F]]`: writes
 * CamStyle images (camera-style transferred copies of every training image, for every other
 * camera) for a data set that has none. Argument parsing only; the work is in src/data/camstyle.ts.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { resolve } from "node:path";
import { fileURLToPath as fromFileUrl } from "node:url";
import { loadReidDataset } from "../data/datasets.ts";
import {
  CAMSTYLE_DIR_NAME,
  type CamStyleMode,
  generateCamStyle,
  isPersonWidth,
  isWritableDir,
} from "../data/camstyle.ts";
import { configureFromEnv } from "./env.ts";

/**
 * Folders that hold shared, read-only inputs; never written by this command: `ECN_SHARED_ROOTS`
 * (colon-separated), else the project's `../shared` beside the repository root.
 */
const SHARED_ROOTS: string[] = (Deno.env.get("ECN_SHARED_ROOTS") ??
  fromFileUrl(new URL("../../../shared", import.meta.url))).split(":")
  .filter((s) => s !== "");

const USAGE =
  `usage: deno task camstyle --data DIR [--out DIR] [--mode quantile|reinhard] [--colour-only]
                          [--background [--person-width F]]
  --data DIR     data set in the Market-1501 layout (or MSMT17_V1 lists)
  --out DIR      where to write; default DIR/${CAMSTYLE_DIR_NAME}
  --mode M       quantile (default: per-channel histogram matching in l-alpha-beta) or reinhard
  --colour-only  transfer the other camera's colours only; by default each copy also gets that
                 camera's sharpness (blurred or sharpened; --sharpness, accepted, is the default)
  --background   also put each copy's person (a soft central ellipse) in front of a scene from
                 one of the other camera's own training images (another identity)
  --person-width F  with --background: the ellipse's half width as a fraction of the crop width,
                 default 0.22 (smaller: more of each copy is the other camera's scene; folders
                 made before the width was recorded in camstyle.json used 0.28)
  --quality Q    JPEG quality, default 95
  --overwrite    rewrite existing files (default: keep them, so a stopped run resumes with the
                 settings recorded in DIR/camstyle.json)`;

/** Runs the command with `args`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        data: { type: "string" },
        out: { type: "string" },
        mode: { type: "string", default: "quantile" },
        quality: { type: "string", default: "95" },
        overwrite: { type: "boolean", default: false },
        sharpness: { type: "boolean", default: false },
        "colour-only": { type: "boolean", default: false },
        background: { type: "boolean", default: false },
        "person-width": { type: "string" },
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
  if (!values.data) {
    console.error(`--data is required\n${USAGE}`);
    return 2;
  }
  const mode = values.mode as CamStyleMode;
  if (mode !== "quantile" && mode !== "reinhard") {
    console.error(`--mode must be quantile or reinhard, got "${values.mode}"\n${USAGE}`);
    return 2;
  }
  if (values.sharpness && values["colour-only"]) {
    console.error(`--sharpness and --colour-only contradict each other\n${USAGE}`);
    return 2;
  }
  const quality = Number(values.quality);
  if (!Number.isInteger(quality) || quality < 1 || quality > 100) {
    console.error(`--quality must be an integer 1..100, got "${values.quality}"`);
    return 2;
  }
  let personWidth: number | undefined;
  if (values["person-width"] !== undefined) {
    personWidth = Number(values["person-width"]);
    if (!values.background) {
      console.error(`--person-width needs --background\n${USAGE}`);
      return 2;
    }
    if (!isPersonWidth(personWidth)) {
      console.error(
        `--person-width must be a fraction of the crop width in (0, 1], got "${
          values["person-width"]
        }"`,
      );
      return 2;
    }
  }
  const out = resolve(values.out ?? `${values.data}/${CAMSTYLE_DIR_NAME}`);
  const shared = SHARED_ROOTS.find((r) => out === r || out.startsWith(r.replace(/\/$/, "") + "/"));
  if (shared !== undefined || !isWritableDir(out)) {
    const why = shared !== undefined ? `inside the shared folder ${shared}` : "not writable";
    console.error(
      `refusing to write CamStyle images to ${out}: it is ${why}. ` +
        `Pass a writable folder with --out DIR, then give DIR to training as the CamStyle folder.`,
    );
    return 1;
  }
  try {
    configureFromEnv();
    const ds = loadReidDataset(values.data);
    console.log(ds.summaryTable());
    const t0 = performance.now();
    const res = await generateCamStyle(ds, out, {
      mode,
      quality,
      overwrite: values.overwrite,
      sharpness: !values["colour-only"],
      background: values.background,
      personWidth,
      onProgress: (done, total) => console.log(`camstyle: ${done}/${total} source images`),
    });
    const s = ((performance.now() - t0) / 1000).toFixed(1);
    if (res.sharpness) {
      const f = (v: number) => (v >= 0 ? " " : "") + v.toFixed(2);
      console.log(
        `camstyle: camera sharpness ${res.sharpness.sharpness.map((v) => v.toFixed(3)).join(" ")}` +
          `; adjustment from (row) to (column), <0 blur sigma, >0 unsharp amount:\n` +
          res.sharpness.amount.map((row, i) => `  c${i + 1}: ${row.map(f).join(" ")}`).join("\n"),
      );
    }
    console.log(
      `camstyle: wrote ${res.written} file(s), kept ${res.kept} existing, in ${s} s -> ${out}`,
    );
    return 0;
  } catch (e) {
    console.error(`camstyle: ${(e as Error).message}`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
