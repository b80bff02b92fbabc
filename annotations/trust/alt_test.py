"""Can the critic replace a reviewer? The alternative annotator test and the human ceiling: no Django.

The alt-test (Calderon, Reichart & Dror, "The Alternative Annotator Test for LLM-as-a-Judge", ACL 2025,
arXiv:2501.10970): on items with at least three reviewers, each reviewer j is left out in turn; on each of j's items
the critic's alignment with the remaining reviewers, S(critic), is compared with j's own, S(j). With the indicators
W_critic = [S(critic) >= S(j)] and W_j = [S(j) >= S(critic)], the paired one-sided t-test of
H0: mean(W_j - W_critic) >= epsilon against H1: < epsilon (epsilon, the cost-benefit margin, favours the cheaper
critic) gives one p-value per reviewer; Benjamini-Yekutieli controls the false discovery rate over the reviewers at
q = 0.05; the winning rate omega is the share of reviewers whose null is rejected, and the critic passes when
omega >= 0.5. The advantage probability rho is the mean over reviewers of mean(W_critic).

Alignment S (the paper's scoring functions): pairwise, accuracy, the share of the other reviewers who gave the same
preference; pointwise, 1 - RMSE / range, the paper's negative root-mean-square distance to the other reviewers'
scores, in fractions of the profile's range and shifted by 1 so that 1 is perfect agreement (the shift changes no
comparison)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats as sps

from annotations import stats

EPSILON = 0.2  # the paper's default (its rule of thumb for expert annotators; 0.15 skilled, 0.1 crowd workers)
Q_FDR = 0.05  # Benjamini-Yekutieli level over the reviewers, as in the paper
MIN_REVIEWERS_PER_ITEM = 3  # leave one out and at least two others remain: a consensus to compare with
MIN_ITEMS_PER_REVIEWER = 30  # the paper's minimum for the t-test's normal approximation
MIN_REVIEWERS = 3

Floats = NDArray[np.float64]


@dataclass(frozen=True)
class Verdicts:
    """One row per human verdict: the item (any integer id), the reviewer (any integer id), the verdict's value
    (pointwise: the score as a fraction of its profile's range; pairwise: the preference code 0 / 1 / 2), whether
    the item is pairwise, and the critic's value on the same item on the same scale (NaN where it has none)."""

    item: NDArray[np.int64]
    reviewer: NDArray[np.int64]
    value: Floats
    pairwise: NDArray[np.bool_]
    critic: Floats

    @classmethod
    def of(
        cls, *, item: ArrayLike, reviewer: ArrayLike, value: ArrayLike, pairwise: ArrayLike, critic: ArrayLike
    ) -> Verdicts:
        out = cls(
            np.asarray(item, dtype=np.int64),
            np.asarray(reviewer, dtype=np.int64),
            np.asarray(value, dtype=np.float64),
            np.asarray(pairwise, dtype=bool),
            np.asarray(critic, dtype=np.float64),
        )
        if not out.item.size == out.reviewer.size == out.value.size == out.pairwise.size == out.critic.size:
            raise ValueError("item, reviewer, value, pairwise and critic must have one entry per verdict")
        return out


def leave_one_out(v: Verdicts) -> tuple[NDArray[np.int64], Floats, Floats]:
    """For every verdict: how many other reviewers judged its item, its reviewer's alignment S(j) with them and the
    critic's alignment S(critic) with the same others (NaN where there are no others or no critic value).
    Vectorised with per-item sums: the sum over the others is the item's sum minus the verdict's own term."""
    code = stats.unique_codes(v.item)[1]
    count = np.bincount(code)[code]
    others = count - 1
    s1 = np.bincount(code, weights=v.value)[code]
    s2 = np.bincount(code, weights=v.value * v.value)[code]
    pref = np.where(v.pairwise, v.value, -1).astype(np.int64)
    items = int(code.max()) + 1 if code.size else 0
    same = np.bincount(code[pref >= 0] * 3 + pref[pref >= 0], minlength=3 * items).reshape(items, 3).astype(float)

    def score(x: Floats) -> Floats:
        with np.errstate(invalid="ignore", divide="ignore"):
            # Pointwise: sum over the others of (x - v_k)^2 = (over all of the item) - (the verdict's own term).
            sq = count * x * x - 2 * x * s1 + s2 - (x - v.value) ** 2
            rmse = np.sqrt(np.clip(sq, 0, None) / others)
            xi = np.where(np.isnan(x), 0, x).astype(np.int64).clip(0, 2)
            agree = (same[code, xi] - (v.value == x)) / others if code.size else np.zeros(0)
            out = np.where(v.pairwise, agree, 1 - rmse)
        # Round-off must not decide a comparison between equal alignments.
        return np.asarray(np.where((others > 0) & ~np.isnan(x), np.round(out, 12), np.nan), dtype=np.float64)

    return others, score(v.value), score(v.critic)


def alt_test(
    v: Verdicts,
    *,
    names: dict[int, str],
    epsilon: float = EPSILON,
    min_items: int = MIN_ITEMS_PER_REVIEWER,
    q: float = Q_FDR,
    loo: tuple[NDArray[np.int64], Floats, Floats] | None = None,
) -> dict[str, Any]:
    """The alt-test over the items with at least three reviewers and a critic verdict. Returns {epsilon,
    winning_rate, passed, advantage_probability, n_items, per_reviewer: [{reviewer, p_value, rejected}]} (names
    maps reviewer ids to what is shown), or {"reason": ...} when fewer than three reviewers have `min_items` such
    items. p-values: scipy's one-sample t-test of W_j - W_critic against epsilon, alternative "less" (the paired
    test); the rejections: Benjamini-Yekutieli adjusted p-values (scipy.stats.false_discovery_control) <= q."""
    others, s_human, s_critic = loo if loo is not None else leave_one_out(v)
    usable = (others >= MIN_REVIEWERS_PER_ITEM - 1) & ~np.isnan(s_critic)
    reviewers = [r for r in np.unique(v.reviewer[usable]).tolist() if (v.reviewer[usable] == r).sum() >= min_items]
    if len(reviewers) < MIN_REVIEWERS:
        return {
            "reason": f"{len(reviewers)} reviewer(s) with {min_items} or more items that two other reviewers and "
            f"the critic also judged: the alt-test needs {MIN_REVIEWERS}"
        }
    p_values, advantage = [], []
    for r in reviewers:
        mine = usable & (v.reviewer == r)
        w_critic = (s_critic[mine] >= s_human[mine]).astype(float)
        w_human = (s_human[mine] >= s_critic[mine]).astype(float)
        p_values.append(_t_test_less(w_human - w_critic, epsilon))
        advantage.append(float(w_critic.mean()))
    adjusted = sps.false_discovery_control(np.array(p_values), method="by")
    rejected = adjusted <= q
    winning_rate = float(rejected.mean())
    return {
        "epsilon": float(epsilon),
        "winning_rate": winning_rate,
        "passed": bool(winning_rate >= 0.5),
        "advantage_probability": float(np.mean(advantage)),
        "n_items": int(np.unique(v.item[usable & np.isin(v.reviewer, reviewers)]).size),
        "per_reviewer": [
            {"reviewer": names.get(r, str(r)), "p_value": p, "rejected": bool(x)}
            for r, p, x in zip(reviewers, p_values, rejected, strict=True)
        ],
    }


def _t_test_less(d: Floats, epsilon: float) -> float:
    """The p-value of scipy.stats.ttest_1samp(d, epsilon, alternative="less"), written out (t's CDF from scipy):
    the wrapper's checks cost more than the test over 20 reviewers. No spread: p is 0 or 1 as scipy's +-inf t
    gives, and 1 (nothing to reject) when the mean is exactly epsilon."""
    n = d.size
    gap = float(d.mean()) - epsilon
    sd = float(d.std(ddof=1)) if n > 1 else 0.0
    if sd == 0.0:
        return 0.0 if gap < 0 else 1.0
    return float(sps.t.cdf(gap / (sd / np.sqrt(n)), n - 1))


def mean_stat(x: ArrayLike, *, reason: str) -> stats.Stat:
    """A mean of alignments (each in [0, 1]) with its CLT 95% interval (mean +- 1.96 sd / sqrt(n): for a mean the
    bootstrap's percentile interval converges to it, at a fraction of the cost over thousands of distinct
    alignments), cut to [0, 1], or undefined; the small-sample rules of stats.stat (no interval under MIN_CI_N)."""
    values = np.asarray(x, dtype=float)
    values = values[~np.isnan(values)]
    n = int(values.size)
    if not n:
        return stats.undefined(0, reason)
    out = stats.stat(values.mean(), None, n)
    if out["value"] is not None and n >= stats.MIN_CI_N:
        half = 1.959963984540054 * float(values.std()) / np.sqrt(n)
        out["ci95"] = [max(0.0, out["value"] - half), min(1.0, out["value"] + half)]
    return out


def human_ceiling(
    v: Verdicts, *, names: dict[int, str], loo: tuple[NDArray[np.int64], Floats, Floats] | None = None
) -> dict[str, Any]:
    """Each reviewer's leave-one-out alignment with the other reviewers (items with two or more reviewers) beside
    the critic's alignment with the same reviewers on the same items: the ceiling the critic is measured against.
    Per kind ("pointwise", "pairwise"): {"metric", "overall": {human, critic}, "reviewers": [{reviewer, human,
    critic}]}, each a statistic with its 95% interval (CLT) and n (items). The critic's is undefined where it has
    no verdict on those items (also when there is no critic at all: the reviewers' side needs none). `loo`:
    leave_one_out(v), when the caller has it already."""
    others, s_human, s_critic = loo if loo is not None else leave_one_out(v)
    out: dict[str, Any] = {}
    for kind, is_pairwise, metric in (
        ("pointwise", False, "1 - RMSE to the other reviewers' scores / the profile's range"),
        ("pairwise", True, "share of the other reviewers with the same preference"),
    ):
        rows = (others >= 1) & (v.pairwise == is_pairwise)
        block: dict[str, Any] = {
            "metric": metric,
            "overall": {
                "human": mean_stat(s_human[rows], reason="no item has two or more reviewers"),
                "critic": mean_stat(s_critic[rows], reason="no critic verdict on items with two reviewers"),
            },
            "reviewers": [],
        }
        for r in np.unique(v.reviewer[rows]).tolist():
            mine = rows & (v.reviewer == r)
            block["reviewers"].append(
                {
                    "reviewer": names.get(r, str(r)),
                    "human": mean_stat(s_human[mine], reason="no shared items"),
                    "critic": mean_stat(s_critic[mine], reason="no critic verdict on these items"),
                }
            )
        block["reviewers"].sort(key=lambda row: row["reviewer"])
        out[kind] = block
    return out
