"""Oracle for tests/jpeg_decoder_test.ts: Pillow's (libjpeg-turbo's) JPEG pixels.

Reads JSON {"cases": [...]} from stdin, prints {"results": [...]}; ops:
  read: {"paths": [...]} -> PIL's RGB pixels of each file
  make: {"width", "height", "seed"} -> JPEGs written by PIL in several layouts and
        qualities, each with the RGB pixels PIL decodes from it; the "DQT" variants have
        their quantization tables scaled up after writing (the coefficients stay), so the
        IDCT sees out-of-range values, and "RGB ids" is a JPEG libjpeg reads as RGB
"""

import base64
import io
import json
import sys

import numpy as np
from PIL import Image


def pixels(img):
    arr = np.asarray(img.convert("RGB"), dtype=np.uint8)
    return {
        "width": img.size[0],
        "height": img.size[1],
        "data": base64.b64encode(arr.tobytes()).decode("ascii"),
    }


def read(case):
    return [pixels(Image.open(p)) for p in case["paths"]]


def scale_dqt(jpeg, factor):
    """Multiplies every 8-bit DQT entry by `factor` (capped at 255)."""
    b = bytearray(jpeg)
    i = 2
    while b[i + 1] != 0xDA:
        length = (b[i + 2] << 8) | b[i + 3]
        if b[i + 1] == 0xDB:
            o = i + 4
            while o < i + 2 + length:
                for j in range(64):
                    b[o + 1 + j] = min(255, b[o + 1 + j] * factor)
                o += 65
        i += 2 + length
    return bytes(b)


def rgb_ids(jpeg):
    """Drops the JFIF APP0 and names the components R, G, B: libjpeg then skips YCbCr->RGB."""
    b = bytearray(jpeg)
    assert b[2:4] == b"\xff\xe0"
    b = b[:2] + b[4 + ((b[4] << 8) | b[5]):]
    i = 2
    while True:
        length = (b[i + 2] << 8) | b[i + 3]
        if b[i + 1] == 0xC0:
            for k in range(3):
                b[i + 10 + 3 * k] = b"RGB"[k]
        if b[i + 1] == 0xDA:
            for k in range(3):
                b[i + 5 + 2 * k] = b"RGB"[k]
            return bytes(b)
        i += 2 + length


def make(case):
    rng = np.random.default_rng(case["seed"])
    w, h = case["width"], case["height"]
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx * 255 // max(w - 1, 1), yy * 255 // max(h - 1, 1), (xx * 7 + yy * 3) % 256], -1)
    noisy = np.clip(base + rng.integers(-50, 51, (h, w, 3)), 0, 255).astype(np.uint8)
    rgb = Image.fromarray(noisy, "RGB")
    # Saturated colours and 0/255 noise push the IDCT and colour conversion to their limits.
    harsh = Image.fromarray((rng.integers(0, 2, (h, w, 3)) * 255).astype(np.uint8), "RGB")
    coarse = [[255] * 64, [255] * 64]
    variants = []
    for q in (50, 90, 100):
        for sub, name in ((0, "444"), (1, "422"), (2, "420")):
            variants.append((f"{name} q{q}", rgb, {"subsampling": sub, "quality": q}))
    variants += [
        ("gray q90", rgb.convert("L"), {"quality": 90}),
        ("gray q100", harsh.convert("L"), {"quality": 100}),
        ("harsh 420 q100", harsh, {"subsampling": 2, "quality": 100}),
        ("harsh 444 q100", harsh, {"subsampling": 0, "quality": 100}),
        ("harsh 420 q=255 tables", harsh, {"subsampling": 2, "qtables": coarse}),
        ("harsh 422 q=255 tables", harsh, {"subsampling": 1, "qtables": coarse}),
        ("harsh gray q=255 tables", harsh.convert("L"), {"qtables": coarse[:1]}),
        ("420 optimized", rgb, {"subsampling": 2, "quality": 85, "optimize": True}),
        ("progressive", rgb, {"progressive": True, "quality": 90}),
    ]
    out = []
    edits = [
        ("420 DQT x4", 2, lambda j: scale_dqt(j, 4)),
        ("444 DQT x8", 0, lambda j: scale_dqt(j, 8)),
        ("444 DQT x100", 0, lambda j: scale_dqt(j, 100)),
        ("422 RGB ids", 1, rgb_ids),
    ]
    for name, sub, edit in edits:
        buf = io.BytesIO()
        rgb.save(buf, format="JPEG", subsampling=sub, quality=90)
        variants.append((name, None, edit(buf.getvalue())))
    for name, img, opts in variants:
        if img is None:
            jpeg = opts
        else:
            buf = io.BytesIO()
            img.save(buf, format="JPEG", **opts)
            jpeg = buf.getvalue()
        out.append({
            "name": name,
            "jpeg": base64.b64encode(jpeg).decode("ascii"),
            "pixels": pixels(Image.open(io.BytesIO(jpeg))),
        })
    return out


OPS = {"read": read, "make": make}


def main():
    req = json.load(sys.stdin)
    json.dump({"results": [OPS[c["op"]](c) for c in req["cases"]]}, sys.stdout)


if __name__ == "__main__":
    main()
