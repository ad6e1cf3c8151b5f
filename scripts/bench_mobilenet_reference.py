"""The PyTorch side of scripts/bench_mobilenet.ts: ECN training steps with MobileNetV2.

argv: steps batch height width threads. The reference ECN network (tests/oracle/
ecn_net_reference.py, features.0-6 frozen) with a plain exemplar memory (logits f·Kᵀ/β, the
memory update done by hand after backward, as the reference's custom backward does); one warm-up
step, then `steps` timed steps. Prints {"images_per_s": x, "ms_per_step": y} (x counts source
and target images).
"""

import json
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "oracle"))
from ecn_net_reference import ReferenceECN  # noqa: E402

NUM_IDS, NUM_TARGET = 702, 12936


def main():
    steps, batch, height, width, threads = (int(a) for a in sys.argv[1:6])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    net = ReferenceECN("mobilenet_v2", 4096, 0.5, NUM_IDS, [f"features.{i}" for i in range(7)])
    net.set_model_train()
    base_ids = set(map(id, net.base.parameters()))
    base = [p for p in net.base.parameters() if p.requires_grad]
    new = [p for p in net.parameters() if id(p) not in base_ids]
    opt = torch.optim.SGD([{"params": base, "lr": 0.01}, {"params": new, "lr": 0.1}], lr=0.1,
                          momentum=0.9, weight_decay=5e-4, nesterov=True)
    memory = torch.zeros(NUM_TARGET, 4096)
    xs, xt = torch.randn(batch, 3, height, width), torch.randn(batch, 3, height, width)
    ys, yt = torch.randint(0, NUM_IDS, (batch,)), torch.randint(0, NUM_TARGET, (batch,))

    def step():
        opt.zero_grad(set_to_none=True)
        _, _, logits = net(xs)
        src = F.cross_entropy(logits, ys)
        _, tgt, _ = net(xt)
        loss = 0.7 * src + 0.3 * F.cross_entropy(tgt.mm(memory.t()) / 0.05, yt)
        loss.backward()
        with torch.no_grad():
            for x, y in zip(tgt.detach(), yt):
                memory[y] = x / x.norm()
        opt.step()

    step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    dt = (time.perf_counter() - t0) / steps
    print(json.dumps({"images_per_s": 2 * batch / dt, "ms_per_step": dt * 1000}))


if __name__ == "__main__":
    main()
