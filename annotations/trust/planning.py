"""How many more human verdicts, and which: label planning and the active-inference desk order, no Django.

Planning. For a PPI estimate (annotations/trust/ppi.py) the 95% interval is 2 z sqrt(V_r / n + V_i / N): V_r the
variance of the rectifier (label - lambda x critic) over the n judged items, V_i that of lambda x critic over the N
others (PPI++, Angelopoulos, Duchi & Zrnic 2023). Holding lambda and the variances at their current estimates, the
projected width after n' judged items is that formula with N = total - n' (or the humans-only interval,
2 z sd / sqrt(n'), where narrower); the further verdicts needed are the first n' - n whose width is under the
administrator's target. For a bootstrap interval (an agreement statistic) the width shrinks as 1 / sqrt(n): n
(w / target)^2 - n more.

Which items. Active statistical inference (Zrnic & Candes, "Active Statistical Inference", ICML 2024): a mean is
estimated most precisely for a given number of labels when item i is labelled with probability proportional to
the critic's uncertainty there, u_i = sqrt(E_p[(Y - verdict)^2]) under the critic's own verdict distribution p
(pairwise: A = 1, B = 0, tie = 1/2; pointwise: scores as fractions of the range). The desk's "most informative
first" order is priority sampling (Duffield, Lund & Thorup, JACM 2007) on those weights: item i's key is
(u_i + FLOOR) / U_i, U_i a fixed pseudo-random uniform of its id, largest first; every prefix of the order is then
a sample with known inclusion probabilities min(1, (u_i + FLOOR) / tau) (tau: the first key left out), so the
inverse-probability-weighted estimate active_ppi_mean() stays unbiased. FLOOR keeps every item possible."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

Z = 1.959963984540054  # the normal quantile of a 95% interval, as ppi-python's _zconfint_generic uses
MIN_LABELED = 10  # as stats.MIN_CI_N (not imported: the judging service imports this module, light on purpose)
FLOOR = 0.05  # added to every uncertainty: an item the critic is sure about can still be drawn
HASH_MULTIPLIER = 2654435761  # Knuth's multiplicative hash, then mod a prime: a fixed uniform per item id
HASH_PRIME = 4294967291
CURVE_POINTS = 24
PAIRWISE_VALUES = {"A": 1.0, "B": 0.0, "tie": 0.5}

Floats = NDArray[np.float64]


def stable_uniform(item_id: ArrayLike) -> Floats:
    """A pseudo-random number in (0, 1] fixed for each item id (the same formula as the desk's SQL)."""
    ids = np.asarray(item_id, dtype=np.int64)
    return np.asarray(((ids * HASH_MULTIPLIER) % HASH_PRIME + 1) / (HASH_PRIME + 1.0), dtype=np.float64)


def verdict_uncertainty(
    probabilities: dict[str, float], verdict: str | float | None, *, lo: float = 0.0, hi: float = 1.0
) -> float | None:
    """sqrt(E_p[(Y - verdict)^2]) under the critic's verdict distribution ({"A": p, "B": p, "tie": p}, or
    {"7": p, ...} for scores on [lo, hi]), on the unit scale (with the defaults: in the scores' own units); None
    without a distribution or a verdict, or with a label that is neither a preference nor a number."""
    span = hi - lo if hi > lo else 1.0

    def value(key: str | float) -> float:
        if isinstance(key, str) and key in PAIRWISE_VALUES:
            return PAIRWISE_VALUES[key]
        return (float(key) - lo) / span

    total = sum(probabilities.values())
    if not probabilities or total <= 0 or verdict is None:
        return None
    try:
        at = value(verdict)
        spread = sum(p * (value(k) - at) ** 2 for k, p in probabilities.items()) / total
    except (TypeError, ValueError):
        return None
    return math.sqrt(max(0.0, spread))


def priority_keys(item_id: ArrayLike, uncertainty: ArrayLike) -> Floats:
    """The "most informative first" keys (largest first): (u + FLOOR) / U(id)."""
    u = np.nan_to_num(np.asarray(uncertainty, dtype=float), nan=0.0)
    return np.asarray((u + FLOOR) / stable_uniform(item_id), dtype=np.float64)


def inclusion_probabilities(keys: ArrayLike, uncertainty: ArrayLike, labeled: ArrayLike) -> Floats:
    """Priority sampling's inclusion probability of each labelled item, min(1, (u + FLOOR) / tau), tau the
    largest key among the items not labelled (Duffield, Lund & Thorup 2007); 1 where every item is labelled."""
    k = np.asarray(keys, dtype=float)
    mask = np.asarray(labeled, dtype=bool)
    weight = np.nan_to_num(np.asarray(uncertainty, dtype=float), nan=0.0) + FLOOR
    tau = k[~mask].max() if (~mask).any() else 0.0
    return np.asarray(np.where(tau > 0, np.minimum(1.0, weight / max(tau, 1e-300)), 1.0), dtype=np.float64)


def active_ppi_mean(label: ArrayLike, predicted: ArrayLike, labeled: ArrayLike, pi: ArrayLike) -> dict[str, float]:
    """Zrnic & Candes's active estimate of a mean over all N items: mean_i [lam f_i + (y_i - lam f_i) xi_i / pi_i]
    (xi_i: item i labelled, pi_i its inclusion probability), lam chosen to minimise the estimate's variance
    (clipped to [0, 1]), with its CLT 95% interval. label is read only where labelled."""
    f = np.asarray(predicted, dtype=float)
    xi = np.asarray(labeled, dtype=bool)
    y = np.where(xi, np.asarray(label, dtype=float), 0.0)
    p = np.where(xi, np.asarray(pi, dtype=float), 1.0)
    a = f * (1 - xi / p)  # the lambda-weighted part of each term
    b = y * xi / p
    var_a = float(np.var(a))
    lam = float(np.clip(-np.cov(a, b)[0, 1] / var_a, 0.0, 1.0)) if var_a > 0 else 0.0
    terms = lam * a + b
    n = terms.size
    half = Z * float(np.std(terms)) / math.sqrt(n)
    mean = float(terms.mean())
    return {"estimate": mean, "ci95": [mean - half, mean + half], "width": 2 * half, "lam": lam}  # type: ignore[dict-item]


def _ppi_width(fit: dict[str, Any], sd_label: float, n: Floats, total: int) -> Floats:
    rest = np.maximum(total - n, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ppi = 2 * Z * np.sqrt(fit["var_rectifier"] / n + fit["var_imputed"] / rest)
        classical = 2 * Z * sd_label / np.sqrt(n)
    return np.asarray(np.fmin(ppi, classical), dtype=np.float64)


def ppi_plan(row: dict[str, Any], *, target: float, sd_label: float) -> dict[str, Any]:
    """The further human verdicts expected to bring this PPI row's interval under `target` (same units as the
    estimate), and the projected width curve [[verdicts, width], ...] for the plot. {"figure", "width",
    "target", "n", "further_labels" (None + "reason" when not reachable), "curve"}."""
    out: dict[str, Any] = {"figure": row["model"], "target": target, "n": row["n_labeled"], "curve": []}
    fit = row.get("_fit")
    if fit is None:
        return {**out, "width": None, "further_labels": None, "reason": row.get("reason", "no estimate")}
    n, total = row["n_labeled"], row["n_labeled"] + row["n_unlabeled"]
    width = fit["ci95"][1] - fit["ci95"][0]
    out["width"] = width
    grid = np.arange(n, total + 1, dtype=float)
    widths = _ppi_width(fit, sd_label, grid, total)
    under = np.flatnonzero(widths <= target)
    if width <= target:
        out["further_labels"] = 0
    elif under.size:
        out["further_labels"] = int(grid[under[0]]) - n
    else:
        out["further_labels"] = None
        out["reason"] = f"not reachable: even with all {total} items judged the interval stays wider"
    points = np.unique(np.geomspace(max(MIN_LABELED, 1), max(total, MIN_LABELED + 1), CURVE_POINTS).round())
    out["curve"] = [[int(x), float(w)] for x, w in zip(points, _ppi_width(fit, sd_label, points, total), strict=True)]
    return out


def bootstrap_plan(figure: str, s: dict[str, Any], *, target: float) -> dict[str, Any]:
    """The same for a bootstrap interval, which narrows as 1 / sqrt(n): n (width / target)^2 - n more."""
    out: dict[str, Any] = {"figure": figure, "target": target, "n": s.get("n", 0), "curve": []}
    if s.get("value") is None or not s.get("ci95"):
        why = s.get("reason") or s.get("ci_reason") or "no interval yet"
        return {**out, "width": None, "further_labels": None, "reason": why}
    width = s["ci95"][1] - s["ci95"][0]
    n = int(s["n"])
    out["width"] = width
    out["further_labels"] = 0 if width <= target else max(0, math.ceil(n * (width / target) ** 2) - n)
    points = np.unique(np.geomspace(max(n, 1), max(n, 1) * 16, CURVE_POINTS).round())
    out["curve"] = [[int(x), float(width * math.sqrt(n / x))] for x in points]
    return out
