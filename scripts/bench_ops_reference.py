"""Python side of scripts/bench.ts: per-op time of small ops in PyTorch, in microseconds."""
import json
import sys
import time

import torch

threads, iters = int(sys.argv[1]), int(sys.argv[2])
torch.set_num_threads(threads)
a = torch.randn(2, 2)
b = torch.randn(2, 2)
x = torch.randn(64, 64)


def per_op(f):
    for _ in range(1000):
        f()
    t0 = time.perf_counter()
    for _ in range(iters):
        f()
    return (time.perf_counter() - t0) / iters * 1e6


out = {
    "add 2x2": per_op(lambda: a + b),
    "relu 2x2": per_op(lambda: a.relu()),
    "mm 64x64": per_op(lambda: x.mm(x)),
    "sum 2x2": per_op(lambda: a.sum()),
}
json.dump(out, sys.stdout)
