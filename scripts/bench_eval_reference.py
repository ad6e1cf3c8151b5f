"""Reference side of scripts/bench_eval.ts: a Market-1501-sized random problem, evaluated the
way the ECN reference does it.

Usage: /usr/bin/python3 scripts/bench_eval_reference.py OUT_DIR [--seed N]

Makes 3,368 query + 15,913 gallery random 2,048-d features (~750 ids, 6 cameras, distractors
pid 0 in the gallery), L2-normalizes them, computes the squared Euclidean distance matrix with
torch (timed), writes it to OUT_DIR/dist.f32 (raw little-endian float32, row-major) and the ids /
cams to OUT_DIR/{qids,qcams,gids,gcams}.i32, then computes the metrics with NumPy the reference
way (argsort per row, sklearn-style AP transcribed in NumPy, CMC; timed). Prints one JSON line.
"""

import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "oracle"))
from eval_reference import evaluate  # noqa: E402

NQ, NG, DIM, NIDS, NCAMS = 3368, 15913, 2048, 750, 6


def main():
    out_dir = sys.argv[1]
    seed = int(sys.argv[3]) if len(sys.argv) > 3 and sys.argv[2] == "--seed" else 0
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    gids = rng.integers(1, NIDS + 1, NG).astype(np.int32)
    gids[rng.random(NG) < 0.15] = 0  # distractors
    gcams = rng.integers(0, NCAMS, NG).astype(np.int32)
    qids = rng.integers(1, NIDS + 1, NQ).astype(np.int32)
    qcams = rng.integers(0, NCAMS, NQ).astype(np.int32)
    # Features: an identity centre plus noise, so the figures are neither 0 nor 1.
    centres = torch.randn(NIDS + 1, DIM)
    qf = centres[torch.from_numpy(qids).long()] + 4.0 * torch.randn(NQ, DIM)
    gf = centres[torch.from_numpy(gids).long()] + 4.0 * torch.randn(NG, DIM)
    gf[torch.from_numpy(gids == 0)] = torch.randn(int((gids == 0).sum()), DIM) * 4.1

    t0 = time.perf_counter()
    qn = torch.nn.functional.normalize(qf, dim=1)
    gn = torch.nn.functional.normalize(gf, dim=1)
    # Squared Euclidean distance between unit vectors, as the reference's pairwise_distance.
    dist = (qn.pow(2).sum(1, keepdim=True) + gn.pow(2).sum(1).unsqueeze(0)
            - 2 * qn @ gn.t()).numpy()
    t_dist = time.perf_counter() - t0

    dist.astype("<f4").tofile(os.path.join(out_dir, "dist.f32"))
    for name, arr in [("qids", qids), ("qcams", qcams), ("gids", gids), ("gcams", gcams)]:
        arr.astype("<i4").tofile(os.path.join(out_dir, name + ".i32"))

    t0 = time.perf_counter()
    res = evaluate(dist, qids, qcams, gids, gcams, [1, 5, 10, 20], -1)
    t_metrics = time.perf_counter() - t0
    del res["perQuery"]
    res.update({"distSeconds": t_dist, "metricsSeconds": t_metrics,
                "torchThreads": torch.get_num_threads(), "nq": NQ, "ng": NG, "dim": DIM})
    print(json.dumps(res))


if __name__ == "__main__":
    main()
