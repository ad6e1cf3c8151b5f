"""Reference re-ID metrics in NumPy, the way ECN / open-reid compute them.

Reads JSON from stdin: {dist: [nq*ng floats], nq, ng, qids, qcams, gids, gcams, ranks, junk}
and prints JSON: {cmc, mAP, mAPNonInterpolated, mINP, valid, skipped, perQuery: {...}}.

scikit-learn is not installed, so `precision_recall_curve` and `auc` are transcribed in NumPy
from scikit-learn (the `_binary_clf_curve` / `precision_recall_curve` / `auc` code that ECN's
`reid/evaluation_metrics/ranking.py` calls: AP = auc(recall, precision), trapezoid rule).
The per-query loop follows ECN's `map_cmc`: argsort the row, drop same id + same camera,
AP over the remaining items, CMC from the first match. Rows are sorted with a stable argsort
so that ties are ordered by gallery index. Gallery items with the junk id are dropped as well
(ECN's loader drops them before evaluation, so this changes nothing there).
"""

import json
import sys

import numpy as np


def _binary_clf_curve(y_true, y_score):
    """scikit-learn's _binary_clf_curve (no sample weights, pos_label = True)."""
    y_true = y_true == 1
    desc_score_indices = np.argsort(y_score, kind="mergesort")[::-1]
    y_score = y_score[desc_score_indices]
    y_true = y_true[desc_score_indices]
    # One threshold per distinct score value; the last index closes the curve.
    distinct_value_indices = np.where(np.diff(y_score))[0]
    threshold_idxs = np.r_[distinct_value_indices, y_true.size - 1]
    tps = np.cumsum(y_true, dtype=np.float64)[threshold_idxs]
    fps = 1 + threshold_idxs - tps
    return fps, tps, y_score[threshold_idxs]


def precision_recall_curve(y_true, probas_pred):
    """scikit-learn's precision_recall_curve (decreasing recall, ends at (recall 0, precision 1))."""
    fps, tps, thresholds = _binary_clf_curve(y_true, probas_pred)
    precision = tps / (tps + fps)
    recall = tps / tps[-1]
    # Stop when full recall is attained and reverse so that recall is decreasing.
    last_ind = tps.searchsorted(tps[-1])
    sl = slice(last_ind, None, -1)
    return np.r_[precision[sl], 1], np.r_[recall[sl], 0], thresholds[sl]


def auc(x, y):
    """scikit-learn's auc: trapezoid rule, x monotonic (decreasing allowed)."""
    direction = 1
    dx = np.diff(x)
    if np.any(dx < 0):
        if np.all(dx <= 0):
            direction = -1
        else:
            raise ValueError("x is neither increasing nor decreasing")
    return direction * np.trapz(y, x)


def average_precision_reference(y_true, y_score):
    """ECN's average_precision_score: auc(recall, precision) over the PR curve."""
    precision, recall, _ = precision_recall_curve(y_true, y_score)
    return auc(recall, precision)


def evaluate(dist, qids, qcams, gids, gcams, ranks, junk):
    """Per-query loop in ECN's map_cmc style; also non-interpolated AP and INP."""
    m = dist.shape[0]
    maxrank = max(ranks)
    indices = np.argsort(dist, axis=1, kind="stable")
    matches = gids[indices] == qids[:, np.newaxis]
    aps, aps_ni, inps = [], [], []
    cmc_hits = np.zeros(maxrank)
    first_rank = np.zeros(m, dtype=np.int64)
    per_ap = np.full(m, np.nan)
    per_ap_ni = np.full(m, np.nan)
    per_inp = np.full(m, np.nan)
    valid_count = 0
    for i in range(m):
        order = indices[i]
        valid = (gids[order] != qids[i]) | (gcams[order] != qcams[i])
        if junk is not None:
            valid &= gids[order] != junk
        y_true = matches[i, valid]
        if not np.any(y_true):
            continue
        y_score = -dist[i][order][valid]
        ap = average_precision_reference(y_true, y_score)
        # Non-interpolated AP (torchreid / fast-reid): mean precision at each hit.
        hits = np.nonzero(y_true)[0]
        cum = np.cumsum(y_true)
        ap_ni = np.mean(cum[hits] / (hits + 1.0))
        # INP: positives / rank of the hardest positive.
        inp = len(hits) / (hits[-1] + 1.0)
        if hits[0] < maxrank:
            cmc_hits[hits[0]] += 1
        aps.append(ap)
        aps_ni.append(ap_ni)
        inps.append(inp)
        first_rank[i] = hits[0] + 1
        per_ap[i], per_ap_ni[i], per_inp[i] = ap, ap_ni, inp
        valid_count += 1
    if valid_count == 0:
        raise RuntimeError("No valid query")
    cmc = cmc_hits.cumsum() / valid_count
    return {
        "cmc": [float(cmc[r - 1]) for r in ranks],
        "mAP": float(np.mean(aps)),
        "mAPNonInterpolated": float(np.mean(aps_ni)),
        "mINP": float(np.mean(inps)),
        "valid": valid_count,
        "skipped": m - valid_count,
        "perQuery": {
            "firstMatchRank": first_rank.tolist(),
            "ap": [None if np.isnan(v) else float(v) for v in per_ap],
            "apNonInterpolated": [None if np.isnan(v) else float(v) for v in per_ap_ni],
            "inp": [None if np.isnan(v) else float(v) for v in per_inp],
        },
    }


def main():
    inp = json.load(sys.stdin)
    nq, ng = inp["nq"], inp["ng"]
    dist = np.asarray(inp["dist"], dtype=np.float32).reshape(nq, ng)
    out = evaluate(
        dist,
        np.asarray(inp["qids"]),
        np.asarray(inp["qcams"]),
        np.asarray(inp["gids"]),
        np.asarray(inp["gcams"]),
        inp["ranks"],
        inp.get("junk", -1),
    )
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
