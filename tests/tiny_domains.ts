// The tiny synthetic domains the trainer tests run on (2 cameras, 4 test ids, 4 images per id).
import type { SyntheticDomainSpec } from "../src/data/synthetic/mod.ts";

/** A tiny synthetic domain of `trainIds` training identities in the given camera style. */
export function tinyDomain(
  name: string,
  style: "daylight" | "dim",
  trainIds: number,
): SyntheticDomainSpec {
  return {
    name,
    style,
    numCams: 2,
    trainIds,
    testIds: 4,
    imagesPerTrainId: 4,
    distractors: 2,
    junk: 0,
  };
}
