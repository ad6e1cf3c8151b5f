/**
 * The public description of the synthetic domains: image size, generator version, the domain
 * spec with its default pair "A" and "B", and the options and result of generating them.
 *
 * @module
 */

/** Bumped whenever the output for the same options changes. */
export const SYNTH_VERSION = 2;

/** Image size written (height x width), as the Market-1501 crops. */
export const SYNTH_HEIGHT = 128;
/** Image width written. */
export const SYNTH_WIDTH = 64;

/** One domain to generate. */
export interface SyntheticDomainSpec {
  /** Folder name under outDir (letters, digits, `-`, `_`). */
  name: string;
  /** Camera style: "daylight" (bright, saturated) or "dim" (dark, lamp-coloured, noisy). */
  style: "daylight" | "dim";
  /** Number of cameras (2..9). */
  numCams: number;
  /** Training identities. */
  trainIds: number;
  /** Test identities (disjoint from the training ones). */
  testIds: number;
  /** Images per training identity (spread over 2..4 of its cameras). */
  imagesPerTrainId: number;
  /** pid-0 distractor images added to the gallery. */
  distractors: number;
  /** pid -1 junk images (background or badly cropped) added to the gallery. */
  junk: number;
}

/** The default domain pair. */
export const DEFAULT_DOMAINS: readonly SyntheticDomainSpec[] = [
  {
    name: "A",
    style: "daylight",
    numCams: 6,
    trainIds: 100,
    testIds: 50,
    imagesPerTrainId: 8,
    distractors: 20,
    junk: 10,
  },
  {
    name: "B",
    style: "dim",
    numCams: 4,
    trainIds: 100,
    testIds: 50,
    imagesPerTrainId: 8,
    distractors: 20,
    junk: 10,
  },
];

/** Options of {@link generateSyntheticDomains}. */
export interface SyntheticOptions {
  /** Folder that receives one sub-folder per domain and `manifest.json`. */
  outDir: string;
  /** PRNG seed; the same seed and options give byte-identical files. Default 1. */
  seed?: number;
  /** Domains; default {@link DEFAULT_DOMAINS}. */
  domains?: readonly SyntheticDomainSpec[];
  /**
   * "png" (default, lossless) or "jpg"
   * (then each camera also has its own JPEG quality).
   */
  format?: "jpg" | "png";
  /** Regenerate even when a matching manifest exists. */
  force?: boolean;
}

/** Result of {@link generateSyntheticDomains}. */
export interface SyntheticResult {
  /** The output folder. */
  root: string;
  /** Domain name -> its data set root (Market-1501 layout). */
  domains: Record<string, string>;
  /** False when a matching manifest was found and nothing was written. */
  generated: boolean;
  /** Images written (0 when skipped). */
  images: number;
}
