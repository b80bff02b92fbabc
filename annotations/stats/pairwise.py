"""Critic against people on pairwise items: accuracy with and without ties, Cohen's kappa, the confusion matrix;
and a plain rate with its interval."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.metrics import cohen_kappa_score

from .bootstrap import MIN_N, Floats, Stat, replicate_weights, safe_div, stat, undefined

PREFERENCES = ("A", "B", "tie")


def confusion(human: ArrayLike, critic: ArrayLike) -> list[list[int]]:
    """Counts of (human row, critic column) over A / B / tie."""
    return np.asarray(_table(human, critic), dtype=int).tolist()


def preference_codes(labels: ArrayLike) -> NDArray[np.int64]:
    """Preferences as 0 / 1 / 2 (A / B / tie): labels, or already those codes (integers)."""
    arr = np.asarray(labels)
    if arr.dtype.kind in "iu":
        out = arr.astype(np.int64).ravel()
        out[(out < 0) | (out >= len(PREFERENCES))] = -1
    else:
        arr = arr.astype(object)
        out = np.full(arr.size, -1, dtype=np.int64)
        for i, p in enumerate(PREFERENCES):
            out[arr == p] = i
    if (out < 0).any():
        raise ValueError(f"preferences must be one of {PREFERENCES}")
    return out


def _table(human: ArrayLike, critic: ArrayLike) -> Floats:
    if np.size(human) != np.size(critic):
        raise ValueError("human and critic verdicts must pair up")
    table = np.bincount(preference_codes(human) * 3 + preference_codes(critic), minlength=9).reshape(3, 3)
    return table.astype(np.float64)


def kappa_from_tables(t: Floats) -> Floats:
    n = t.sum((1, 2))
    po = safe_div(np.trace(t, axis1=1, axis2=2), n)
    pe = safe_div((t.sum(2) * t.sum(1)).sum(1), n * n)
    return np.where(pe < 1 - 1e-12, safe_div(po - pe, 1 - pe), np.nan)


def pairwise_agreement(human: ArrayLike, critic: ArrayLike) -> dict[str, Any]:
    """Accuracy with ties (A / B / tie, exact match), without ties (pairs where either side is a tie dropped),
    Cohen's kappa, and the confusion matrix (rows human, columns critic)."""
    table = _table(human, critic)
    n = int(table.sum())
    no_tie = table[:2, :2]
    n_nt = int(no_tie.sum())
    out: dict[str, Any] = {"n": n, "n_without_tie": n_nt}
    if n == 0:
        out["accuracy_with_tie"] = undefined(0, "no pairs")
        out["accuracy_without_tie"] = undefined(0, "no pairs")
        out["cohen_kappa"] = undefined(0, "no pairs")
    else:
        w = replicate_weights(table.ravel().astype(np.int64), salt=3).reshape(-1, 3, 3)
        out["accuracy_with_tie"] = stat(np.trace(table) / n, safe_div(np.trace(w, axis1=1, axis2=2), w.sum((1, 2))), n)
        if n_nt == 0:
            out["accuracy_without_tie"] = undefined(0, "every pair has a tie")
        else:
            wn = w[:, :2, :2]
            out["accuracy_without_tie"] = stat(
                np.trace(no_tie) / n_nt, safe_div(np.trace(wn, axis1=1, axis2=2), wn.sum((1, 2))), n_nt
            )
        if n < MIN_N:
            out["cohen_kappa"] = undefined(n, f"n < {MIN_N}")
        elif np.count_nonzero(table.sum(0) + table.sum(1)) < 2:
            out["cohen_kappa"] = undefined(n, "one class")
        else:
            # sklearn on the nine (human, critic) cells weighted by their counts: the same as on the rows.
            cells = np.array([(i, j) for i in range(3) for j in range(3)])
            value = cohen_kappa_score(cells[:, 0], cells[:, 1], labels=[0, 1, 2], sample_weight=table.ravel())
            out["cohen_kappa"] = stat(value, kappa_from_tables(w), n)
    out["confusion_matrix"] = {
        "labels": list(PREFERENCES),
        "rows": "human",
        "columns": "critic",
        "counts": table.astype(int).tolist(),
    }
    return out


def rate(hits: ArrayLike, *, salt: int = 4, reason: str = "no observations") -> Stat:
    """A proportion of True among booleans, with its bootstrap interval."""
    x = np.asarray(hits, dtype=bool)
    n = int(x.size)
    if n == 0:
        return undefined(0, reason)
    counts = np.array([n - int(x.sum()), int(x.sum())], dtype=np.int64)
    w = replicate_weights(counts, salt=salt)
    return stat(x.mean(), w[:, 1] / n, n)
