"""Oracle for tests/bmp_test.ts: BMP files written by Pillow, and Pillow's RGB pixels of each.

stdin: {"dir": DIR}. Writes DIR/<name>.bmp and DIR/<name>.rgb (Image.open(f).convert("RGB") bytes)
for 1-, 4- and 8-bit palette, 24-bit, 32-bit (BI_BITFIELDS, as Pillow writes RGBA) images with odd
widths (row padding), and a top-down 24-bit file. Prints {"files": [[name, width, height], ...]}.
"""

import json
import struct
import sys

from PIL import Image


def main():
    cfg = json.load(sys.stdin)
    d = cfg["dir"]
    w, h = 13, 7
    base = Image.new("RGB", (w, h))
    base.putdata([((x * 37 + y * 11) % 256, (x * 5 + y * 71) % 256, (x * y * 13) % 256)
                  for y in range(h) for x in range(w)])
    images = {
        "rgb24": base,
        "p8": base.quantize(200),
        "p4": base.quantize(16),
        "bw1": base.convert("1"),
        "gray8": base.convert("L"),
        "rgba32": base.convert("RGBA"),
    }
    files = []
    for name, im in images.items():
        path = f"{d}/{name}.bmp"
        im.save(path, format="BMP")
        files.append(name)
    # A top-down file: the same pixels, negative height, rows stored first to last.
    stride = (w * 3 + 3) // 4 * 4
    rows = b"".join(bytes(c for px in [base.getpixel((x, y))[::-1] for x in range(w)] for c in px)
                    + b"\0" * (stride - w * 3) for y in range(h))
    header = struct.pack("<2sIHHI", b"BM", 54 + len(rows), 0, 0, 54)
    info = struct.pack("<IiiHHIIiiII", 40, w, -h, 1, 24, 0, len(rows), 2835, 2835, 0, 0)
    with open(f"{d}/topdown.bmp", "wb") as f:
        f.write(header + info + rows)
    files.append("topdown")
    out = []
    for name in files:
        im = Image.open(f"{d}/{name}.bmp")
        rgb = im.convert("RGB")
        with open(f"{d}/{name}.rgb", "wb") as f:
            f.write(rgb.tobytes())
        out.append([name, rgb.width, rgb.height])
    print(json.dumps({"files": out}))


if __name__ == "__main__":
    main()
