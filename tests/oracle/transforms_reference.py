"""Reference image ops for tests/image_test.ts and tests/transforms_test.ts.

Reads {"cases": [...]} as JSON on stdin, prints {"results": [...]} as JSON. Images travel
as {"width", "height", "data": base64 of HWC RGB bytes}. Ops:
  resize:    PIL img.crop(box).resize((w, h), BILINEAR|BICUBIC), optional mirror
  train:     open-reid RandomSizedRectCrop with the given draws (crop box or fallback),
             flip, torchvision ToTensor + Normalize, RandomErasing with the given rectangle
  test:      torchvision Resize((h, w), interpolation=3) + ToTensor + Normalize
  png_make:  PNG files written by PIL in several modes, with PIL's RGB pixels
  jpeg_make: JPEG files written by PIL: 4:4:4, 4:2:2, 4:2:0, gray, progressive
  png_read:  PIL's RGB pixels of given PNG bytes
  jpeg_read: PIL's RGB pixels of given JPEG bytes
"""

import base64
import io
import json
import sys

import numpy as np
from PIL import Image

FILTERS = {"bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC}


def to_pil(spec):
    data = np.frombuffer(base64.b64decode(spec["data"]), dtype=np.uint8)
    return Image.fromarray(data.reshape(spec["height"], spec["width"], 3), "RGB")


def from_pil(img):
    arr = np.asarray(img.convert("RGB"), dtype=np.uint8)
    return {
        "width": img.size[0],
        "height": img.size[1],
        "data": base64.b64encode(arr.tobytes()).decode("ascii"),
    }


def floats(t):
    return base64.b64encode(t.contiguous().numpy().astype("<f4").tobytes()).decode("ascii")


def resize(case):
    img = to_pil(case["image"])
    if case.get("crop"):
        x, y, w, h = case["crop"]
        img = img.crop((x, y, x + w, y + h))
    img = img.resize((case["width"], case["height"]), FILTERS[case["filter"]])
    if case.get("flip"):
        img = img.transpose(Image.FLIP_LEFT_RIGHT)
    return from_pil(img)


def torchvision_transforms():
    # Imported only for the ops that need it: torch takes seconds to load.
    import torch
    from torchvision import transforms

    torch.set_num_threads(1)
    return transforms


def train(case):
    T = torchvision_transforms()
    img = to_pil(case["image"])
    width, height = case["width"], case["height"]
    if case.get("crop"):
        x, y, w, h = case["crop"]
        img = img.crop((x, y, x + w, y + h))
        img = img.resize((width, height), Image.BILINEAR)
    elif img.size != (width, height):  # RectScale fallback
        img = img.resize((width, height), Image.BILINEAR)
    if case.get("flip"):
        img = img.transpose(Image.FLIP_LEFT_RIGHT)
    t = T.Normalize(mean=case["mean"], std=case["std"])(T.ToTensor()(img))
    if case.get("erase"):
        x, y, w, h = case["erase"]
        for c in range(3):
            t[c, y:y + h, x:x + w] = case["fill"][c]
    return floats(t)


def test(case):
    T = torchvision_transforms()
    tf = T.Compose([
        T.Resize((case["height"], case["width"]), interpolation=3),
        T.ToTensor(),
        T.Normalize(mean=case["mean"], std=case["std"]),
    ])
    return floats(tf(to_pil(case["image"])))


def png_make(case):
    rng = np.random.default_rng(case["seed"])
    w, h = case["width"], case["height"]
    rgb = Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), "RGB")
    made = {
        "RGB": rgb,
        "RGBA": Image.fromarray(rng.integers(0, 256, (h, w, 4), dtype=np.uint8), "RGBA"),
        "L": Image.fromarray(rng.integers(0, 256, (h, w), dtype=np.uint8), "L"),
        "LA": Image.fromarray(rng.integers(0, 256, (h, w, 2), dtype=np.uint8), "LA"),
        "P": rgb.quantize(colors=200),
        "P4": rgb.quantize(colors=12),
        "1": Image.fromarray(rng.integers(0, 2, (h, w), dtype=np.uint8) * 255, "L").convert("1"),
        "I;16": Image.fromarray(rng.integers(0, 65536, (h, w), dtype=np.uint16), "I;16"),
    }
    out = []
    for mode, img in made.items():
        buf = io.BytesIO()
        if mode == "P4":
            img.save(buf, format="PNG", bits=4)
        else:
            img.save(buf, format="PNG")
        png = buf.getvalue()
        entry = {"mode": mode, "png": base64.b64encode(png).decode("ascii")}
        if mode != "I;16":
            entry["rgb"] = from_pil(Image.open(io.BytesIO(png)))
        out.append(entry)
    return out


def jpeg_make(case):
    """JPEGs in the layouts a data set may hold: chroma subsampling, gray, progressive."""
    rng = np.random.default_rng(case["seed"])
    w, h = case["width"], case["height"]
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx * 255 // max(w - 1, 1), yy * 255 // max(h - 1, 1), (xx + yy) % 256], -1)
    noisy = np.clip(base + rng.integers(-40, 41, (h, w, 3)), 0, 255).astype(np.uint8)
    rgb = Image.fromarray(noisy, "RGB")
    variants = [
        ("444", rgb, {"subsampling": 0, "quality": 90}),
        ("422", rgb, {"subsampling": 1, "quality": 90}),
        ("420", rgb, {"subsampling": 2, "quality": 75}),
        ("gray", rgb.convert("L"), {"quality": 90}),
        ("q100", rgb, {"subsampling": 2, "quality": 100}),
        ("progressive", rgb, {"progressive": True, "quality": 90}),
    ]
    out = []
    for name, img, opts in variants:
        buf = io.BytesIO()
        img.save(buf, format="JPEG", **opts)
        out.append({"name": name, "jpeg": base64.b64encode(buf.getvalue()).decode("ascii")})
    return out


def read_bytes(case):
    return from_pil(Image.open(io.BytesIO(base64.b64decode(case["bytes"]))))


OPS = {
    "resize": resize,
    "train": train,
    "test": test,
    "png_make": png_make,
    "jpeg_make": jpeg_make,
    "png_read": read_bytes,
    "jpeg_read": read_bytes,
}


def main():
    req = json.load(sys.stdin)
    json.dump({"results": [OPS[c["op"]](c) for c in req["cases"]]}, sys.stdout)


if __name__ == "__main__":
    main()
