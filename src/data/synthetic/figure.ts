/**
 * Draws a person into a float RGB image: legs, shoes, lower and upper garments with their
 * patterns, arms, carried items, head and hair, seen from the front, the back or the side, at the
 * camera's scale and offset.
 *
 * @module
 */

import type { Camera } from "./cameras.ts";
import { type Rgb, shade } from "./color.ts";
import type { Identity } from "./people.ts";
import { type RandomSource, uni } from "../../util/random.ts";
import { capsule, type ColorFn, ellipse, H, paint, trapezoid, W } from "./raster.ts";

/** Which side of a person the camera sees. */
export type View = "front" | "back" | "side";

/** Paints person `p` as `cam` sees them from `view`, moved and scaled by `crop`. */
export function drawPerson(
  buf: Float32Array,
  p: Identity,
  cam: Camera,
  view: View,
  r: RandomSource,
  crop: { scale: number; dx: number; dy: number },
): void {
  const Hp = p.heightFrac * cam.scale * crop.scale * H;
  const footY = H - 3 + cam.dy + crop.dy;
  const top = footY - Hp;
  const cx = W / 2 + cam.dx + crop.dx;
  const headR = p.headR * Hp;
  const headCy = top + headR;
  const shoulderY = top + 2.2 * headR;
  const hipY = footY - p.legFrac * Hp;
  const side = view === "side";
  const sw = p.shoulder * Hp * (side ? 0.55 : 1);
  const hw = p.hip * Hp * (side ? 0.6 : 1);
  const limb = Math.max(1.2, 0.032 * Hp);
  const legR = Math.max(1.5, hw * 0.42);
  const phase = uni(r, 0, 2 * Math.PI);
  const stride = side ? 0.12 * Hp * Math.sin(phase) : 0.015 * Hp * Math.sin(phase);
  const light = cam.lightDir;
  // Cylinder shading across the body, brighter on the lit side.
  const body = (c: Rgb, halfW: number): ColorFn => (x) => {
    const u = Math.max(-1, Math.min(1, (x - cx) / (halfW + 1)));
    return shade(c, 0.78 + 0.22 * Math.cos(u * 1.3) + 0.08 * light * u);
  };

  // Shadow on the ground.
  paint(
    buf,
    cx - sw * 1.6,
    footY - 3,
    cx + sw * 1.6,
    footY + 3,
    ellipse(cx, footY, sw * 1.5, 2.2),
    (
      x,
      y,
    ) => {
      const o = (Math.min(H - 1, Math.floor(y)) * W + Math.min(W - 1, Math.floor(x))) * 3;
      return [buf[o] * 0.6, buf[o + 1] * 0.6, buf[o + 2] * 0.6];
    },
  );

  // Long hair and backpack body sit behind the torso in front view.
  if (p.hairLong && view !== "back") {
    paint(
      buf,
      cx - headR * 1.2,
      headCy,
      cx + headR * 1.2,
      shoulderY + headR * 1.5,
      trapezoid(
        cx + (side ? -headR * 0.4 : 0),
        headCy,
        headR * 1.0,
        shoulderY + headR,
        headR * 1.1,
      ),
      p.hair,
    );
  }
  if (p.carry === "backpack" && side) {
    const bx = cx - sw - 0.05 * Hp;
    paint(
      buf,
      bx - 0.06 * Hp,
      shoulderY,
      bx + 0.06 * Hp,
      hipY,
      trapezoid(bx, shoulderY + 2, 0.05 * Hp, hipY - 3, 0.055 * Hp),
      shade(p.carryColor, 0.85),
    );
  }

  // Legs, shoes.
  const legXs = side ? [cx + stride * 0.5, cx - stride * 0.5] : [cx - hw * 0.5, cx + hw * 0.5];
  const legColor = p.lowerKind === "pants" ? p.lower : p.skin;
  for (let i = 0; i < 2; i++) {
    const fx = legXs[i] + (side ? 0 : (i === 0 ? -1 : 1) * stride * 0.3);
    const hx = side ? cx : legXs[i];
    const knee = hipY + (footY - 2 - hipY) * 0.5;
    paint(
      buf,
      Math.min(hx, fx) - legR,
      hipY,
      Math.max(hx, fx) + legR,
      footY,
      capsule(hx, hipY, fx, footY - 2.5, legR),
      body(legColor, hw),
    );
    if (p.lowerKind === "shorts") {
      paint(
        buf,
        Math.min(hx, fx) - legR - 1,
        hipY,
        Math.max(hx, fx) + legR + 1,
        knee,
        capsule(hx, hipY, hx + (fx - hx) * 0.4, hipY + (knee - hipY) * 0.6, legR + 0.6),
        body(p.lower, hw),
      );
    }
    const shoeX = fx + (side ? 1.5 : 0);
    paint(
      buf,
      shoeX - 4,
      footY - 4,
      shoeX + 4,
      footY + 1,
      ellipse(shoeX, footY - 1.5, side ? 3.2 : 2.4, 1.8),
      p.shoes,
    );
  }
  if (p.lowerKind === "skirt") {
    const skirtEnd = hipY + (footY - hipY) * 0.45;
    paint(
      buf,
      cx - hw * 2,
      hipY - 2,
      cx + hw * 2,
      skirtEnd,
      trapezoid(cx, hipY - 2, hw * 1.05, skirtEnd, hw * 1.6),
      body(p.lower, hw * 1.5),
    );
  } else {
    // Pelvis joins the legs.
    paint(
      buf,
      cx - hw - 1,
      hipY - 3,
      cx + hw + 1,
      hipY + legR,
      trapezoid(cx, hipY - 3, hw, hipY + legR * 0.8, hw * 0.95),
      body(p.lower, hw),
    );
  }

  // Arms behind/alongside the torso.
  const swing = (side ? 0.1 : 0.02) * Hp * Math.sin(phase + Math.PI);
  const handY = hipY + 0.04 * Hp;
  const armX = [cx - sw + limb * 0.6, cx + sw - limb * 0.6];
  const sleeve = (ax: number, hx: number): void => {
    const arm = capsule(ax, shoulderY + limb, hx, handY - limb, limb);
    const elbowY = shoulderY + (handY - shoulderY) * 0.45;
    paint(
      buf,
      Math.min(ax, hx) - limb - 1,
      shoulderY,
      Math.max(ax, hx) + limb + 1,
      handY,
      arm,
      (_x, y) => p.shortSleeves && y > elbowY ? p.skin : shade(p.upper, 0.9),
    );
    paint(
      buf,
      hx - limb - 1,
      handY - limb * 2,
      hx + limb + 1,
      handY + 1,
      ellipse(hx, handY - limb * 0.5, limb * 1.05, limb * 1.2),
      p.skin,
    );
  };
  if (side) sleeve(cx - swing * 0.5, cx - swing - limb);
  else {
    sleeve(armX[0], armX[0] - limb * 0.8 + swing * 0.2);
    sleeve(armX[1], armX[1] + limb * 0.8 - swing * 0.2);
  }

  // Torso with its pattern.
  const torsoLen = hipY - shoulderY;
  const upperFn: ColorFn = (x, y) => {
    let c = p.upper;
    const v = y - shoulderY;
    if (p.pattern === "stripes") {
      if (Math.floor(v / p.period) % 2 === 1) c = p.upper2;
    } else if (p.pattern === "checks") {
      if ((Math.floor(v / p.period) + Math.floor((x - cx + 50) / p.period)) % 2 === 1) c = p.upper2;
    } else if (p.pattern === "logo" && view === "front") {
      const dx = x - (cx + sw * 0.15), dy = v - torsoLen * 0.35;
      if (dx * dx + dy * dy < (sw * 0.45) ** 2) c = p.upper2;
    }
    return body(c, sw)(x, y);
  };
  paint(
    buf,
    cx - sw - 1,
    shoulderY - 2,
    cx + sw + 1,
    hipY + 1,
    trapezoid(cx, shoulderY - 1, sw, hipY, hw * 1.05),
    upperFn,
  );
  if (side) sleeve(cx + swing * 0.5, cx + swing + limb);

  // Carried items in front of the torso.
  if (p.carry === "backpack" && view === "back") {
    paint(
      buf,
      cx - sw,
      shoulderY,
      cx + sw,
      hipY,
      trapezoid(cx, shoulderY + 2, sw * 0.75, hipY - 4, sw * 0.8),
      body(p.carryColor, sw * 0.8),
    );
  } else if (p.carry === "backpack" && view === "front") {
    for (const sx of [-1, 1]) {
      const x = cx + sx * sw * 0.55;
      paint(
        buf,
        x - 2,
        shoulderY - 1,
        x + 2,
        hipY - torsoLen * 0.3,
        capsule(x, shoulderY, x + sx * 0.5, hipY - torsoLen * 0.35, 0.9),
        shade(p.carryColor, 0.8),
      );
    }
  } else if (p.carry === "bag") {
    const bs = view === "back" ? -p.bagSide : p.bagSide;
    const bx = side ? cx + 0.02 * Hp : cx + bs * (sw + 0.02 * Hp);
    const by = hipY - 0.02 * Hp;
    paint(
      buf,
      cx - sw,
      shoulderY,
      cx + sw,
      by,
      capsule(cx - bs * sw * 0.6, shoulderY + 1, bx, by - 0.04 * Hp, 0.7),
      shade(p.carryColor, 0.7),
    );
    paint(
      buf,
      bx - 0.06 * Hp,
      by - 0.05 * Hp,
      bx + 0.06 * Hp,
      by + 0.06 * Hp,
      trapezoid(bx, by - 0.045 * Hp, 0.045 * Hp, by + 0.05 * Hp, 0.05 * Hp),
      body(p.carryColor, 0.05 * Hp),
    );
  }

  // Neck, head, hair.
  paint(
    buf,
    cx - 2,
    headCy,
    cx + 2,
    shoulderY + 1,
    capsule(cx, headCy + headR * 0.5, cx, shoulderY, headR * 0.35),
    shade(p.skin, 0.85),
  );
  const rx = headR * (side ? 0.9 : 0.82);
  paint(
    buf,
    cx - rx - 1,
    headCy - headR - 1,
    cx + rx + 1,
    headCy + headR + 1,
    ellipse(cx, headCy, rx, headR),
    view === "back" ? p.hair : body(p.skin, rx),
  );
  if (view !== "back") {
    // Hair cap: the head ellipse above a line (front) or on the back half (side).
    const head = ellipse(cx, headCy - headR * 0.05, rx * 1.05, headR * 1.05);
    const capY = headCy - headR * (p.hairLong ? 0.25 : 0.35);
    paint(
      buf,
      cx - rx - 2,
      headCy - headR - 2,
      cx + rx + 2,
      headCy + headR,
      (x, y) =>
        side
          ? Math.max(head(x, y), Math.min(capY - y, x - (cx - rx * 0.2)))
          : Math.max(head(x, y), y - capY),
      p.hair,
    );
  }
}
