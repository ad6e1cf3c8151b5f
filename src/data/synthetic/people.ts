/**
 * The people model of the synthetic generator: an identity's body proportions, skin and hair,
 * clothing colours and patterns, and carried items, all drawn from one seeded source. One
 * population serves both domains (the "dim" style only shifts proportions and patterns), so the
 * domain gap comes from the cameras.
 *
 * @module
 */

import { hsv, type Rgb } from "./color.ts";
import { pick, type RandomSource, uni } from "../../util/random.ts";
import type { SyntheticDomainSpec } from "./spec.ts";

/** The pattern on an upper garment. */
export type Pattern = "plain" | "stripes" | "checks" | "logo";

/** What makes one person look like themself in every camera. */
export interface Identity {
  heightFrac: number;
  shoulder: number;
  hip: number;
  headR: number;
  legFrac: number;
  skin: Rgb;
  hair: Rgb;
  hairLong: boolean;
  upper: Rgb;
  upper2: Rgb;
  pattern: Pattern;
  period: number;
  shortSleeves: boolean;
  lower: Rgb;
  lowerKind: "pants" | "shorts" | "skirt";
  shoes: Rgb;
  carry: "none" | "bag" | "backpack";
  carryColor: Rgb;
  bagSide: number;
}

function clothColor(r: RandomSource): Rgb {
  // One population for both domains: saturated, fairly bright clothes and a few neutrals. The
  // domain gap comes from the cameras, so identities stay distinguishable in both domains.
  if (r() < 0.2) return hsv(0, 0, uni(r, 0.15, 0.95));
  return hsv(r(), uni(r, 0.45, 0.95), uni(r, 0.45, 0.95));
}

/** Draws one identity from `r`; `style` is the domain's camera style. */
export function makeIdentity(r: RandomSource, style: SyntheticDomainSpec["style"]): Identity {
  const dim = style === "dim";
  const patterns: Pattern[] = dim
    ? ["plain", "plain", "stripes", "checks", "checks", "logo"]
    : ["plain", "plain", "plain", "stripes", "checks", "logo"];
  const skinTone = uni(r, 0.25, 0.9);
  return {
    heightFrac: dim ? uni(r, 0.84, 0.95) : uni(r, 0.78, 0.9),
    shoulder: dim ? uni(r, 0.085, 0.115) : uni(r, 0.1, 0.15),
    hip: uni(r, 0.07, 0.105),
    headR: uni(r, 0.055, 0.075),
    legFrac: uni(r, 0.43, 0.5),
    skin: [0.35 + 0.6 * skinTone, 0.22 + 0.55 * skinTone, 0.15 + 0.45 * skinTone],
    hair: r() < 0.7 ? hsv(uni(r, 0.02, 0.1), uni(r, 0.3, 0.8), uni(r, 0.05, 0.45)) : hsv(
      uni(r, 0.05, 0.14),
      uni(r, 0.2, 0.7),
      uni(r, 0.5, 0.9),
    ),
    hairLong: r() < 0.35,
    upper: clothColor(r),
    upper2: clothColor(r),
    pattern: pick(r, patterns),
    period: Math.floor(uni(r, 3, 8)),
    shortSleeves: r() < 0.4,
    lower: clothColor(r),
    lowerKind: pick(r, ["pants", "pants", "pants", "shorts", "skirt"] as const),
    shoes: r() < 0.5 ? hsv(0, 0, uni(r, 0.05, 0.3)) : clothColor(r),
    carry: pick(
      r,
      dim ? ["none", "bag", "backpack", "backpack"] : ["none", "none", "bag", "backpack"],
    ),
    carryColor: clothColor(r),
    bagSide: r() < 0.5 ? -1 : 1,
  };
}
