"""The critic against the reviewers (pointwise and pairwise agreement) and the reviewers among themselves
(Krippendorff's alpha)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from annotations import stats
from annotations.models import Kind
from annotations.selectors.metrics.fetch import HumanColumns, present
from annotations.selectors.metrics.scales import profile_span, scaled
from critic_worker.profiles import get_profile

SCATTER_MAX = 3000
HISTOGRAM_BINS = 10
VALUE_BINS = 21  # a profile with at most this many scores gets a bin per score


def _histogram_edges(lo: float, hi: float, step: float) -> NDArray[np.float64]:
    """One bin centred on each score a profile can give when it gives at most VALUE_BINS (1-5, 1-10, 0-10 in
    halves), else HISTOGRAM_BINS equal bins over its range (0-100)."""
    values = round((hi - lo) / step) + 1
    if values <= VALUE_BINS:
        return lo - step / 2 + step * np.arange(values + 1, dtype=np.float64)
    return np.linspace(lo, hi if hi > lo else lo + 1, HISTOGRAM_BINS + 1)


def pointwise_section(humans: HumanColumns) -> tuple[dict[str, Any], list[list[float]]]:
    rows = humans.take(
        (humans.kind == humans.code(Kind.POINTWISE))
        & humans.has_critic
        & ~np.isnan(humans.score)
        & ~np.isnan(humans.critic_score)
    )
    name, (h, c) = scaled(rows.names, rows.profile, rows.score, rows.critic_score)
    models = np.where(rows.names == "", "unknown model", rows.names)[rows.model_a]
    n = int(h.size)
    section: dict[str, Any] = {"n": n, "score_scale": name}
    section.update(stats.pointwise_agreement(h, c, models))
    section["models"] = [
        {"model": m, "human_mean": hm, "critic_mean": cm, "n": k}
        for m, (hm, cm, k) in sorted(stats.model_means(models, h, c).items())
    ] if n else []  # fmt: skip
    section["histogram"] = {"edges": [], "human": [], "critic": []}
    section["range"] = None
    section["fit"] = None
    scatter: list[list[float]] = []
    if n:
        if name == "fraction of range":
            lo, hi = 0.0, 1.0
            edges = np.linspace(lo, hi, HISTOGRAM_BINS + 1)
        else:
            lo, hi = profile_span(name)
            edges = _histogram_edges(lo, hi, get_profile(name).score_step or 1.0)
        section["histogram"] = {
            "edges": edges.tolist(),
            "human": np.histogram(h, edges)[0].tolist(),
            "critic": np.histogram(c, edges)[0].tolist(),
        }
        section["range"] = [lo, hi]
        pick = np.arange(n)
        if n > SCATTER_MAX:
            pick = np.sort(np.random.default_rng(stats.SEED).choice(n, SCATTER_MAX, replace=False))
        scatter = np.stack([h[pick], c[pick]], axis=1).tolist()
        if n >= 2 and np.ptp(h) > 0:
            slope, intercept = np.polyfit(h, c, 1)
            section["fit"] = {"slope": float(slope), "intercept": float(intercept)}
    return section, scatter


def pairwise_section(humans: HumanColumns) -> dict[str, Any]:
    rows = humans.take(
        (humans.kind == humans.code(Kind.PAIRWISE))
        & humans.has_critic
        & present(humans.preference)
        & present(humans.critic_preference)
    )
    return stats.pairwise_agreement(rows.preference, rows.critic_preference)


def reviewers_section(humans: HumanColumns) -> dict[str, Any]:
    out: dict[str, Any] = {}
    levels: tuple[tuple[str, stats.Level], ...] = ((Kind.POINTWISE, "interval"), (Kind.PAIRWISE, "nominal"))
    for kind, level in levels:
        rows = humans.take(humans.kind == humans.code(kind))
        if kind == Kind.POINTWISE:
            values: NDArray[Any] = scaled(rows.names, rows.profile, rows.score)[1][0]
        else:
            values = rows.preference
        alpha = (
            stats.krippendorff_alpha(rows.item, values, level=level)
            if rows.item.size
            else stats.undefined(0, "no item has more than one reviewer")
        )
        out[str(kind)] = {"krippendorff_alpha": alpha, "level": level}
    return out
