"""The PyTorch side of scripts/bench_resnet.ts: ResNet-50 training steps in images/s.

argv: steps batch height width threads. One warm-up step, then `steps` timed steps of
forward + cross-entropy + backward + SGD (momentum 0.9, Nesterov, weight decay 5e-4).
Prints {"images_per_s": x, "ms_per_step": y}.
"""

import json
import sys
import time

import torch
import torchvision


def main():
    steps, batch, height, width, threads = (int(a) for a in sys.argv[1:6])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = torchvision.models.resnet50(num_classes=751).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4, nesterov=True)
    x = torch.randn(batch, 3, height, width)
    y = torch.randint(0, 751, (batch,))

    def step():
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()

    step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    dt = (time.perf_counter() - t0) / steps
    print(json.dumps({"images_per_s": batch / dt, "ms_per_step": dt * 1000}))


if __name__ == "__main__":
    main()
