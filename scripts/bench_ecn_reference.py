"""Python side of `deno task bench --only ecn` and `deno task bench:cpu`: one ECN training step
(source forward + CE, target forward + exemplar memory + invariance loss, backward with the memory
update, SGD) with torchvision's ResNet/MobileNetV2, timed per step; or, with the mode `features`,
evaluation features (pool5, eval mode, no grad) of one batch per step. Prints JSON
{stepSeconds: [...], peakRssBytes}.

Usage: bench_ecn_reference.py ARCH HEIGHT WIDTH BATCH STEPS THREADS FEATURES [ecn|features]"""
import json
import os
import resource
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

arch, height, width, bs, steps, threads, feats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
mode = sys.argv[8] if len(sys.argv) > 8 else "ecn"
torch.set_num_threads(threads)
torch.manual_seed(0)


# The reference memory shared with the oracle tests.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "oracle"))
from ecn_reference import ExemplarMemory  # noqa: E402


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        if arch == "mobilenet_v2":
            m = torchvision.models.mobilenet_v2()
            self.base, dim = m.features, 1280
            frozen = [m.features[i] for i in range(7)]
        else:
            m = getattr(torchvision.models, arch)()
            self.base = nn.Sequential(*list(m.children())[:-2])
            dim = m.fc.in_features
            frozen = list(self.base.children())[:6]
        self.frozen = frozen
        for f in frozen:
            for p in f.parameters():
                p.requires_grad = False
        self.feat = nn.Linear(dim, feats)
        self.feat_bn = nn.BatchNorm1d(feats)
        self.drop = nn.Dropout(0.5)
        self.classifier = nn.Linear(feats, 100)

    def forward(self, x, tgt=False):
        x = self.base(x)
        x = F.avg_pool2d(x, x.size()[2:]).view(x.size(0), -1)
        x = self.feat_bn(self.feat(x))
        t = self.drop(F.normalize(x))
        if tgt:
            return t
        return self.classifier(self.drop(F.relu(x)))


net = Net()
times = []
if mode == "features":
    net.eval()
    x = torch.randn(bs, 3, height, width)
    with torch.no_grad():
        for s in range(steps + 1):
            t0 = time.perf_counter()
            f = net.base(x)
            F.normalize(F.avg_pool2d(f, f.size()[2:]).view(f.size(0), -1))
            if s > 0:
                times.append(time.perf_counter() - t0)
else:
    net.train()
    for f in net.frozen:
        for m in f.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.eval()
    params = [p for p in net.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=0.01, momentum=0.9, weight_decay=5e-4, nesterov=True)
    em = torch.zeros(1000, feats)
    xs, ys = torch.randn(bs, 3, height, width), torch.randint(0, 100, (bs,))
    xt, it = torch.randn(bs, 3, height, width), torch.randperm(1000)[:bs]
    for s in range(steps + 1):
        t0 = time.perf_counter()
        ls = F.cross_entropy(net(xs), ys)
        f = net(xt, tgt=True)
        lt = F.cross_entropy(ExemplarMemory.apply(f, it, em, 0.01) / 0.05, it)
        loss = 0.7 * ls + 0.3 * lt
        opt.zero_grad()
        loss.backward()
        opt.step()
        if s > 0:
            times.append(time.perf_counter() - t0)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
json.dump({"stepSeconds": times, "peakRssBytes": peak}, sys.stdout)
