/**
 * Seeded randomness for the synthetic generator: the mulberry32 PRNG, a seed mixer that makes
 * every image's randomness independent of the order images are visited in, and the samplers
 * (uniform, pick, Gaussian) the people and camera models draw from.
 *
 * @module
 */

/** mulberry32: a small, fast 32-bit PRNG; returns floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Mixes integers into one seed, so each image's randomness does not depend on visiting order. */
export function hashSeed(...xs: number[]): number {
  let h = 0x811c9dc5;
  for (const x of xs) {
    h = Math.imul(h ^ (x | 0), 0x01000193);
    h ^= h >>> 13;
    h = Math.imul(h, 0x5bd1e995);
    h ^= h >>> 15;
  }
  return h >>> 0;
}

/** A seeded random source: floats in [0, 1). */
export type Rng = () => number;

/** A uniform float in [a, b). */
export const uni = (r: Rng, a: number, b: number): number => a + (b - a) * r();
/** One element of `xs`, uniformly. */
export const pick = <T>(r: Rng, xs: readonly T[]): T =>
  xs[Math.min(xs.length - 1, Math.floor(r() * xs.length))];
/** A standard normal sample (Box-Muller). */
export function gauss(r: Rng): number {
  const u = Math.max(1e-12, r());
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
}
