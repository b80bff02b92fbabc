"""The response models' real quality from the critic on every item plus people on a sample: prediction-powered
inference, no Django.

PPI (Angelopoulos, Bates, Fannjiang, Jordan & Zrnic, "Prediction-powered inference", Science 382, 2023) with the
power tuning of PPI++ (Angelopoulos, Duchi & Zrnic, arXiv:2311.01453, 2023): the mean of the critic's verdicts on
the items people have not judged, corrected by the mean gap between people and critic on the items they have,
the correction weighted by lambda chosen from the data to minimise the variance (lambda = 0 is the humans-only
estimate, 1 plain PPI). Computed by the `ppi-python` library (`ppi_mean_pointestimate`, `ppi_mean_ci` with their
default power tuning, at alpha = 0.05): these figures are its output. The interval assumes the judged items are
a uniform random sample of the model's items.

A label is the mean of an item's reviewers (pointwise: the score; pairwise: the model's outcome, 1 a win, 1/2 a
tie, 0 a loss), the prediction the critic's verdict on the same scale."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from annotations import stats
from annotations.trust.planning import MIN_LABELED, Z  # MIN_LABELED: under it a CLT interval is not a 95% one

ALPHA = 0.05  # 95% intervals

Floats = NDArray[np.float64]


def ppi_mean(labels: ArrayLike, predicted: ArrayLike, unlabeled: ArrayLike) -> dict[str, Any]:
    """ppi-python's PPI++ estimate and 95% interval of a mean, with the lambda its power tuning chose and the
    variance terms the interval is made of (for planning): {estimate, ci95, lam, var_rectifier, var_imputed}.
    When the critic's verdicts do not vary, lambda is 0 (they carry no information; ppi-python would divide by 0)."""
    import ppi_py  # imported here: numba and statsmodels load in a few seconds, on the first metrics only
    from ppi_py.ppi import _calc_lam_glm

    y = np.asarray(labels, dtype=float)
    yhat = np.asarray(predicted, dtype=float)
    yhat_u = np.asarray(unlabeled, dtype=float)
    everything = np.concatenate([yhat, yhat_u])
    if np.ptp(everything) == 0:
        lam = 0.0
        estimate = float(np.asarray(ppi_py.ppi_mean_pointestimate(y, yhat, yhat_u, lam=0.0)).ravel()[0])
        lo, hi = ppi_py.ppi_mean_ci(y, yhat, yhat_u, alpha=ALPHA, lam=0.0)
    else:
        # The lambda ppi-python's default power tuning chooses (its own routine, on the inputs ppi_mean_ci and
        # ppi_mean_pointestimate give it: the gradients at the lambda = 1 estimate), computed once and passed to
        # both, which then return exactly their default output (tests compare with the default calls).
        first = np.asarray(ppi_py.ppi_mean_pointestimate(y, yhat, yhat_u, lam=1)).ravel()[0]
        lam = float(
            _calc_lam_glm(
                (y - first)[:, None], (yhat - first)[:, None], (yhat_u - first)[:, None], np.eye(1), clip=True
            )
        )
        estimate = float(np.asarray(ppi_py.ppi_mean_pointestimate(y, yhat, yhat_u, lam=lam)).ravel()[0])
        lo, hi = ppi_py.ppi_mean_ci(y, yhat, yhat_u, alpha=ALPHA, lam=lam)
    return {
        "estimate": estimate,
        "ci95": [float(np.ravel(lo)[0]), float(np.ravel(hi)[0])],
        "lam": lam,
        "var_rectifier": float(np.var(y - lam * yhat)),
        "var_imputed": float(np.var(lam * yhat_u)),
    }


def _classical(x: Floats) -> dict[str, Any]:
    """The mean with its CLT 95% interval, mean +- z sd / sqrt(n) (ppi-python's classical_mean_ci, written out:
    its normal quantile cost more than the mean; tests compare the two), or undefined below MIN_LABELED."""
    n = int(x.size)
    if n < MIN_LABELED:
        return stats.undefined(n, f"n = {n}: a 95% interval needs at least {MIN_LABELED}")
    mean, half = float(x.mean()), Z * float(x.std()) / math.sqrt(n)
    out: dict[str, Any] = {"value": mean, "ci95": [mean - half, mean + half], "n": n}
    if n < stats.SMALL_N:
        out["small_sample"] = True
    return out


def ppi_rows(
    model: ArrayLike, label: ArrayLike, predicted: ArrayLike, *, names: ArrayLike | None = None
) -> list[dict[str, Any]]:
    """One row per response model, from one entry per (item, model): the model (its name, or with `names` an
    integer code into them), the human label (NaN when nobody judged the item) and the critic's prediction (NaN
    when it has no verdict). Each row: {model, estimate, ci95,
    human_only, critic_only, n_labeled, n_unlabeled, effective_labels, labels_gained, lam} (+ "reason" when the
    estimate is undefined). n_labeled counts items with both a human label and a critic verdict, n_unlabeled
    those with the critic's only; human_only is the mean of all human labels with its CLT interval, critic_only
    the critic's mean over its verdicts (an interval for the critic's own average, not for the truth). The
    effective labels are how many human labels alone would give an interval as narrow as PPI's."""
    if names is None:
        vocabulary, codes = np.unique(np.asarray(model, dtype=str), return_inverse=True)
    else:
        vocabulary, codes = np.asarray(names, dtype=str), np.asarray(model, dtype=np.int64)
    y_all = np.asarray(label, dtype=float)
    f_all = np.asarray(predicted, dtype=float)
    order = np.argsort(codes.ravel(), kind="stable")
    sorted_codes = codes.ravel()[order]
    bounds = np.flatnonzero(np.diff(sorted_codes)) + 1
    rows = []
    for mine in np.split(order, bounds) if order.size else []:
        name = str(vocabulary[codes.ravel()[mine[0]]])
        y, f = y_all[mine], f_all[mine]
        has_y, has_f = ~np.isnan(y), ~np.isnan(f)
        labeled, unlabeled = has_y & has_f, ~has_y & has_f
        n, big_n = int(labeled.sum()), int(unlabeled.sum())
        row: dict[str, Any] = {
            "model": name,
            "estimate": None,
            "ci95": None,
            "human_only": _classical(y[has_y]),
            "critic_only": _classical(f[has_f]),
            "n_labeled": n,
            "n_unlabeled": big_n,
        }
        if n < MIN_LABELED or big_n == 0:
            row["reason"] = (
                f"{n} item(s) judged by both people and the critic: PPI needs at least {MIN_LABELED}"
                if n < MIN_LABELED
                else "every item the critic judged has a human label: nothing to extrapolate to"
            )
            rows.append(row)
            continue
        fit = ppi_mean(y[labeled], f[labeled], f[unlabeled])
        width = fit["ci95"][1] - fit["ci95"][0]
        sd = float(np.std(y[labeled]))
        effective = n * (2 * Z * sd / math.sqrt(n) / width) ** 2 if width > 0 else float(n)
        row.update(
            estimate=fit["estimate"],
            ci95=fit["ci95"],
            lam=fit["lam"],
            effective_labels=round(effective, 1),
            labels_gained=round(effective - n, 1),
            small_sample=n < stats.SMALL_N,
            _fit=fit,
            _sd_label=float(np.std(y[labeled])),
        )
        rows.append(row)
    return sorted(rows, key=lambda r: r["model"])
