"""Oracle for tests/weights_test.ts: writes weight files with torch and reports their tensors.

stdin: {"action": "write", "dir": DIR}  -> writes the files below into DIR and prints
    {file: {"tensors": [[name, dtype, shape, sha256-of-contiguous-bytes], ...],
            "f32": {name: hex of t.float() bytes}}}   (f32 only for small float tensors)
stdin: {"action": "describe_mobilenet", "path": P} -> loads the safetensors file into
    torchvision's mobilenet_v2 (strict=True) and reports the loaded state dict the same way.

Safetensors files are written by hand (struct + json) as the reference writer does: 8-byte
little-endian header length, compact JSON header, spaces to a multiple of 8, then data.
"""

import collections
import hashlib
import json
import os
import pickle
import struct
import sys
import zipfile

import torch
import torchvision

DTYPES = {
    torch.float32: ("float32", "F32"),
    torch.float16: ("float16", "F16"),
    torch.bfloat16: ("bfloat16", "BF16"),
    torch.float64: ("float64", "F64"),
    torch.int64: ("int64", "I64"),
    torch.int32: ("int32", "I32"),
    torch.int8: ("int8", "I8"),
    torch.uint8: ("uint8", "U8"),
    torch.bool: ("bool", "BOOL"),
}


def raw_bytes(t):
    t = t.detach().contiguous()
    if t.dtype == torch.bfloat16:
        t = t.view(torch.int16)
    return t.numpy().tobytes()


def describe(sd):
    tensors = []
    f32 = {}
    for name, t in sd.items():
        tensors.append([name, DTYPES[t.dtype][0], list(t.shape), hashlib.sha256(raw_bytes(t)).hexdigest()])
        if t.numel() <= 64:
            f32[name] = raw_bytes(t.float()).hex()
    return {"tensors": tensors, "f32": f32}


def write_safetensors(path, sd, metadata=None):
    header = {}
    if metadata:
        header["__metadata__"] = metadata
    offset = 0
    blobs = []
    for name, t in sd.items():
        b = raw_bytes(t)
        header[name] = {"dtype": DTYPES[t.dtype][1], "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    h = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def save_both(d, stem, obj):
    torch.save(obj, os.path.join(d, stem + "_zip.pth"))
    torch.save(obj, os.path.join(d, stem + "_legacy.pth"), _use_new_zipfile_serialization=False)


class Evil:
    """Pickles as a call of os.system: a reader that runs pickle code would create the file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, ("touch " + self.marker,))


class _FakeStorage:
    def __init__(self, pid):
        self.pid = pid


class _OldTensor:
    """Pickles like a tensor of an old torch: _rebuild_tensor(_v2) over a storage view."""

    def __init__(self, fn, args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return (self.fn, self.args)


def write_legacy_views(path):
    """The legacy format as pre-1.0 torch wrote it: storage views (view_metadata) and
    _rebuild_tensor; torch.load still reads it, so it is the reference."""
    root = torch.arange(20, dtype=torch.float32) * 1.5 - 3
    view = _FakeStorage(("storage", torch.FloatStorage, "root", "cpu", 20, ("view1", 5, 10)))
    whole = _FakeStorage(("storage", torch.FloatStorage, "root", "cpu", 20, None))
    obj = collections.OrderedDict(
        [
            ("v2_on_view", _OldTensor(torch._utils._rebuild_tensor_v2,
                                      (view, 2, (2, 3), (3, 1), False, collections.OrderedDict()))),
            ("v1_strided", _OldTensor(torch._utils._rebuild_tensor, (whole, 1, (3, 2), (1, 4)))),
        ]
    )
    with open(path, "wb") as f:
        for header in (torch.serialization.MAGIC_NUMBER, torch.serialization.PROTOCOL_VERSION,
                       {"protocol_version": 1001, "little_endian": True,
                        "type_sizes": {"short": 2, "int": 4, "long": 4}}):
            pickle.dump(header, f, protocol=2)
        p = pickle.Pickler(f, protocol=2)
        p.persistent_id = lambda o: o.pid if isinstance(o, _FakeStorage) else None
        p.dump(obj)
        pickle.dump(["root"], f, protocol=2)
        f.write(struct.pack("<q", 20))
        f.write(root.numpy().tobytes())
    return torch.load(path)


def write_all(d):
    torch.manual_seed(0)
    out = {}

    # A real architecture with random weights and non-trivial BatchNorm buffers.
    model = torchvision.models.resnet18()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_()
                m.running_var.uniform_(0.5, 2.0)
                m.num_batches_tracked.fill_(7)
    sd = model.state_dict()
    save_both(d, "r18", sd)
    write_safetensors(os.path.join(d, "r18.safetensors"), sd, {"arch": "resnet18", "note": "random"})
    out["r18"] = describe(sd)

    # Every dtype, special float16 values, strided views, views sharing one storage.
    base = torch.randn(20)
    misc = {
        "f32": torch.randn(3, 4),
        "f16": torch.tensor([float("inf"), float("-inf"), 65504.0, 6e-8, -0.0, 1.5, -2.25]).half(),
        "bf16": (torch.randn(4, 4) * 1000).bfloat16(),
        "f64": torch.randn(2, 3).double(),
        "i64": torch.arange(-5, 5, dtype=torch.int64) * (2**40),
        "i32": torch.randint(-(2**31), 2**31 - 1, (2, 3), dtype=torch.int32),
        "i8": torch.randint(-128, 127, (7,), dtype=torch.int8),
        "u8": torch.randint(0, 255, (2, 5), dtype=torch.uint8),
        "bool": torch.rand(3, 3) > 0.5,
        "scalar": torch.tensor(42),
        "empty": torch.zeros(0, 3),
        "transposed": torch.randn(4, 6).t(),
        "strided3d": torch.randn(3, 4, 5).permute(2, 0, 1)[:, 1:, ::2],
        "f16_t": torch.randn(3, 5).half().t(),
        "base": base,
        "view_a": base[2:7],
        "view_b": base[10:].view(2, 5),
        "param": torch.nn.Parameter(torch.randn(3)),
    }
    save_both(d, "misc", misc)
    write_safetensors(os.path.join(d, "misc.safetensors"), {k: v.contiguous() for k, v in misc.items()})
    out["misc"] = describe(misc)

    # The zip format with deflated entries (torch writes stored ones; other tools may not).
    with zipfile.ZipFile(os.path.join(d, "misc_zip.pth")) as src, zipfile.ZipFile(
        os.path.join(d, "misc_deflate.pth"), "w", zipfile.ZIP_DEFLATED
    ) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info.filename))

    # Checkpoint wrappers and DataParallel names.
    inner = {"module.conv.weight": torch.randn(2, 3), "module.bn.num_batches_tracked": torch.tensor(3)}
    save_both(d, "wrapped", {"state_dict": inner, "epoch": 3, "best_top1": 0.5, "arch": "resnet50"})
    out["wrapped"] = describe(inner)
    save_both(d, "empty", {})
    save_both(d, "ambiguous", {"model": {"a": torch.ones(2)}, "ema": {"a": torch.zeros(2)}})

    # Unknown globals must never run and must be named.
    save_both(d, "evil", {"w": torch.ones(2), "x": Evil(os.path.join(d, "pwned"))})
    torch.save(Evil(os.path.join(d, "pwned")), os.path.join(d, "evil_root_zip.pth"))

    out["legacy_views"] = describe(write_legacy_views(os.path.join(d, "legacy_views.pth")))
    return out


def describe_mobilenet(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    meta = header.pop("__metadata__", {})
    back = {v[1]: k for k, v in DTYPES.items()}
    sd = {}
    for name, info in header.items():
        a, b = info["data_offsets"]
        t = torch.frombuffer(bytearray(data[8 + n + a : 8 + n + b]), dtype=back[info["dtype"]])
        sd[name] = t.reshape(info["shape"])
    model = torchvision.models.mobilenet_v2()
    model.load_state_dict(sd, strict=True)
    result = describe(model.state_dict())
    result["metadata"] = meta
    return result


def main():
    req = json.load(sys.stdin)
    if req["action"] == "write":
        print(json.dumps(write_all(req["dir"])))
    elif req["action"] == "describe_mobilenet":
        print(json.dumps(describe_mobilenet(req["path"])))
    else:
        raise SystemExit("unknown action " + req["action"])


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
