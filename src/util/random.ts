/**
 * The project's seeded random numbers, in one place. Nothing here uses `Math.random`: every
 * draw is reproducible from its seed.
 *
 * - {@link Rng}: sfc32 seeded from several integers (e.g. seed, epoch, position), with the
 *   draws the image transforms and the loader need (uniform, randint, shuffle).
 * - {@link mulberry32}: a one-word-state stream of floats in [0, 1), used by the synthetic
 *   data generator and to make test and benchmark data; {@link hashSeed} mixes integers into
 *   one of its seeds, and {@link uni}, {@link pick} and {@link gauss} draw from such a stream.
 *
 * Both generators are kept because files and test data already depend on their streams
 * (the synthetic data is byte-identical for a seed; SYNTH_VERSION would change otherwise).
 * The tensor library's own generator (`manualSeed`) is libtorch's and lives in src/tensor.
 *
 * @module
 */

function mix32(h: number): number {
  // murmur3 finalizer: spreads every input bit over the word.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * A small seeded PRNG (sfc32) with the draws the transforms need. Never `Math.random`:
 * every draw is reproducible from the seed.
 */
export class Rng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  /** Seeds from one or more integers (e.g. seed, epoch, position); equal parts, equal streams. */
  constructor(...parts: number[]) {
    if (parts.length === 0) throw new Error("Rng: expected at least one seed integer");
    let h = 0x9e3779b9;
    for (const p of parts) {
      if (!Number.isFinite(p)) throw new Error(`Rng: seed parts must be finite numbers, got ${p}`);
      // Both 32-bit halves count, so seeds above 2^32 are distinct streams.
      h = mix32(h ^ mix32((p >>> 0) + 0x7f4a7c15));
      h = mix32(h ^ mix32(Math.floor(p / 4294967296) >>> 0));
    }
    this.#a = mix32(h ^ 0x243f6a88);
    this.#b = mix32(h ^ 0x85a308d3);
    this.#c = mix32(h ^ 0x13198a2e);
    this.#d = 1;
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  /** A uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return t >>> 0;
  }

  /** A uniform float in [0, 1) with 32 bits of resolution. */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** A uniform float in [lo, hi) (Python's `random.uniform`). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** A uniform integer in [lo, hi], both ends included (Python's `random.randint`). */
  int(lo: number, hi: number): number {
    if (hi < lo) throw new Error(`Rng.int: empty range [${lo}, ${hi}]`);
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  /** Shuffles `arr` in place (Fisher-Yates) and returns it. */
  shuffle<T extends { length: number; [i: number]: unknown }>(arr: T): T {
    for (let i = arr.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      const t = arr[i];
      arr[i] = arr[j];
      arr[j] = t;
    }
    return arr;
  }
}

/** A seeded stream of floats in [0, 1), as {@link mulberry32} returns. */
export type RandomSource = () => number;

/** mulberry32: a small, fast 32-bit PRNG; returns floats in [0, 1). */
export function mulberry32(seed: number): RandomSource {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Mixes integers into one {@link mulberry32} seed, so that, e.g., each synthetic image's
 * randomness does not depend on the order images are visited in.
 */
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

/** A uniform float in [a, b) drawn from `r`. */
export const uni = (r: RandomSource, a: number, b: number): number => a + (b - a) * r();
/** One element of `xs`, uniformly, drawn from `r`. */
export const pick = <T>(r: RandomSource, xs: readonly T[]): T =>
  xs[Math.min(xs.length - 1, Math.floor(r() * xs.length))];
/** A standard normal sample (Box-Muller, two draws from `r`). */
export function gauss(r: RandomSource): number {
  const u = Math.max(1e-12, r());
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
}
