"""Critic against people on pointwise items: correlations, MAE and the model-level Kendall's tau."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from .bootstrap import MAX_DRAWS, MIN_N, B, Floats, Stat, distinct, replicate_weights, seeded_rng, stat, undefined
from .correlation import kendall_tau_b_rows, weighted_pearson, weighted_rank_correlations


def _no_variation(h: Floats, c: Floats) -> str | None:
    if np.ptp(h) == 0:
        return "human scores do not vary"
    if np.ptp(c) == 0:
        return "critic scores do not vary"
    return None


def pointwise_agreement(human: ArrayLike, critic: ArrayLike, models: ArrayLike | None = None) -> dict[str, Stat]:
    """Pearson, Spearman, Kendall's tau-b and MAE between paired scores, and the model-level Kendall's tau (the
    response models ranked by their mean score under each judge)."""
    h = np.asarray(human, dtype=float)
    c = np.asarray(critic, dtype=float)
    n = int(h.size)
    out: dict[str, Stat] = {}
    if n == 0:
        for key in ("pearson", "spearman", "kendall_tau", "mae"):
            out[key] = undefined(0, "no pairs")
    else:
        (xs, ys), counts = distinct(h, c)
        w = replicate_weights(counts, salt=1)
        out["mae"] = stat(np.mean(np.abs(h - c)), w @ np.abs(xs - ys) / n, n)
        flat = _no_variation(h, c)
        if n < MIN_N or flat:
            reason = f"n < {MIN_N}" if n < MIN_N else str(flat)
            for key in ("pearson", "spearman", "kendall_tau"):
                out[key] = undefined(n, reason)
        else:
            out["pearson"] = stat(stats.pearsonr(h, c).statistic, weighted_pearson(w, xs, ys), n)
            spearman, kendall = weighted_rank_correlations(w, xs, ys)
            out["spearman"] = stat(stats.spearmanr(h, c).statistic, spearman, n)
            out["kendall_tau"] = stat(stats.kendalltau(h, c).statistic, kendall, n)
    out["model_level_kendall_tau"] = model_level_kendall_tau(h, c, models if models is not None else [""] * n)
    return {key: out[key] for key in ("pearson", "spearman", "kendall_tau", "mae", "model_level_kendall_tau")}


def model_means(models: ArrayLike, human: ArrayLike, critic: ArrayLike) -> dict[str, tuple[float, float, int]]:
    """Each response model's mean human and mean critic score, and its number of pairs."""
    h = np.asarray(human, dtype=float)
    c = np.asarray(critic, dtype=float)
    uniq, code = np.unique(np.asarray(models, dtype=str), return_inverse=True)
    return _means_by_code(uniq, code.ravel(), h, c)


def _means_by_code(
    uniq: NDArray[np.str_], code: NDArray[np.int64], h: Floats, c: Floats
) -> dict[str, tuple[float, float, int]]:
    k = np.bincount(code, minlength=uniq.size)
    sh = np.bincount(code, weights=h, minlength=uniq.size)
    sc = np.bincount(code, weights=c, minlength=uniq.size)
    return {str(m): (float(sh[i] / k[i]), float(sc[i] / k[i]), int(k[i])) for i, m in enumerate(uniq)}


def model_level_kendall_tau(human: ArrayLike, critic: ArrayLike, models: ArrayLike) -> Stat:
    h = np.asarray(human, dtype=float)
    c = np.asarray(critic, dtype=float)
    names = np.asarray(models, dtype=str)
    if h.size == 0:
        return undefined(0, "no pairs")
    uniq, model_code = np.unique(names, return_inverse=True)  # one sort of the names, for the means and the draws
    model_code = model_code.ravel()
    means = _means_by_code(uniq, model_code, h, c)
    m = len(means)
    if m < MIN_N:
        return undefined(m, f"fewer than {MIN_N} response models")
    hm = np.array([v[0] for v in means.values()])
    cm = np.array([v[1] for v in means.values()])
    if np.ptp(hm) == 0 or np.ptp(cm) == 0:
        return undefined(m, "every model has the same mean score")
    (ms, xs, ys), counts = distinct(model_code, h, c)
    if counts.size * B <= MAX_DRAWS:
        w = replicate_weights(counts, salt=2)
        onehot = np.zeros((ms.size, m))
        onehot[np.arange(ms.size), ms] = 1
        n_m = w @ onehot
        with np.errstate(invalid="ignore", divide="ignore"):
            rep_h = (w @ (onehot * xs[:, None])) / n_m
            rep_c = (w @ (onehot * ys[:, None])) / n_m
    else:
        rep_h, rep_c = _model_means_normal(model_code, h, c, m)
    return stat(stats.kendalltau(hm, cm).statistic, kendall_tau_b_rows(rep_h, rep_c), m, resampled=int(h.size))


def _model_means_normal(code: NDArray[np.int64], h: Floats, c: Floats, m: int) -> tuple[Floats, Floats]:
    """Replicates of each model's (mean human, mean critic) score when there are too many distinct observations
    to draw exactly: each model's count is drawn exactly (multinomial over the models), the mean of that many of
    its rows from the normal approximation (its mean, its covariance / count), which is very close once a model
    has more than a handful of rows."""
    rng = seeded_rng(12)
    k = np.bincount(code, minlength=m)
    draws = rng.multinomial(int(k.sum()), k / k.sum(), size=B).astype(float)
    rep_h = np.full((B, m), np.nan)
    rep_c = np.full((B, m), np.nan)
    z = rng.standard_normal((B, m, 2))
    for j in range(m):
        rows = code == j
        mean = np.array([h[rows].mean(), c[rows].mean()])
        cov = np.cov(np.stack([h[rows], c[rows]]), bias=True) if rows.sum() > 1 else np.zeros((2, 2))
        root = np.linalg.cholesky(cov + 1e-12 * np.eye(2))
        with np.errstate(invalid="ignore", divide="ignore"):
            spread = (z[:, j, :] @ root.T) / np.sqrt(draws[:, j])[:, None]
        sample = np.where(draws[:, j, None] > 0, mean + spread, np.nan)
        rep_h[:, j], rep_c[:, j] = sample[:, 0], sample[:, 1]
    return rep_h, rep_c
