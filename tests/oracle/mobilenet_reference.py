"""Oracle for tests/mobilenet_test.ts: torchvision's mobilenet_v2 on the project's inputs.

stdin: {"weights": PATH, "out_dir": DIR, "cases": [{"name": N, "input": PATH, "training": bool,
        "seed": int, "dtype": "float32" | "float64"}]}
  input (safetensors) holds "x" (N, 3, H, W), "r_logits" (N, 1000) and "r_feat" (N, 1280).
  For each case a fresh torchvision mobilenet_v2 loads the weights strictly, is converted to the
  case's dtype with the inputs, is put in train or eval mode, the global generator is seeded, and
      feat = flatten(adaptive_avg_pool2d(features(x), 1)); logits = classifier(feat)
      loss = sum(logits * r_logits) + sum(feat * r_feat); loss.backward()
  DIR/<name>.safetensors gets "logits", "feat", "grad.<param>" for every parameter and
  "after.<buffer>" for every float buffer (running statistics after the pass).
stdout: {"cases": [name, ...], "torch": version}
"""

import json
import os
import struct
import sys

import torch
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from write_weights import DTYPES, write_safetensors  # noqa: E402

BACK = {v[1]: k for k, v in DTYPES.items()}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    header.pop("__metadata__", None)
    out = {}
    for name, info in header.items():
        a, b = info["data_offsets"]
        t = torch.frombuffer(bytearray(data[8 + n + a : 8 + n + b]), dtype=BACK[info["dtype"]])
        out[name] = t.reshape(info["shape"])
    return out


def run_case(weights, inputs, case):
    model = torchvision.models.mobilenet_v2()
    model.load_state_dict(weights, strict=True)
    dtype = torch.float64 if case.get("dtype") == "float64" else torch.float32
    model.to(dtype)
    model.train(case["training"])
    inputs = {k: v.to(dtype) for k, v in inputs.items()}
    torch.manual_seed(case["seed"])
    feat = torch.flatten(torch.nn.functional.adaptive_avg_pool2d(model.features(inputs["x"]), 1), 1)
    logits = model.classifier(feat)
    loss = (logits * inputs["r_logits"]).sum() + (feat * inputs["r_feat"]).sum()
    loss.backward()
    out = {"logits": logits.detach(), "feat": feat.detach()}
    for name, p in model.named_parameters():
        out["grad." + name] = p.grad
    for name, b in model.named_buffers():
        if b.is_floating_point():
            out["after." + name] = b
    return out


def main():
    req = json.load(sys.stdin)
    weights = read_safetensors(req["weights"])
    names = []
    for case in req["cases"]:
        out = run_case(weights, read_safetensors(case["input"]), case)
        write_safetensors(os.path.join(req["out_dir"], case["name"] + ".safetensors"), out)
        names.append(case["name"])
    print(json.dumps({"cases": names, "torch": torch.__version__}))


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
