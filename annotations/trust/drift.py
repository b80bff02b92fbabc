"""Does quantization change the critic's verdicts? Agreement between the same checkpoint's verdicts on the same items
at two quantizations (e.g. nf4 against full precision). Plain arrays in, plain dicts out: no Django;
annotations/selectors/drift.py feeds them from the database.

Every figure has the shape of annotations.stats ({"value", "ci95", "n"}, and "reason" when undefined):
- pointwise (scores): Pearson's r with the Fisher z-transform interval (Fisher 1921: atanh(r) is about normal with
  standard error 1/sqrt(n - 3); computed by scipy.stats.pearsonr(...).confidence_interval); the mean absolute score
  difference, in the profile's points, with a percentile bootstrap interval (annotations.stats); and the flip rate,
  the share of items whose score changed at all;
- pairwise (preferences A / B / tie): Cohen's kappa (scikit-learn) with a percentile bootstrap interval
  (annotations.stats.pairwise_agreement), the confusion table, and the flip rate, the share of items whose preference
  changed.
Flip rates carry the Wilson score interval (Wilson 1927; scipy.stats.binomtest(...).proportion_ci("wilson")), which
stays inside [0, 1] and is not degenerate at 0 flips, the usual case for a faithful quantization.

Below annotations.stats.MIN_N items a figure is undefined, with the reason; under SMALL_N it is marked small."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats as sps

from annotations import stats
from annotations.stats import MIN_N, SMALL_N, Stat

CONFIDENCE = 0.95


def _too_few(n: int) -> Stat | None:
    if n < MIN_N:
        return stats.undefined(n, f"n = {n}: fewer than {MIN_N} items judged at both quantizations")
    return None


def _marked(out: Stat) -> Stat:
    if out["n"] < SMALL_N:
        out["small_sample"] = True
    return out


def pearson_fisher(x: ArrayLike, y: ArrayLike) -> Stat:
    """Pearson's r between paired scores with its 95% Fisher z interval (needs n >= 4: with 3 the standard error
    1/sqrt(n - 3) is infinite, so no interval is given, with the reason). Undefined when either side's scores do
    not vary (r is 0/0)."""
    a, b = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    n = int(a.size)
    if (few := _too_few(n)) is not None:
        return few
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return stats.undefined(n, "the scores at one quantization do not vary: r is undefined")
    result = sps.pearsonr(a, b)
    value = float(result.statistic)
    if n <= 3:
        reason = "n = 3: the Fisher interval needs at least 4 items"
        return {"value": value, "ci95": None, "n": n, "ci_reason": reason, "small_sample": True}
    ci = result.confidence_interval(CONFIDENCE)
    lo, hi = float(np.nan_to_num(ci.low, nan=value)), float(np.nan_to_num(ci.high, nan=value))
    return _marked({"value": value, "ci95": [min(lo, value), max(hi, value)], "n": n})


def flip_rate(changed: ArrayLike) -> Stat:
    """The share of items whose verdict changed, with its 95% Wilson score interval; k (the flips) beside n."""
    flips = np.asarray(changed, dtype=bool)
    n = int(flips.size)
    if (few := _too_few(n)) is not None:
        return few
    k = int(flips.sum())
    ci = sps.binomtest(k, n).proportion_ci(confidence_level=CONFIDENCE, method="wilson")
    return _marked({"value": k / n, "ci95": [float(ci.low), float(ci.high)], "n": n, "flips": k})


def mean_abs_difference(x: ArrayLike, y: ArrayLike) -> Stat:
    """The mean absolute score difference, in the profile's points, with its percentile bootstrap interval."""
    a, b = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if (few := _too_few(int(a.size))) is not None:
        return few
    return stats.pointwise_agreement(a, b)["mae"]


def pointwise_drift(reference: ArrayLike, other: ArrayLike) -> dict[str, Any]:
    """Scores of the same items at two quantizations (aligned): {n, pearson, mean_abs_difference, flip_rate}."""
    a, b = np.asarray(reference, dtype=float), np.asarray(other, dtype=float)
    return {
        "n": int(a.size),
        "pearson": pearson_fisher(a, b),
        "mean_abs_difference": mean_abs_difference(a, b),
        "flip_rate": flip_rate(a != b),
    }


def pairwise_drift(reference: ArrayLike, other: ArrayLike) -> dict[str, Any]:
    """Preferences of the same items at two quantizations (aligned): {n, cohen_kappa, flip_rate, confusion_matrix}
    (rows the reference quantization, columns the other)."""
    a, b = np.asarray(reference, dtype=object), np.asarray(other, dtype=object)
    n = int(a.size)
    agreement = stats.pairwise_agreement(a, b)
    kappa = agreement["cohen_kappa"]
    if (few := _too_few(n)) is not None:
        kappa = few
    elif kappa["value"] is None and kappa.get("reason") == "one class":
        kappa = stats.undefined(n, "every verdict at both quantizations is the same preference: kappa is 0/0")
    confusion = dict(agreement["confusion_matrix"], rows="reference", columns="other")
    return {"n": n, "cohen_kappa": kappa, "flip_rate": flip_rate(a != b), "confusion_matrix": confusion}
