"""Oracle for tests/ecn_net_test.ts: the ECN network as the reference code (zhunzhong07/ECN,
reid/models/resnet.py, quoted in the project's ../shared/seed) builds it, on the project's weights.

stdin: {"arch": "resnet18" | "mobilenet_v2", "num_features": int, "dropout": float,
        "num_classes": int, "dtype": "float32" | "float64", "frozen": [top-level names under base, e.g. "layer1", "features.3"],
        "state": PATH, "input": PATH, "out_dir": DIR,
        "cases": [{"name": N, "training": bool, "seed": int}]}
  state (safetensors): the project's full state dict (base.*, feat.*, feat_bn.*, classifier.*).
  input (safetensors): "x" (N, 3, H, W), "r_logits", "r_tgt", "r_pool5" (loss weights).
  Per case: a fresh reference network loads the state strictly (converted to dtype, as are the
  inputs); train mode (then the frozen
  BatchNorms back to eval, as the reference's set_model_train does) or eval mode; the generator
  is seeded; one forward in the reference's order
      pool5 = avg_pool(base(x)); x = feat_bn(feat(pool5)); tgt = drop(normalize(x));
      logits = classifier(drop(relu(x)))
  loss = sum(logits * r_logits) + sum(tgt * r_tgt) + sum(normalize(pool5) * r_pool5), backward.
  DIR/<name>.safetensors: "pool5" (normalized), "tgt", "logits", "grad.<param>" for parameters
  that got a gradient, "after.<buffer>" for every buffer.
stdout: {"cases": {name: {"no_grad": [params without gradient]}}}
"""

import json
import os
import sys

import torch
import torch.nn.functional as F
import torchvision
from torch import nn
from torch.nn import init

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mobilenet_reference import read_safetensors  # noqa: E402
from write_weights import write_safetensors  # noqa: E402


class ReferenceECN(nn.Module):
    """The reference's ResNet wrapper with has_embedding, dropout and a classifier."""

    def __init__(self, arch, num_features, dropout, num_classes, frozen):
        super().__init__()
        if arch == "mobilenet_v2":
            self.base = torchvision.models.mobilenet_v2()
            self.base.classifier = nn.Identity()
            out_planes = 1280
        else:
            self.base = getattr(torchvision.models, arch)()
            out_planes = self.base.fc.in_features
        self.frozen = frozen
        for name in frozen:
            for p in self.base.get_submodule(name).parameters():
                p.requires_grad = False
        self.dropout = dropout
        self.feat = nn.Linear(out_planes, num_features)
        self.feat_bn = nn.BatchNorm1d(num_features)
        init.kaiming_normal_(self.feat.weight, mode="fan_out")
        init.constant_(self.feat.bias, 0)
        init.constant_(self.feat_bn.weight, 1)
        init.constant_(self.feat_bn.bias, 0)
        self.drop = nn.Dropout(dropout)
        self.classifier = nn.Linear(num_features, num_classes)
        init.normal_(self.classifier.weight, std=0.001)
        init.constant_(self.classifier.bias, 0)

    def set_model_train(self):
        self.train()
        for name in self.frozen:
            for m in self.base.get_submodule(name).modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()

    def backbone(self, x):
        if isinstance(self.base, torchvision.models.MobileNetV2):
            return self.base.features(x)
        for name, module in self.base._modules.items():
            if name == "avgpool":
                break
            x = module(x)
        return x

    def forward(self, x):
        x = self.backbone(x)
        x = F.avg_pool2d(x, x.size()[2:])
        pool5 = x.view(x.size(0), -1)
        x = self.feat(pool5)
        x = self.feat_bn(x)
        tgt_feat = F.normalize(x)
        tgt_feat = self.drop(tgt_feat)
        x = F.relu(x)
        if self.dropout > 0:
            x = self.drop(x)
        logits = self.classifier(x)
        return F.normalize(pool5), tgt_feat, logits


def main():
    req = json.load(sys.stdin)
    state = read_safetensors(req["state"])
    inputs = read_safetensors(req["input"])
    report = {}
    for case in req["cases"]:
        net = ReferenceECN(req["arch"], req["num_features"], req["dropout"], req["num_classes"],
                           req["frozen"])
        # The project's backbone has no head (fc / classifier); the reference's is unused.
        if "base.fc.weight" not in state and hasattr(net.base, "fc"):
            net.base.fc = nn.Identity()
        net.load_state_dict(state, strict=True)
        dtype = torch.float64 if req.get("dtype") == "float64" else torch.float32
        net.to(dtype)
        x = {k: v.to(dtype) for k, v in inputs.items()}
        if case["training"]:
            net.set_model_train()
        else:
            net.eval()
        torch.manual_seed(case["seed"])
        pool5, tgt, logits = net(x["x"])
        loss = ((logits * x["r_logits"]).sum() + (tgt * x["r_tgt"]).sum()
                + (pool5 * x["r_pool5"]).sum())
        loss.backward()
        out = {"pool5": pool5.detach(), "tgt": tgt.detach(), "logits": logits.detach()}
        no_grad = []
        for name, p in net.named_parameters():
            if p.grad is None:
                no_grad.append(name)
            else:
                out["grad." + name] = p.grad
        for name, b in net.named_buffers():
            out["after." + name] = b
        write_safetensors(os.path.join(req["out_dir"], case["name"] + ".safetensors"), out)
        report[case["name"]] = {"no_grad": no_grad}
    print(json.dumps({"cases": report}))


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
