/**
 * Plans a synthetic domain on disk: validates its spec, then lists every image (split, pid,
 * camera, frame, seed, kind) in Market-1501 fashion (training images over 2 to 4 cameras per
 * identity, one query per identity and camera with gallery images beside it, distractors and
 * junk) and names each file as Market-1501 does.
 *
 * @module
 */

import { hashSeed, mulberry32, type RandomSource } from "../../util/random.ts";
import type { World } from "./render.ts";
import type { SyntheticDomainSpec } from "./spec.ts";

/** Throws a clear error naming the domain when its spec is out of range. */
export function checkSpec(d: SyntheticDomainSpec): void {
  const bad = (what: string): never => {
    throw new Error(`synthetic domain ${JSON.stringify(d.name)}: ${what}`);
  };
  if (!/^[A-Za-z0-9_-]+$/.test(d.name)) bad("name must be letters, digits, - or _");
  if (d.style !== "daylight" && d.style !== "dim") {
    bad(`style must be daylight or dim, got ${d.style}`);
  }
  if (!Number.isInteger(d.numCams) || d.numCams < 2 || d.numCams > 9) bad("numCams must be 2..9");
  for (const k of ["trainIds", "testIds", "imagesPerTrainId", "distractors", "junk"] as const) {
    if (!Number.isInteger(d[k]) || d[k] < 0) bad(`${k} must be an integer >= 0, got ${d[k]}`);
  }
  if (d.trainIds < 1 || d.testIds < 1) bad("trainIds and testIds must be >= 1");
  if (d.imagesPerTrainId < 2) bad("imagesPerTrainId must be >= 2 (two cameras per identity)");
  if (d.trainIds + d.testIds > 9999) bad("trainIds + testIds must fit 4-digit pids (<= 9999)");
}

/** Distinct cameras for an identity: 2..min(4, numCams), chosen by `r`. */
export function camsFor(r: RandomSource, numCams: number, count: number): number[] {
  const all = Array.from({ length: numCams }, (_, i) => i);
  for (let i = all.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [all[i], all[j]] = [all[j], all[i]];
  }
  return all.slice(0, count).sort((a, b) => a - b);
}

/** One image to write: where, whose, from which camera, and its seed. */
export interface Planned {
  split: "bounding_box_train" | "query" | "bounding_box_test";
  pid: number;
  cam: number;
  frame: number;
  seed: number;
  kind: "person" | "distractor" | "junk";
}

/** Every image of the world's domain, in writing order. */
export function planDomain(w: World): Planned[] {
  const d = w.spec;
  const r = mulberry32(hashSeed(w.seed, w.domainIndex, 0x91a));
  const out: Planned[] = [];
  let frame = 0;
  const img = (split: Planned["split"], pid: number, cam: number, kind: Planned["kind"]): void => {
    frame++;
    out.push({
      split,
      pid,
      cam,
      frame,
      kind,
      seed: hashSeed(w.seed, w.domainIndex, pid, cam, frame),
    });
  };
  const maxCams = Math.min(4, d.numCams);
  for (let pid = 1; pid <= d.trainIds; pid++) {
    const cams = camsFor(
      r,
      d.numCams,
      Math.min(d.imagesPerTrainId, 2 + Math.floor(r() * (maxCams - 1))),
    );
    for (let k = 0; k < d.imagesPerTrainId; k++) {
      img("bounding_box_train", pid, cams[k % cams.length], "person");
    }
  }
  for (let pid = d.trainIds + 1; pid <= d.trainIds + d.testIds; pid++) {
    const cams = camsFor(r, d.numCams, 2 + Math.floor(r() * (maxCams - 1)));
    for (const cam of cams) {
      // Market-style: one query per identity and camera; the rest of that camera goes to the gallery.
      img("query", pid, cam, "person");
      const gal = 1 + Math.floor(r() * 3);
      for (let k = 0; k < gal; k++) img("bounding_box_test", pid, cam, "person");
    }
  }
  for (let k = 0; k < d.distractors; k++) {
    img("bounding_box_test", 0, Math.floor(r() * d.numCams), "distractor");
  }
  for (let k = 0; k < d.junk; k++) {
    img("bounding_box_test", -1, Math.floor(r() * d.numCams), "junk");
  }
  return out;
}

/** The Market-1501 file name of a planned image (`0001_c1s1_000001_00.png`). */
export function fileName(p: Planned, ext: string): string {
  const pid = p.pid < 0 ? String(p.pid) : String(p.pid).padStart(4, "0");
  return `${pid}_c${p.cam + 1}s1_${String(p.frame).padStart(6, "0")}_00.${ext}`;
}
