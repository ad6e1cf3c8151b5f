"""Independent reference for the Keras ResNet-50 conversion (tests/keras_resnet_test.ts).

Reads the TensorFlow.js layers model (ResNet50/model.json + shards) with NumPy only, and

  convert MODEL_JSON OUT      writes its own torchvision-layout conversion as safetensors
                              (float64 folding from the float32 values, rounded once, in the
                              same order as src/nn/keras_resnet.ts, so the bits must agree);
  forward MODEL_JSON CONVERTED INPUTS N
                              for N inputs (float32 (N, 3, 224, 224), torchvision-normalized,
                              raw little-endian in INPUTS) prints JSON logits of
                              "keras": Keras' own graph in float64 (caffe preprocessing: RGB->BGR,
                                       x*255 - mean, zero padding, conv biases, BN eps 1e-3), and
                              "folded": torchvision's resnet50 with ResNet v1 strides running the
                                        converted file in float64.
"""
import json
import os
import struct
import sys

import numpy as np

CAFFE_MEAN_BGR = [103.939, 116.779, 123.68]
MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]
TORCH_EPS = 1e-5
BLOCKS = [3, 4, 6, 3]


def read_model(model_json):
    with open(model_json) as f:
        m = json.load(f)
    layers = {l["name"]: l for l in m["modelTopology"]["model_config"]["config"]["layers"]}
    weights = {}
    base = os.path.dirname(model_json)
    for group in m["weightsManifest"]:
        blob = b"".join(open(os.path.join(base, p), "rb").read() for p in group["paths"])
        off = 0
        for w in group["weights"]:
            assert w["dtype"] == "float32"
            n = int(np.prod(w["shape"])) if w["shape"] else 1
            weights[w["name"]] = np.frombuffer(blob, "<f4", n, off).reshape(w["shape"])
            off += 4 * n
        assert off == len(blob)
    return layers, weights


def convert(layers, weights):
    out = {}

    def conv(keras, torch_name, in_map=None):
        k = weights[keras + "/kernel"].astype(np.float64)  # (kh, kw, in, out)
        w = k.transpose(3, 2, 0, 1)  # (out, in, kh, kw)
        if in_map is not None:
            w = np.stack([w[:, src] * scale for src, scale in in_map], axis=1)
        out[torch_name + ".weight"] = w.astype(np.float32)

    def bn(keras_bn, keras_conv, torch_name, shift=None):
        eps = layers[keras_bn]["config"]["epsilon"]
        mean = weights[keras_bn + "/moving_mean"].astype(np.float64)
        var = weights[keras_bn + "/moving_variance"].astype(np.float64)
        bias = weights[keras_conv + "/bias"].astype(np.float64)
        rm = mean - bias
        if shift is not None:
            rm = rm - shift
        out[torch_name + ".weight"] = weights[keras_bn + "/gamma"].astype(np.float32)
        out[torch_name + ".bias"] = weights[keras_bn + "/beta"].astype(np.float32)
        out[torch_name + ".running_mean"] = rm.astype(np.float32)
        out[torch_name + ".running_var"] = ((var + eps) - TORCH_EPS).astype(np.float32)
        out[torch_name + ".num_batches_tracked"] = np.zeros((), np.int64)

    # torchvision's RGB channel c is Keras' BGR channel 2 - c, on 255*std[c] per unit.
    conv("conv1", "conv1", [(2 - c, 255 * STD[c]) for c in range(3)])
    k1 = weights["conv1/kernel"]
    kh, kw, _, cout = k1.shape
    shift = np.zeros(cout)
    for o in range(cout):
        s = 0.0  # sequential float64 sum in the converter's order
        for c in range(3):
            d = 255 * MEAN[c] - CAFFE_MEAN_BGR[2 - c]
            for y in range(kh):
                for x in range(kw):
                    s += float(k1[y, x, 2 - c, o]) * d
        shift[o] = s
    bn("bn_conv1", "conv1", "bn1", shift)
    for i, count in enumerate(BLOCKS):
        stage = i + 2
        for b in range(count):
            k = "%d%s" % (stage, "abcdef"[b])
            t = "layer%d.%d" % (i + 1, b)
            for j, br in enumerate("abc"):
                conv("res%s_branch2%s" % (k, br), "%s.conv%d" % (t, j + 1))
                bn("bn%s_branch2%s" % (k, br), "res%s_branch2%s" % (k, br), "%s.bn%d" % (t, j + 1))
            if b == 0:
                conv("res%s_branch1" % k, t + ".downsample.0")
                bn("bn%s_branch1" % k, "res%s_branch1" % k, t + ".downsample.1")
    out["fc.weight"] = np.ascontiguousarray(weights["fc1000/kernel"].T).astype(np.float32)
    out["fc.bias"] = weights["fc1000/bias"].astype(np.float32)
    return out


def write_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for name, a in tensors.items():
        a = np.asarray(a, order="C")  # (ascontiguousarray would make scalars 1-d)
        data = a.astype(a.dtype.newbyteorder("<")).tobytes()
        dtype = {"float32": "F32", "int64": "I64"}[str(a.dtype)]
        header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8 : 8 + n])
    out = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        a, b = v["data_offsets"]
        dt = {"F32": "<f4", "I64": "<i8"}[v["dtype"]]
        out[k] = np.frombuffer(raw[8 + n + a : 8 + n + b], dt).reshape(v["shape"])
    return out


def keras_forward(layers, weights, x_rgb01):
    """Keras' ResNet50 graph in float64 on RGB [0, 1] inputs (N, 3, H, W)."""
    import torch
    import torch.nn.functional as F

    d = torch.float64
    wt = lambda name: torch.from_numpy(weights[name].astype(np.float64))
    mean = torch.tensor(CAFFE_MEAN_BGR, dtype=d).view(1, 3, 1, 1)
    x = x_rgb01.flip(1) * 255 - mean  # caffe: BGR, 0..255, minus the mean

    def conv(x, name, pad):
        k = wt(name + "/kernel").permute(3, 2, 0, 1)
        s = layers[name]["config"]["strides"][0]
        return F.conv2d(F.pad(x, [pad] * 4), k, wt(name + "/bias"), stride=s)

    def bn(x, name):
        eps = layers[name]["config"]["epsilon"]
        return F.batch_norm(x, wt(name + "/moving_mean"), wt(name + "/moving_variance"),
                            wt(name + "/gamma"), wt(name + "/beta"), False, 0.0, eps)

    y = F.relu(bn(conv(x, "conv1", 3), "bn_conv1"))
    y = F.max_pool2d(F.pad(y, [1] * 4), 3, 2)  # Keras pads with zeros (ReLU outputs: same as -inf)
    for i, count in enumerate(BLOCKS):
        for b in range(count):
            k = "%d%s" % (i + 2, "abcdef"[b])
            h = F.relu(bn(conv(y, "res%s_branch2a" % k, 0), "bn%s_branch2a" % k))
            h = F.relu(bn(conv(h, "res%s_branch2b" % k, 1), "bn%s_branch2b" % k))
            h = bn(conv(h, "res%s_branch2c" % k, 0), "bn%s_branch2c" % k)
            s = bn(conv(y, "res%s_branch1" % k, 0), "bn%s_branch1" % k) if b == 0 else y
            y = F.relu(h + s)
    f = y.mean(dim=(2, 3))
    return f @ wt("fc1000/kernel") + wt("fc1000/bias")


def folded_forward(converted, x_norm):
    import torch
    import torchvision

    m = torchvision.models.resnet50()
    for layer in [m.layer2, m.layer3, m.layer4]:  # ResNet v1: stride in the first 1x1
        blk = layer[0]
        blk.conv1.stride, blk.conv2.stride = (2, 2), (1, 1)
    m.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in converted.items()}, strict=True)
    m = m.double().eval()
    with torch.no_grad():
        return m(x_norm)


def main():
    mode = sys.argv[1]
    layers, weights = read_model(sys.argv[2])
    if mode == "convert":
        write_safetensors(sys.argv[3], convert(layers, weights))
        print(json.dumps({"ok": True}))
        return
    import torch

    torch.set_num_threads(1)
    n = int(sys.argv[5])
    x = np.fromfile(sys.argv[4], "<f4").reshape(n, 3, 224, 224).astype(np.float64)
    x_norm = torch.from_numpy(x)
    mean = torch.tensor(MEAN, dtype=torch.float64).view(1, 3, 1, 1)
    std = torch.tensor(STD, dtype=torch.float64).view(1, 3, 1, 1)
    with torch.no_grad():
        keras = keras_forward(layers, weights, x_norm * std + mean)
    folded = folded_forward(read_safetensors(sys.argv[3]), x_norm)
    print(json.dumps({"keras": keras.tolist(), "folded": folded.tolist()}))


if __name__ == "__main__":
    main()
