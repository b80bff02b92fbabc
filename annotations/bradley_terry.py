"""Bradley-Terry ratings of the response models from pairwise verdicts, fitted exactly: no Django.

The model (Bradley & Terry 1952; Chatbot Arena's scale, Chiang et al. 2024): P(a beats b) = expit(s_a - s_b), ties
counted as half a win each (the logistic loss with a soft label of 1/2), with a weak ridge on the log-strengths so
that a model that never lost still has a finite rating. The fit is damped Newton (a step moves a log-strength at
most MAX_STEP, halved until the loss decreases) run until the gradient is below GRAD_TOL per game, not merely
until the loss stops improving; the same iteration runs vectorised over the bootstrap replicates. A replicate that
does not converge or is not finite is dropped and counted ("bootstrap_failures"), never shown as a rating.
tests/annotations/test_bradley_terry.py checks the fit against scipy's trust-region solver to 1e-8."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special
from scipy import stats as sps

from annotations import stats

BT_SCALE = 400 / math.log(10)  # Chatbot Arena's Elo-like scale: 400 points = 10x the odds
BT_BASE = 1000.0
BT_RIDGE = 0.01  # a weak prior on the log-strengths, so a model that never lost still has a finite rating
GRAD_TOL = 1e-12  # per game: the fit stops when every |dloss/ds| < GRAD_TOL x games (round-off level)
MAX_STEP = 2.0  # log-strength units: no Newton step moves a rating further (10x the odds is 2.3)
MAX_ITER = 100
MIN_GAMES = stats.MIN_N  # a model with fewer games gets no rating, only the reason

Floats = NDArray[np.float64]


def _design(a: NDArray[np.int64], b: NDArray[np.int64], m: int) -> Floats:
    design = np.zeros((a.size, m))
    design[np.arange(a.size), a] = 1
    design[np.arange(a.size), b] -= 1
    return design


def _loss(w: Floats, design: Floats, y: Floats, s: Floats) -> Floats:
    diff = s @ design.T
    return np.asarray((w * (np.logaddexp(0, diff) - y * diff)).sum(1) + BT_RIDGE * (s * s).sum(1), dtype=np.float64)


def _gradient(w: Floats, design: Floats, y: Floats, s: Floats) -> tuple[Floats, Floats]:
    p = special.expit(s @ design.T)  # expit never overflows, unlike 1 / (1 + exp(-x))
    return np.asarray((w * (p - y)) @ design + 2 * BT_RIDGE * s, dtype=np.float64), p


def fit(
    w: Floats, a: NDArray[np.int64], b: NDArray[np.int64], y: Floats, m: int, start: Floats | None = None
) -> tuple[Floats, NDArray[np.bool_]]:
    """Log-strengths (R x m) maximising the ridge-penalised Bradley-Terry likelihood for each row of the weights
    w (R x K, one weight per distinct game (a, b, y)), and whether each row converged (gradient under GRAD_TOL
    per game, all finite). Damped Newton: the ridge makes every Hessian positive definite, the step bound and the
    halving keep each step a descent, so the iteration converges from any start."""
    w = np.atleast_2d(np.asarray(w, dtype=np.float64))
    design = _design(a, b, m)
    outer = np.einsum("ki,kj->kij", design, design).reshape(a.size, m * m)
    s = np.zeros((w.shape[0], m)) if start is None else np.array(np.broadcast_to(start, (w.shape[0], m)))
    tol = GRAD_TOL * np.maximum(1.0, w.sum(1))
    ridge = 2 * BT_RIDGE * np.eye(m)
    active = np.arange(w.shape[0])
    loss: Floats | None = None  # the loss at s of each row, when the last step has computed it
    for _ in range(MAX_ITER):
        grad, p = _gradient(w[active], design, y, s[active])
        still = np.abs(grad).max(1) >= tol[active]
        active, grad, p = active[still], grad[still], p[still]
        if not active.size:
            break
        wa = w[active]
        hess = ((wa * p * (1 - p)) @ outer).reshape(-1, m, m) + ridge
        step = np.linalg.solve(hess, grad[..., None])[..., 0]
        step *= np.minimum(1.0, MAX_STEP / np.maximum(np.abs(step).max(1), 1e-300))[:, None]
        before = _loss(wa, design, y, s[active]) if loss is None else loss[still]
        scale = np.ones(active.size)
        trial_loss = before
        loss = None
        for _halving in range(40):
            trial = s[active] - scale[:, None] * step
            trial_loss = _loss(wa, design, y, trial)
            # Near the optimum the decrease is below the loss's round-off: only a real increase is refused.
            worse = ~(trial_loss <= before + 1e-12 * np.maximum(1.0, np.abs(before)))
            if not worse.any():
                loss = trial_loss  # the accepted step's loss is the next iteration's starting loss
                break
            scale[worse] /= 2
        s[active] = s[active] - scale[:, None] * step
    grad, _p = _gradient(w, design, y, s)
    converged = np.isfinite(s).all(1) & (np.abs(grad).max(1) < tol)
    return s, converged


def bradley_terry(
    model_a: ArrayLike, model_b: ArrayLike, outcome: ArrayLike, *, names: ArrayLike | None = None
) -> dict[str, Any]:
    """Ratings of the response models from pairwise verdicts (outcome A, B or tie, or their codes 0 / 1 / 2), on
    Chatbot Arena's scale (1000 + 400 log10 of the odds), each {"value", "ci95", "n" (games)} with its bootstrap
    interval, best first; a model with fewer than MIN_GAMES games has no rating and no rank, only the reason.
    With `names`, model_a and model_b are integer codes into it (no string work per verdict). Also returns
    "bootstrap_failures": replicates that did not converge (dropped, counted)."""
    a_code, b_code, vocabulary = _model_codes(model_a, model_b, names)
    o = stats.preference_codes(outcome) if np.size(outcome) else np.zeros(0, dtype=np.int64)
    if not a_code.size == b_code.size == o.size:
        raise ValueError("model_a, model_b and outcome must have one entry per verdict")
    y = np.array([1.0, 0.0, 0.5])[o]
    blank = np.flatnonzero(vocabulary == "")
    keep = (a_code != b_code) & ~np.isin(a_code, blank) & ~np.isin(b_code, blank)
    a_code, b_code, y = a_code[keep], b_code[keep], y[keep]
    used = np.unique(np.concatenate([a_code, b_code]))
    compared = [str(vocabulary[i]) for i in used.tolist()]
    if len(compared) < 2:
        return {"models": [], "n": int(keep.sum()), "reason": "fewer than 2 response models compared"}
    (ia, ib, ys), counts = stats.distinct(np.searchsorted(used, a_code), np.searchsorted(used, b_code), y)
    ia, ib = ia.astype(np.int64), ib.astype(np.int64)
    m = len(compared)
    point, ok = fit(counts.astype(float)[None, :], ia, ib, ys, m)
    reps, converged = fit(stats.replicate_weights(counts, salt=7), ia, ib, ys, m, start=point[0])
    reps[~converged] = np.nan
    games = np.zeros(m, dtype=int)
    np.add.at(games, ia, counts)
    np.add.at(games, ib, counts)
    ratings = BT_BASE + BT_SCALE * point[0]
    rep_ratings = BT_BASE + BT_SCALE * reps
    models: list[dict[str, Any]] = []
    for i, name in enumerate(compared):
        if games[i] < MIN_GAMES or not ok[0]:
            why = f"{games[i]} game(s): a rating needs at least {MIN_GAMES}" if ok[0] else "the fit did not converge"
            rating = stats.undefined(int(games[i]), why)
        else:
            rating = stats.stat(ratings[i], rep_ratings[:, i], int(games[i]))
        models.append({"model": name, "rating": rating})
    models.sort(key=lambda row: (row["rating"]["value"] is None, -(row["rating"]["value"] or 0.0)))
    for rank, row in enumerate(models, 1):
        row["rank"] = rank if row["rating"]["value"] is not None else None
    return {
        "models": models,
        "n": int(keep.sum()),
        "bootstrap_failures": int((~converged).sum()),
        "bootstrap_replicates": int(converged.size),
        "_replicates": dict(zip(compared, rep_ratings.T, strict=True)),
    }


def _model_codes(
    model_a: ArrayLike, model_b: ArrayLike, names: ArrayLike | None
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.str_]]:
    if names is not None:
        return np.asarray(model_a, dtype=np.int64), np.asarray(model_b, dtype=np.int64), np.asarray(names, dtype=str)
    a_obj = np.asarray(model_a, dtype=object)
    b_obj = np.asarray(model_b, dtype=object)
    if a_obj.size != b_obj.size:
        raise ValueError("model_a, model_b and outcome must have one entry per verdict")
    # None and "" alike mean no model; codes into the sorted names make the rest integer work.
    a_str = np.where(a_obj == None, "", a_obj).astype(str)  # noqa: E711 (elementwise)
    b_str = np.where(b_obj == None, "", b_obj).astype(str)  # noqa: E711 (elementwise)
    vocabulary, inverse = np.unique(np.concatenate([a_str, b_str]), return_inverse=True)
    return inverse.ravel()[: a_str.size], inverse.ravel()[a_str.size :], vocabulary


def leaderboard_correlation(human: dict[str, Any], critic: dict[str, Any]) -> stats.Stat:
    """Kendall's tau-b between the human and the critic ratings of the models both leaderboards rate."""
    hr = {r["model"]: r["rating"]["value"] for r in human.get("models", []) if r["rating"]["value"] is not None}
    cr = {r["model"]: r["rating"]["value"] for r in critic.get("models", []) if r["rating"]["value"] is not None}
    common = sorted(set(hr) & set(cr))
    if len(common) < stats.MIN_N:
        return stats.undefined(len(common), f"fewer than {stats.MIN_N} models on both leaderboards")
    hv = np.array([hr[m] for m in common])
    cv = np.array([cr[m] for m in common])
    rep_h = np.stack([human["_replicates"][m] for m in common], axis=1)
    rep_c = np.stack([critic["_replicates"][m] for m in common], axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = sps.kendalltau(hv, cv).statistic
    games = min(human.get("n", 0), critic.get("n", 0))  # the bootstrap resamples the games, not the models
    return stats.stat(value, stats.kendall_tau_b_rows(rep_h, rep_c), len(common), resampled=games)


def strip_private(board: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in board.items() if not k.startswith("_")}
