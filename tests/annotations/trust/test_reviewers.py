"""Cohen's kappa between pairs of reviewers equals scikit-learn's, with its jackknife interval."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from annotations.trust import reviewers


def two_reviewers(seed: int, n: int, levels: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, levels, n).astype(float)
    y = np.where(rng.random(n) < 0.6, x, rng.integers(0, levels, n)).astype(float)
    item = np.concatenate([np.arange(n), np.arange(n)])
    return item, np.repeat([1, 2], n), np.concatenate([x, y])


@pytest.mark.parametrize(("weighted", "levels"), [(False, 3), (True, 11)])
def test_kappa_and_its_jackknife_interval_are_sklearns(weighted: bool, levels: int) -> None:
    item, reviewer, value = two_reviewers(1, 80, levels)
    [row] = reviewers.pairs(item, reviewer, value, names={1: "ann", 2: "bob"}, weighted=weighted)
    x, y = value[:80], value[80:]
    labels = np.arange(levels)
    kw = {"weights": "quadratic"} if weighted else {}
    assert row["reviewers"] == ["ann", "bob"]
    assert row["n"] == 80
    assert row["cohen_kappa"]["value"] == pytest.approx(cohen_kappa_score(x, y, labels=labels, **kw))
    # The jackknife, item by item with scikit-learn: sqrt((n-1)/n sum (kappa_(i) - mean)^2).
    loo = np.array([cohen_kappa_score(np.delete(x, i), np.delete(y, i), labels=labels, **kw) for i in range(80)])
    se = np.sqrt(79 / 80 * ((loo - loo.mean()) ** 2).sum())
    value_now = row["cohen_kappa"]["value"]
    assert row["cohen_kappa"]["ci95"] == pytest.approx([value_now - 1.96 * se, value_now + 1.96 * se], abs=1e-4)


def test_too_few_items_in_common_say_so() -> None:
    item, reviewer, value = two_reviewers(2, 2, 3)
    [row] = reviewers.pairs(item, reviewer, value, names={}, weighted=False)
    assert row["cohen_kappa"]["value"] is None
    assert "2 item(s) in common" in row["cohen_kappa"]["reason"]


def test_the_interval_of_two_reviewers_who_nearly_always_agree_stays_within_kappas_range() -> None:
    """Twelve items, one disagreement: kappa 0.86 with a jackknife standard error wide enough that kappa + 1.96 se
    passed 1 (the dashboard showed [0.67, 1.05]); kappa cannot, so neither can its interval."""
    x = np.array([1, 2, 3, 4, 5, 1, 2, 3, 4, 5, 3, 4], dtype=float)
    y = x.copy()
    y[0] = 2
    item = np.concatenate([np.arange(12), np.arange(12)])
    [row] = reviewers.pairs(item, np.repeat([1, 2], 12), np.concatenate([x, y]), names={}, weighted=True)
    kappa = row["cohen_kappa"]
    assert kappa["value"] == pytest.approx(cohen_kappa_score(x, y, weights="quadratic"))
    loo = np.array([cohen_kappa_score(np.delete(x, i), np.delete(y, i), weights="quadratic") for i in range(12)])
    se = np.sqrt(11 / 12 * ((loo - loo.mean()) ** 2).sum())
    assert kappa["value"] + 1.96 * se > 1  # the normal interval would pass kappa's range
    assert kappa["ci95"] == pytest.approx([kappa["value"] - 1.96 * se, 1.0], abs=1e-4)
