"""The leaderboard's Bradley-Terry fit reaches the optimum (checked against scipy's trust-region Newton solver with
tight tolerances, an independent algorithm) and its bootstrap replicates stay finite, also on near-separable data."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize, special

from annotations import bradley_terry as bt
from annotations import stats


def scipy_fit(w: np.ndarray, a: np.ndarray, b: np.ndarray, y: np.ndarray, m: int) -> np.ndarray:
    """The same penalised likelihood, minimised by scipy's trust-exact with the exact Hessian."""
    design = bt._design(a, b, m)

    def loss(s: np.ndarray) -> float:
        d = design @ s
        return float((w * (np.logaddexp(0, d) - y * d)).sum() + bt.BT_RIDGE * (s * s).sum())

    def grad(s: np.ndarray) -> np.ndarray:
        return (w * (special.expit(design @ s) - y)) @ design + 2 * bt.BT_RIDGE * s

    def hess(s: np.ndarray) -> np.ndarray:
        p = special.expit(design @ s)
        return (design.T * (w * p * (1 - p))) @ design + 2 * bt.BT_RIDGE * np.eye(m)

    result = optimize.minimize(loss, np.zeros(m), jac=grad, hess=hess, method="trust-exact", options={"gtol": 1e-13})
    # trust-exact stops near 1e-9 on the gradient (its predicted improvement drowns in round-off); MINPACK's
    # hybrid root finder on the gradient then polishes to machine precision.
    root = optimize.root(grad, result.x, jac=hess, method="hybr", tol=1e-15)
    assert np.abs(grad(root.x)).max() < 1e-11 * max(1.0, w.sum())
    return np.asarray(root.x)


def arena(
    seed: int, *, models: int, games: int, spread: float, tie: float = 0.1
) -> tuple[list[str], list[str], list[str]]:
    """Games between models of very different strengths, Chatbot-Arena-shaped: a few strong, many weak."""
    rng = np.random.default_rng(seed)
    strength = np.sort(rng.normal(0, spread, models))[::-1]
    names = [f"model-{i}" for i in range(models)]
    a, b, o = [], [], []
    for _ in range(games):
        i, j = rng.choice(models, 2, replace=False)
        p = special.expit(strength[i] - strength[j])
        r = rng.random()
        a.append(names[i])
        b.append(names[j])
        o.append("tie" if r < tie else ("A" if rng.random() < p else "B"))
    return a, b, o


def board_against_scipy(a: list[str], b: list[str], o: list[str]) -> float:
    """The largest difference, in rating points, between our ratings and scipy's optimum."""
    board = bt.bradley_terry(a, b, o)
    vocabulary, inverse = np.unique(np.concatenate([a, b]), return_inverse=True)
    ia, ib = inverse[: len(a)], inverse[len(a) :]
    y = np.array([{"A": 1.0, "B": 0.0, "tie": 0.5}[x] for x in o])
    (da, db, dy), counts = stats.distinct(ia, ib, y)
    want = bt.BT_BASE + bt.BT_SCALE * scipy_fit(
        counts.astype(float), da.astype(int), db.astype(int), dy, vocabulary.size
    )
    got = {row["model"]: row["rating"]["value"] for row in board["models"]}
    return max(abs(got[str(m)] - want[k]) for k, m in enumerate(vocabulary))


@pytest.mark.parametrize(("seed", "spread"), [(1, 0.5), (2, 2.0), (3, 6.0)])
def test_ratings_equal_an_independent_exact_fit(seed: int, spread: float) -> None:
    # spread 6: the best model beats the worst with odds e^12 or more: near-separable pairs.
    assert board_against_scipy(*arena(seed, models=12, games=3000, spread=spread)) < 1e-8


def test_a_model_that_never_lost_is_fitted_exactly_and_its_replicates_stay_finite() -> None:
    a = ["champ"] * 40 + ["x"] * 40 + ["y"] * 10
    b = ["x"] * 20 + ["y"] * 20 + ["y"] * 40 + ["z"] * 10
    o = ["A"] * 80 + ["tie"] * 10
    assert board_against_scipy(a, b, o) < 1e-8
    board = bt.bradley_terry(a, b, o)
    assert board["bootstrap_failures"] == 0
    for reps in board["_replicates"].values():
        assert np.isfinite(reps).all()
        assert np.abs(reps - bt.BT_BASE).max() < 5000  # never a rating of 235,519
    assert board["models"][0]["model"] == "champ"


def test_the_fit_converges_from_a_far_start_with_bounded_steps() -> None:
    rng = np.random.default_rng(4)
    a = rng.integers(0, 6, 500)
    b = (a + rng.integers(1, 6, 500)) % 6
    y = (a < b).astype(float)  # a strict order: every game won by the lower index
    (da, db, dy), counts = stats.distinct(a, b, y)
    start = np.array([40.0, -40, 30, -30, 20, -20])  # e^80 odds: an unbounded Newton step would overflow
    s, ok = bt.fit(counts[None, :].astype(float), da.astype(int), db.astype(int), dy, 6, start=start)
    assert ok.all()
    want = scipy_fit(counts.astype(float), da.astype(int), db.astype(int), dy, 6)
    assert np.abs(s[0] - want).max() * bt.BT_SCALE < 1e-8


def test_a_model_with_too_few_games_has_no_rating_only_the_reason() -> None:
    a, b, o = arena(5, models=4, games=400, spread=1.0)
    board = bt.bradley_terry([*a, "newcomer"], [*b, "model-0"], [*o, "A"])
    row = next(r for r in board["models"] if r["model"] == "newcomer")
    assert row["rating"]["value"] is None
    assert row["rank"] is None
    assert "1 game(s)" in row["rating"]["reason"]
    assert board["models"][-1]["model"] == "newcomer"
