"""Oracle for tests/codec_test.ts: Pillow's JPEG and PNG pixels and files (libjpeg-turbo, libpng).

Reads JSON {"cases": [...]} from stdin, prints {"results": [...]}; ops:
  hash:     {"paths": [...]} -> [width, height, sha256 hex of the RGB bytes] of each file as
            Image.open(p).convert("RGB") gives them (whole data sets are compared this way)
  read:     {"paths": [...]} or {"bytes": base64} -> PIL's RGB pixels
  jpeg_make: {"width", "height", "seed"} -> JPEGs written by PIL in many layouts (subsampling,
            gray, progressive, optimized, CMYK, RGB-coded, odd sizes), edited ones (scaled
            DQT tables) and ones with restart intervals (entropy-coded here), each with the RGB pixels PIL decodes from it
  png_make: {"width", "height", "seed"} -> PNGs in every 8-bit-or-less layout (RGB, RGBA, L,
            LA, palette, palette and gray with tRNS, 1/2/4-bit gray, 1/2/4-bit palette, Adam7
            interlaced) plus a 16-bit one, with PIL's RGB pixels (none for 16-bit)
  jpeg_save: {"image": wire RGB, "qualities": [...]} -> the bytes of PIL's
            img.save(f, "JPEG", quality=q) for each quality
"""

import base64
import hashlib
import io
import json
import struct
import sys
import zlib

import numpy as np
from PIL import Image


def b64(b):
    return base64.b64encode(b).decode("ascii")


def pixels(img):
    rgb = img.convert("RGB")
    return {"width": rgb.size[0], "height": rgb.size[1], "data": b64(rgb.tobytes())}


def hash_files(case):
    out = []
    for p in case["paths"]:
        rgb = Image.open(p).convert("RGB")
        out.append([rgb.size[0], rgb.size[1], hashlib.sha256(rgb.tobytes()).hexdigest()])
    return out


def read(case):
    if "bytes" in case:
        return pixels(Image.open(io.BytesIO(base64.b64decode(case["bytes"]))))
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


def natural(w, h, seed):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack(
        [xx * 255 // max(w - 1, 1), yy * 255 // max(h - 1, 1), (xx * 7 + yy * 3) % 256], -1)
    return np.clip(base + rng.integers(-50, 51, (h, w, 3)), 0, 255).astype(np.uint8)


class Bits:
    """An entropy-coded segment writer: MSB first, 0xFF stuffed, padded with 1 bits."""

    def __init__(self):
        self.out, self.acc, self.n = bytearray(), 0, 0

    def put(self, code, length):
        for i in range(length - 1, -1, -1):
            self.acc = (self.acc << 1) | ((code >> i) & 1)
            self.n += 1
            if self.n == 8:
                self.out.append(self.acc)
                if self.acc == 0xFF:
                    self.out.append(0)
                self.acc, self.n = 0, 0

    def flush(self):
        if self.n:
            self.put((1 << (8 - self.n)) - 1, 8 - self.n)


def huffman_codes(bits, vals):
    """Canonical Huffman codes of a DHT table: value -> (code, length)."""
    codes, code, k = {}, 0, 0
    for length in range(1, 17):
        for _ in range(bits[length - 1]):
            codes[vals[k]] = (code, length)
            code += 1
            k += 1
        code <<= 1
    return codes


def restart_jpeg(w, h, seed, interval, gray):
    """A baseline JPEG with restart markers every `interval` MCUs (Pillow 9 cannot write them):
    Pillow's headers (tables, 4:4:4 or gray), random quantized coefficients entropy-coded here."""
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    img = Image.fromarray(natural(w, h, seed), "RGB")
    (img.convert("L") if gray else img).save(buf, format="JPEG", quality=90, subsampling=0)
    src = buf.getvalue()
    head, tables, i, sos = bytearray(src[:2]), {}, 2, None
    while True:
        m, length = src[i + 1], (src[i + 2] << 8) | src[i + 3]
        seg = src[i:i + 2 + length]
        if m == 0xDA:
            sos = seg
            break
        if m == 0xC4:
            o = 4
            while o < len(seg):
                tc_th, counts = seg[o], list(seg[o + 1:o + 17])
                vals = list(seg[o + 17:o + 17 + sum(counts)])
                tables[(tc_th >> 4, tc_th & 15)] = huffman_codes(counts, vals)
                o += 17 + sum(counts)
        head += seg
        i += 2 + length
    ncomp = sos[4]
    selectors = [(sos[6 + 2 * k] >> 4, sos[6 + 2 * k] & 15) for k in range(ncomp)]
    head += bytes([0xFF, 0xDD, 0, 4, interval >> 8, interval & 255]) + sos
    bits, mcus, rst = Bits(), ((w + 7) // 8) * ((h + 7) // 8), 0
    pred = [0] * ncomp
    for mcu in range(mcus):
        if mcu and mcu % interval == 0:
            bits.flush()
            bits.out += bytes([0xFF, 0xD0 + rst % 8])
            rst, pred = rst + 1, [0] * ncomp
        for c in range(ncomp):
            dc_codes, ac_codes = tables[(0, selectors[c][0])], tables[(1, selectors[c][1])]
            dc = int(np.clip(pred[c] + rng.integers(-15, 16), -60, 60))
            diff, pred[c] = dc - pred[c], dc
            size = abs(diff).bit_length()
            bits.put(*dc_codes[size])
            if size:
                bits.put(diff if diff >= 0 else diff + (1 << size) - 1, size)
            ac = [int(v) if rng.random() < 0.15 else 0 for v in rng.integers(-6, 7, 63)]
            run, last = 0, max([k for k, v in enumerate(ac) if v] or [-1])
            for k in range(last + 1):
                v = ac[k]
                if v == 0:
                    run += 1
                    continue
                while run > 15:
                    bits.put(*ac_codes[0xF0])
                    run -= 16
                size = abs(v).bit_length()
                bits.put(*ac_codes[(run << 4) | size])
                bits.put(v if v >= 0 else v + (1 << size) - 1, size)
                run = 0
            if last < 62:
                bits.put(*ac_codes[0x00])
    bits.flush()
    return bytes(head + bits.out + b"\xff\xd9")


def jpeg_make(case):
    rng = np.random.default_rng(case["seed"])
    w, h = case["width"], case["height"]
    rgb = Image.fromarray(natural(w, h, case["seed"]), "RGB")
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
        ("progressive 420", rgb, {"progressive": True, "quality": 90}),
        ("progressive 444 optimized", rgb,
         {"progressive": True, "subsampling": 0, "quality": 95, "optimize": True}),
        ("progressive gray", rgb.convert("L"), {"progressive": True, "quality": 90}),
        ("cmyk", rgb.convert("CMYK"), {"quality": 90}),
        ("harsh cmyk", harsh.convert("CMYK"), {"quality": 100}),
        ("1x1", rgb.crop((3, 4, 4, 5)), {"quality": 90}),
        ("odd 17x9", rgb.crop((0, 0, 17, 9)), {"quality": 90}),
        ("odd 9x17 progressive", rgb.crop((0, 0, 9, 17)), {"progressive": True}),
    ]
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
    variants += [
        ("restart 444 every MCU", None, restart_jpeg(w, h, case["seed"], 1, False)),
        ("restart 444 every 5 MCUs", None, restart_jpeg(w, h, case["seed"] + 1, 5, False)),
        ("restart gray every 3 MCUs", None, restart_jpeg(w, h, case["seed"] + 2, 3, True)),
    ]
    out = []
    for name, img, opts in variants:
        if img is None:
            jpeg = opts
        else:
            buf = io.BytesIO()
            img.save(buf, format="JPEG", **opts)
            jpeg = buf.getvalue()
        out.append({"name": name, "bytes": b64(jpeg), "pixels": pixels(Image.open(io.BytesIO(jpeg)))})
    return out


def chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(
        ">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def raw_png(w, h, depth, color, rows, extra=b"", interlace=0):
    """A PNG from packed scanlines (each already prefixed with its filter byte)."""
    ihdr = struct.pack(">IIBBBBB", w, h, depth, color, 0, 0, interlace)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra +
            chunk(b"IDAT", zlib.compress(b"".join(rows))) + chunk(b"IEND", b""))


def pack(values, depth):
    """Packs a row of small integers MSB first (PNG's layout)."""
    per = 8 // depth
    out = bytearray((len(values) + per - 1) // per)
    for i, v in enumerate(values):
        out[i // per] |= int(v) << (8 - depth - (i % per) * depth)
    return bytes(out)


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
         (0, 1, 1, 2)]


def png_make(case):
    rng = np.random.default_rng(case["seed"])
    w, h = case["width"], case["height"]
    arr = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    rgb = Image.fromarray(arr, "RGB")
    made = []
    for mode, img, opts in [
        ("RGB", rgb, {}),
        ("RGBA", Image.fromarray(rng.integers(0, 256, (h, w, 4), dtype=np.uint8), "RGBA"), {}),
        ("L", Image.fromarray(rng.integers(0, 256, (h, w), dtype=np.uint8), "L"), {}),
        ("LA", Image.fromarray(rng.integers(0, 256, (h, w, 2), dtype=np.uint8), "LA"), {}),
        ("P", rgb.quantize(colors=200), {}),
        ("P 4-bit", rgb.quantize(colors=12), {"bits": 4}),
        ("P 2-bit", rgb.quantize(colors=4), {"bits": 2}),
        ("P tRNS", rgb.quantize(colors=50), {"transparency": 3}),
        ("RGB tRNS", rgb, {"transparency": (10, 20, 30)}),
        ("L tRNS", rgb.convert("L"), {"transparency": 7}),
        ("1", Image.fromarray(rng.integers(0, 2, (h, w), dtype=np.uint8) * 255, "L").convert("1"),
         {}),
        ("RGB level 9", rgb, {"compress_level": 9}),
    ]:
        buf = io.BytesIO()
        img.save(buf, format="PNG", **opts)
        made.append((mode, buf.getvalue()))
    for depth in (2, 4):
        vals = rng.integers(0, 1 << depth, (h, w))
        made.append((f"gray {depth}-bit", raw_png(w, h, depth, 0,
                                                  [b"\0" + pack(r, depth) for r in vals])))
    # Adam7: each pass's sub-image, rows filtered with type 0 (None).
    rows = []
    for x0, y0, dx, dy in ADAM7:
        sub = arr[y0::dy, x0::dx]
        if sub.shape[0] and sub.shape[1]:
            rows += [b"\0" + r.tobytes() for r in sub]
    made.append(("RGB Adam7", raw_png(w, h, 8, 2, rows, interlace=1)))
    sixteen = Image.fromarray(rng.integers(0, 65536, (h, w), dtype=np.uint16), "I;16")
    buf = io.BytesIO()
    sixteen.save(buf, format="PNG")
    out = [{"mode": m, "bytes": b64(png), "pixels": pixels(Image.open(io.BytesIO(png)))}
           for m, png in made]
    out.append({"mode": "I;16", "bytes": b64(buf.getvalue())})
    return out


def jpeg_save(case):
    spec = case["image"]
    arr = np.frombuffer(base64.b64decode(spec["data"]), np.uint8).reshape(
        spec["height"], spec["width"], 3)
    out = []
    for q in case["qualities"]:
        buf = io.BytesIO()
        Image.fromarray(arr, "RGB").save(buf, format="JPEG", quality=q)
        out.append(b64(buf.getvalue()))
    return out


OPS = {"hash": hash_files, "read": read, "jpeg_make": jpeg_make, "png_make": png_make,
       "jpeg_save": jpeg_save}


def main():
    req = json.load(sys.stdin)
    json.dump({"results": [OPS[c["op"]](c) for c in req["cases"]]}, sys.stdout)


if __name__ == "__main__":
    main()
