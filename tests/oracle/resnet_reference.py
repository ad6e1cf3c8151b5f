"""Oracle for tests/resnet_test.ts: torchvision's ResNet with random weights, and its results.

stdin: {"depth": 18|50, "num_classes": C, "batch": N, "height": H, "width": W, "seed": S,
        "dir": DIR, "dtype": "float32" | "float64" (default float32)}
Writes into DIR:
  model.pth    the model's state dict in float32 (torch.save), BatchNorm statistics and
               affine parameters randomized so that eval mode is not the identity;
  io.safetensors  input "x" (N,3,H,W), "grad_out" (N,C), eval "logits"/"pool5", train-mode
               "train.logits"/"train.pool5", the state after the train forward
               ("after.<key>" for every BatchNorm buffer) and "grad.<name>" for every parameter
               (loss = sum(train logits * grad_out)).
  With "dtype": "float64" the model (its float32 weights, exactly widened), the inputs and every
  result are float64 (F64 in io.safetensors): train-mode BatchNorm over a small batch is
  ill-conditioned, and float64 makes the comparison independent of the CPU's summation order.
Prints {"keys": [state dict keys in order]}.
"""

import json
import struct
import sys

import torch
import torchvision


def write_safetensors(path, tensors, dtype=torch.float32):
    header = {}
    offset = 0
    blobs = []
    for name, t in tensors.items():
        t = t.detach().contiguous()
        if t.is_floating_point():
            t = t.to(dtype)
        b = t.numpy().tobytes()
        code = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64"}[t.dtype]
        header[name] = {"dtype": code, "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def main():
    cfg = json.load(sys.stdin)
    torch.manual_seed(cfg["seed"])
    torch.set_num_threads(1)
    ctor = {18: torchvision.models.resnet18, 34: torchvision.models.resnet34,
            50: torchvision.models.resnet50}[cfg["depth"]]
    model = ctor(num_classes=cfg["num_classes"])
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.1)
                m.num_batches_tracked.fill_(3)
    torch.save(model.state_dict(), cfg["dir"] + "/model.pth")
    dtype = {"float32": torch.float32, "float64": torch.float64}[cfg.get("dtype", "float32")]
    model.to(dtype)

    x = torch.randn(cfg["batch"], 3, cfg["height"], cfg["width"]).to(dtype)
    grad_out = torch.randn(cfg["batch"], cfg["num_classes"]).to(dtype)
    out = {"x": x, "grad_out": grad_out}

    def features(inp):
        m = model
        y = m.maxpool(m.relu(m.bn1(m.conv1(inp))))
        y = m.layer4(m.layer3(m.layer2(m.layer1(y))))
        return torch.flatten(m.avgpool(y), 1)

    model.eval()
    with torch.no_grad():
        f = features(x)
        out["pool5"] = f
        out["logits"] = model.fc(f)
    model.train()
    f = features(x)
    logits = model.fc(f)
    (logits * grad_out).sum().backward()
    out["train.pool5"] = f
    out["train.logits"] = logits
    for name, b in model.named_buffers():
        out["after." + name] = b
    for name, p in model.named_parameters():
        out["grad." + name] = p.grad
    write_safetensors(cfg["dir"] + "/io.safetensors", out, dtype)
    print(json.dumps({"keys": list(model.state_dict().keys())}))


if __name__ == "__main__":
    main()
