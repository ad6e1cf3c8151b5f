"""Reference side of scripts/bench_eval.ts: the same features, evaluated the way the ECN /
open-reid reference does it.

Usage: /usr/bin/python3 scripts/bench_eval_reference.py DIR NQ NG DIM [--threads N] [--rounds R]

Reads DIR/qf.f32 (NQ x DIM) and DIR/gf.f32 (NG x DIM), raw little-endian float32 row-major
(already L2-normalized), and DIR/{qids,qcams,gids,gcams}.i32 (raw int32), as bench_eval.ts
writes them. Per round it times (1) the squared Euclidean distance matrix computed as open-reid's
`pairwise_distance` does (x² row sums expanded + y² row sums expanded, then `addmm_(x, y.t(),
beta=1, alpha=-2)`) with N torch threads, and (2) the metrics in NumPy the reference way (argsort
of every row, sklearn-style AP transcribed in NumPy, CMC; tests/oracle/eval_reference.py).
Prints one JSON line: the figures of the last round and the per-round times. Where scikit-learn
is installed (Debian python3-sklearn) it also times (3) open-reid's own `cmc` + `mean_ap`
(reid/evaluation_metrics/ranking.py: two argsorts and sklearn's `average_precision_score` per
query), the code the ECN reference runs: `openReidMetricsSeconds`, `openReidMAP`.
"""

import argparse
import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "oracle"))
from eval_reference import evaluate  # noqa: E402


def read(path, dtype, count):
    a = np.fromfile(path, dtype=dtype)
    if a.size != count:
        raise ValueError(f"{path} has {a.size} values, expected {count}")
    return a


def pairwise_distance(x, y):
    """open-reid's evaluators.pairwise_distance (query x gallery squared Euclidean)."""
    m, n = x.size(0), y.size(0)
    x = x.view(m, -1)
    y = y.view(n, -1)
    dist = torch.pow(x, 2).sum(dim=1, keepdim=True).expand(m, n) + \
        torch.pow(y, 2).sum(dim=1, keepdim=True).expand(n, m).t()
    dist.addmm_(x, y.t(), beta=1, alpha=-2)
    return dist


def open_reid_metrics(distmat, query_ids, gallery_ids, query_cams, gallery_cams):
    """open-reid's `mean_ap` and Market-1501 `cmc` (first match only), as the reference calls
    them from `evaluate_all`: each argsorts the whole matrix; AP is sklearn's per query."""
    from sklearn.metrics import average_precision_score

    m, n = distmat.shape
    indices = np.argsort(distmat, axis=1)
    matches = gallery_ids[indices] == query_ids[:, np.newaxis]
    aps = []
    for i in range(m):
        valid = (gallery_ids[indices[i]] != query_ids[i]) | (gallery_cams[indices[i]] != query_cams[i])
        y_true = matches[i, valid]
        y_score = -distmat[i][indices[i]][valid]
        if not np.any(y_true):
            continue
        aps.append(average_precision_score(y_true, y_score))
    mean_ap = float(np.mean(aps))
    indices = np.argsort(distmat, axis=1)
    matches = gallery_ids[indices] == query_ids[:, np.newaxis]
    ret = np.zeros(100)
    num_valid = 0
    for i in range(m):
        valid = (gallery_ids[indices[i]] != query_ids[i]) | (gallery_cams[indices[i]] != query_cams[i])
        if not np.any(matches[i, valid]):
            continue
        index = np.nonzero(matches[i, valid])[0]
        if index[0] < 100:
            ret[index[0]:] += 1
        num_valid += 1
    return mean_ap, ret / num_valid


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("nq", type=int)
    ap.add_argument("ng", type=int)
    ap.add_argument("dim", type=int)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--rounds", type=int, default=1)
    a = ap.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    d = a.dir
    qf = read(os.path.join(d, "qf.f32"), "<f4", a.nq * a.dim).reshape(a.nq, a.dim)
    gf = read(os.path.join(d, "gf.f32"), "<f4", a.ng * a.dim).reshape(a.ng, a.dim)
    qf, gf = torch.from_numpy(qf), torch.from_numpy(gf)
    qids = read(os.path.join(d, "qids.i32"), "<i4", a.nq)
    qcams = read(os.path.join(d, "qcams.i32"), "<i4", a.nq)
    gids = read(os.path.join(d, "gids.i32"), "<i4", a.ng)
    gcams = read(os.path.join(d, "gcams.i32"), "<i4", a.ng)

    try:
        import sklearn.metrics  # noqa: F401
        has_sklearn = True
    except ImportError:
        has_sklearn = False
    dist_s, metrics_s, open_reid_s = [], [], []
    open_reid_map = None
    res = None
    with torch.no_grad():
        for _ in range(a.rounds):
            t0 = time.perf_counter()
            dist = pairwise_distance(qf, gf)
            dist_s.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            res = evaluate(dist.numpy(), qids, qcams, gids, gcams, [1, 5, 10, 20], -1)
            metrics_s.append(time.perf_counter() - t0)
            if has_sklearn:
                t0 = time.perf_counter()
                open_reid_map, _ = open_reid_metrics(dist.numpy(), qids, gids, qcams, gcams)
                open_reid_s.append(time.perf_counter() - t0)
            del dist
    del res["perQuery"]
    res.update({"distSeconds": dist_s, "metricsSeconds": metrics_s,
                "torchThreads": torch.get_num_threads()})
    if has_sklearn:
        res.update({"openReidMetricsSeconds": open_reid_s, "openReidMAP": open_reid_map})
    print(json.dumps(res))


if __name__ == "__main__":
    main()
