"""Agreement between each pair of reviewers: Cohen's kappa, no Django.

Cohen's kappa (Cohen 1960) for preferences; for scores the quadratic-weighted kappa (Cohen 1968) with weights the
squared distance between the scores themselves, (x - y)^2: one minus the observed mean squared disagreement over
the one expected by chance from the two reviewers' own distributions. Both in closed form from each bootstrap
set of weighted pairs (tests check them against scikit-learn's cohen_kappa_score). The 95% interval is
kappa +- 1.96 jackknife standard errors (leave one item out; Efron & Stein 1981), cut to [-1, 1], computed for every
left-out item at once from the distinct pairs: a bootstrap per pair of reviewers cost seconds at 100k items."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from annotations import stats

MAX_PAIRS = 15  # the pairs of reviewers with the most items in common

Floats = NDArray[np.float64]


def kappa_rows(w: Floats, x: Floats, y: Floats, *, weighted: bool) -> Floats:
    """Kappa per replicate row of w (weights over the distinct (x, y) pairs): quadratic-weighted on the values
    when `weighted`, else nominal (x, y category codes)."""
    n = w.sum(1)
    if weighted:
        observed = (w @ ((x - y) ** 2)) / n
        mx, my = (w @ x) / n, (w @ y) / n
        expected = (w @ (x * x)) / n + (w @ (y * y)) / n - 2 * mx * my
    else:
        observed = 1 - (w @ (x == y).astype(float)) / n
        cats = np.union1d(x, y)
        px = w @ (x[:, None] == cats[None, :]).astype(float) / n[:, None]
        py = w @ (y[:, None] == cats[None, :]).astype(float) / n[:, None]
        expected = 1 - (px * py).sum(1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(np.where(expected > 1e-12, 1 - observed / expected, np.nan), dtype=np.float64)


def pairs(
    item: ArrayLike, reviewer: ArrayLike, value: ArrayLike, *, names: dict[int, str], weighted: bool
) -> list[dict[str, Any]]:
    """For the MAX_PAIRS pairs of reviewers with the most items in common: {"reviewers": [a, b], "n",
    "cohen_kappa": statistic with its bootstrap interval}. One row per human verdict in, `value` the score (for
    `weighted`) or the preference code."""
    it = np.asarray(item, dtype=np.int64)
    rv = np.asarray(reviewer, dtype=np.int64)
    val = np.asarray(value, dtype=float)
    order = np.lexsort((rv, it))
    it, rv, val = it[order], rv[order], val[order]
    left: list[NDArray[np.int64]] = []
    right: list[NDArray[np.int64]] = []
    for d in range(1, 64):  # rows d apart on the same item are a pair of its reviewers
        same = np.flatnonzero(it[d:] == it[:-d]) if it.size > d else np.zeros(0, dtype=np.int64)
        if not same.size:
            break
        left.append(same)
        right.append(same + d)
    if not left:
        return []
    li, ri = np.concatenate(left), np.concatenate(right)
    (ra, rb), counts = stats.distinct(rv[li], rv[ri])
    top = np.argsort(-counts, kind="stable")[:MAX_PAIRS]
    out = []
    for k in top.tolist():
        mine = (rv[li] == ra[k]) & (rv[ri] == rb[k])
        x, y = val[li[mine]], val[ri[mine]]
        n = int(x.size)
        label = [names.get(int(ra[k]), str(ra[k])), names.get(int(rb[k]), str(rb[k]))]
        if n < stats.MIN_N:
            kappa = stats.undefined(n, f"{n} item(s) in common: kappa needs at least {stats.MIN_N}")
        else:
            kappa = _kappa_stat(x, y, weighted=weighted)
        out.append({"reviewers": label, "n": n, "cohen_kappa": kappa})
    return out


def _kappa_stat(x: Floats, y: Floats, *, weighted: bool) -> stats.Stat:
    n = int(x.size)
    (xs, ys), c = stats.distinct(x, y)
    counts = c.astype(float)
    value = kappa_rows(counts[None, :], xs, ys, weighted=weighted)[0]
    if np.isnan(value):
        return stats.undefined(n, "both reviewers gave one value throughout")
    out = stats.stat(value, None, n)
    if n >= stats.MIN_CI_N:
        loo = _leave_one_out(counts, xs, ys, weighted=weighted)
        if np.isfinite(loo).all():
            mean = float(counts @ loo / n)
            se = float(np.sqrt((n - 1) / n * (counts @ (loo - mean) ** 2)))
            half = 1.959963984540054 * se  # a normal interval, cut to the values kappa can take (it exceeded 1)
            out["ci95"] = [max(-1.0, float(value) - half), min(1.0, float(value) + half)]
        else:
            out["ci_reason"] = "leaving one item out leaves a reviewer with one value: no jackknife interval"
    return out


def _leave_one_out(counts: Floats, x: Floats, y: Floats, *, weighted: bool) -> Floats:
    """Kappa with one item of each distinct pair d left out, for every d at once: the sums kappa_rows forms,
    less pair d's own term (O(distinct pairs), not a row of weights per left-out item)."""
    m = counts.sum() - 1
    with np.errstate(divide="ignore", invalid="ignore"):
        if weighted:
            observed = (counts @ ((x - y) ** 2) - (x - y) ** 2) / m
            mx, my = (counts @ x - x) / m, (counts @ y - y) / m
            expected = (counts @ (x * x) - x * x) / m + (counts @ (y * y) - y * y) / m - 2 * mx * my
        else:
            observed = 1 - (counts @ (x == y) - (x == y)) / m
            cats = np.union1d(x, y)
            in_x = (x[:, None] == cats[None, :]).astype(float)
            in_y = (y[:, None] == cats[None, :]).astype(float)
            px = (counts @ in_x - in_x) / m
            py = (counts @ in_y - in_y) / m
            expected = 1 - (px * py).sum(1)
        return np.asarray(np.where(expected > 1e-12, 1 - observed / expected, np.nan), dtype=np.float64)
