"""The critic's own confidence against whether it agreed with people: ECE and the reliability curve."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .bootstrap import distinct, replicate_weights, stat, undefined

RELIABILITY_BINS = 10


def calibration(confidence: ArrayLike, correct: ArrayLike, *, bins: int = RELIABILITY_BINS) -> dict[str, Any]:
    """Expected calibration error of the critic's own confidence, and the reliability curve (equal-width bins,
    placed as scikit-learn's calibration_curve places them). The interval is bootstrapped over confidences
    rounded to 0.01 (so that a replicate is a draw over few distinct values); the value uses them exactly."""
    p = np.asarray(confidence, dtype=float)
    y = np.asarray(correct, dtype=bool)
    n = int(p.size)
    if n == 0:
        return {"ece": undefined(0, "no verdicts with a confidence"), "curve": [], "bins": bins}
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.searchsorted(edges[1:-1], p)  # (lo, hi]: the first bin [0, 0.1], as calibration_curve
    curve = []
    gap = 0.0
    for b in range(bins):
        in_bin = which == b
        k = int(in_bin.sum())
        if k:
            mean_p, acc = float(p[in_bin].mean()), float(y[in_bin].mean())
            gap += k * abs(acc - mean_p)
            curve.append(
                {"lo": float(edges[b]), "hi": float(edges[b + 1]), "n": k, "confidence": mean_p, "accuracy": acc}
            )
    (ps, ys), counts = distinct(np.round(p, 2), y)
    w = replicate_weights(counts, salt=6)
    rep_which = np.searchsorted(edges[1:-1], ps)
    onehot = np.zeros((ps.size, bins))
    onehot[np.arange(ps.size), rep_which] = 1
    rep = np.abs(w @ (onehot * ys[:, None]) - w @ (onehot * ps[:, None])).sum(1) / n
    return {"ece": stat(gap / n, rep, n), "curve": curve, "bins": bins}
