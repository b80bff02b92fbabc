"""What a counterfactual probe did to the critic's verdicts, no Django: the flip rate and the mean score shift, each
with a 95% interval, in the shape of annotations/stats (value, ci95, n, and a reason when undefined).

- Flip rate: the share of items whose verdict changed under the probe. Pairwise: the preference differs (a swap
  probe's preference is stored back in the item's order, so "differs" there means "was not mirrored"). Pointwise:
  the score moved by more than a tolerance (the dataset's disagreement threshold times the profile's score range,
  the same rule that calls a reviewer and the critic in disagreement). Interval: Wilson's score interval (Wilson,
  JASA 22, 1927; from scipy.stats.binomtest), which keeps its coverage at small n and at rates near 0 or 1.
- Mean score shift (pointwise): the mean of (probe score - the item's score), and the mean absolute shift, with
  Student's t interval (scipy.stats.ttest_1samp). A shift near 0 with a tight interval under a blank image means
  the critic's scores do not depend on the picture.

Below stats.MIN_N items a figure is undefined (value None, the reason given); the t interval needs stats.MIN_CI_N
items (a mean of a few discrete shifts is far from normal), the Wilson interval is given from MIN_N up; under
stats.SMALL_N the figure is marked small_sample."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats as sps

from annotations import stats

WILSON = "Wilson score interval, 95%"
STUDENT_T = "Student's t interval, 95%"


def _small(out: stats.Stat, n: int) -> stats.Stat:
    if n < stats.SMALL_N:
        out["small_sample"] = True
    return out


def flip_rate(flipped: ArrayLike, *, reason: str = "no item has this probe yet") -> stats.Stat:
    """The share of True in `flipped` (one boolean per item) with its Wilson 95% interval; undefined (with
    `reason`, or "fewer than MIN_N") below stats.MIN_N items."""
    x = np.asarray(flipped, dtype=bool).ravel()
    n = int(x.size)
    if n == 0:
        return stats.undefined(0, reason)
    if n < stats.MIN_N:
        return stats.undefined(n, f"n = {n}: a flip rate needs at least {stats.MIN_N} items")
    k = int(x.sum())
    ci = sps.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    return _small({"value": k / n, "ci95": [float(ci.low), float(ci.high)], "n": n, "method": WILSON}, n)


def mean_shift(
    shift: ArrayLike, *, reason: str = "no item has this probe yet", floor: float | None = None
) -> stats.Stat:
    """The mean of `shift` (one number per item) with its Student's t 95% interval; undefined below stats.MIN_N,
    no interval (with "ci_reason") below stats.MIN_CI_N. When every shift is the same the interval is that value.
    `floor`: the least the mean can be (0 for absolute shifts): the interval is cut there (its coverage unchanged)."""
    x = np.asarray(shift, dtype=float).ravel()
    x = x[np.isfinite(x)]
    n = int(x.size)
    if n == 0:
        return stats.undefined(0, reason)
    if n < stats.MIN_N:
        return stats.undefined(n, f"n = {n}: a mean shift needs at least {stats.MIN_N} items")
    value = float(x.mean())
    out: stats.Stat = {"value": value, "ci95": None, "n": n, "method": STUDENT_T}
    if n < stats.MIN_CI_N:
        out["ci_reason"] = f"n = {n}: too few for a t interval (needs {stats.MIN_CI_N})"
        out["small_sample"] = True
        return out
    if np.ptp(x) == 0:
        out["ci95"] = [value, value]  # no spread: the t interval is the point itself
    else:
        ci = sps.ttest_1samp(x, 0.0).confidence_interval(confidence_level=0.95)
        low = float(ci.low) if floor is None else max(float(ci.low), floor)
        out["ci95"] = [low, float(ci.high)]
    return _small(out, n)


def pointwise_effect(original: ArrayLike, probed: ArrayLike, tolerance: ArrayLike, *, reason: str) -> dict[str, Any]:
    """A probe on pointwise items: `original` the critic's score on each item, `probed` its score under the probe
    (same units), `tolerance` the largest move that is not a flip (a number, or one per item). Returns {n,
    flip_rate, mean_score_shift (probe - original), mean_abs_score_shift}."""
    a = np.asarray(original, dtype=float)
    b = np.asarray(probed, dtype=float)
    shift = b - a
    flipped = np.abs(shift) > np.asarray(tolerance, dtype=float)
    return {
        "n": int(shift.size),
        "flip_rate": flip_rate(flipped, reason=reason),
        "mean_score_shift": mean_shift(shift, reason=reason),
        "mean_abs_score_shift": mean_shift(np.abs(shift), reason=reason, floor=0.0),
    }


def pairwise_effect(original: ArrayLike, probed: ArrayLike, *, reason: str) -> dict[str, Any]:
    """A probe on pairwise items: the critic's preference on each item and under the probe (both in the item's own
    order, as preference labels or stats.PREFERENCES codes). Returns {n, flip_rate, table: counts of (original row,
    probed column) over A / B / tie}."""
    a = np.asarray(original)
    b = np.asarray(probed)
    return {
        "n": int(a.size),
        "flip_rate": flip_rate(a != b, reason=reason),
        "table": {
            "labels": list(stats.PREFERENCES),
            "rows": "the item's verdict",
            "columns": "under the probe",
            "counts": stats.confusion(a, b),
        },
    }
