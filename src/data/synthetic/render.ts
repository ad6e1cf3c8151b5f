/**
 * A synthetic domain's world (its cameras, its identities, all derived from the seed) and the
 * rendering of one image from it: a person seen by a camera, or a junk image.
 *
 * @module
 */

import type { RgbImage } from "../image.ts";
import { type Camera, makeCamera } from "./cameras.ts";
import { applyCamera, mirror } from "./effects.ts";
import { drawPerson, type View } from "./figure.ts";
import { type Identity, makeIdentity } from "./people.ts";
import { hashSeed, mulberry32, pick, uni } from "../../util/random.ts";
import { drawBackground, H, W } from "./raster.ts";
import type { SyntheticDomainSpec } from "./spec.ts";

/** A domain's generated world: cameras and identities, all from the seed. */
export interface World {
  spec: SyntheticDomainSpec;
  cams: Camera[];
  seed: number;
  domainIndex: number;
}

/** The world of domain number `domainIndex` for `seed`: its cameras. */
export function makeWorld(spec: SyntheticDomainSpec, seed: number, domainIndex: number): World {
  const cams: Camera[] = [];
  for (let c = 0; c < spec.numCams; c++) {
    cams.push(makeCamera(mulberry32(hashSeed(seed, domainIndex, 0xca, c)), spec.style, c));
  }
  return { spec, cams, seed, domainIndex };
}

/** Identity `pid` of the world (the same in every image of it). */
export function identityOf(w: World, pid: number): Identity {
  return makeIdentity(mulberry32(hashSeed(w.seed, w.domainIndex, 0x1d, pid)), w.spec.style);
}

/** Renders one image of `person` (or background junk when null) seen by camera `cam`. */
export function renderImage(
  w: World,
  person: Identity | null,
  cam: number,
  imageSeed: number,
): RgbImage {
  const r = mulberry32(imageSeed);
  const camera = w.cams[cam];
  const buf = new Float32Array(W * H * 3);
  drawBackground(buf, camera, r);
  if (person) {
    const u = r();
    const view: View = u < camera.sideProb
      ? "side"
      : u < camera.sideProb + (1 - camera.sideProb) * camera.frontProb
      ? "front"
      : "back";
    const crop = { scale: uni(r, 0.93, 1.05), dx: uni(r, -3, 3), dy: uni(r, -3, 3) };
    drawPerson(buf, person, camera, view, r, crop);
    // Mirror half the images (walking left or right).
    if (r() < 0.5) mirror(buf);
  }
  return applyCamera(buf, camera, r);
}

/** A junk image: background only, or a person cut off by a bad detection box. */
export function renderJunk(w: World, cam: number, imageSeed: number): RgbImage {
  const r = mulberry32(imageSeed);
  if (r() < 0.5) return renderImage(w, null, cam, hashSeed(imageSeed, 1));
  const person = makeIdentity(r, w.spec.style);
  const camera = w.cams[cam];
  const buf = new Float32Array(W * H * 3);
  drawBackground(buf, camera, r);
  drawPerson(buf, person, camera, "front", r, {
    scale: 1,
    dx: pick(r, [-30, 30]),
    dy: uni(r, 30, 50),
  });
  return applyCamera(buf, camera, r);
}
