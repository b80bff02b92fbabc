"""Quantization drift figures against independent computations: Pearson's r and its Fisher z interval against the
formula (atanh(r) +- 1.96 / sqrt(n - 3)) and scipy, Wilson intervals against statsmodels, Cohen's kappa against
scikit-learn; and the honest small samples."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.proportion import proportion_confint

from annotations.stats import MIN_N
from annotations.trust import drift


def test_pearson_and_its_fisher_interval_follow_the_formula() -> None:
    rng = np.random.default_rng(3)
    full = rng.integers(1, 11, size=40).astype(float)
    nf4 = np.clip(full + rng.integers(-1, 2, size=40), 1, 10)
    got = drift.pearson_fisher(full, nf4)
    r = sps.pearsonr(full, nf4).statistic
    half = sps.norm.ppf(0.975) / math.sqrt(40 - 3)
    assert got["value"] == pytest.approx(r)
    assert got["ci95"] == pytest.approx([math.tanh(math.atanh(r) - half), math.tanh(math.atanh(r) + half)])
    assert got["n"] == 40
    assert "small_sample" not in got


def test_identical_scores_correlate_perfectly_with_a_degenerate_interval() -> None:
    got = drift.pearson_fisher([1, 2, 3, 4, 5], [1, 2, 3, 4, 5])
    assert got["value"] == pytest.approx(1.0)
    assert got["ci95"] == pytest.approx([1.0, 1.0])
    assert got["small_sample"] is True


def test_flip_rate_carries_the_wilson_interval() -> None:
    changed = [True] * 3 + [False] * 47
    got = drift.flip_rate(changed)
    lo, hi = proportion_confint(3, 50, alpha=0.05, method="wilson")
    assert got["value"] == pytest.approx(3 / 50)
    assert got["ci95"] == pytest.approx([lo, hi])
    assert got["flips"] == 3


def test_no_flip_still_has_an_upper_bound() -> None:
    got = drift.flip_rate([False] * 20)
    _, hi = proportion_confint(0, 20, alpha=0.05, method="wilson")
    assert got["value"] == 0.0
    assert got["ci95"][0] == pytest.approx(0.0, abs=1e-12)
    assert got["ci95"][1] == pytest.approx(hi)
    assert hi > 0.1  # 0 flips in 20 does not prove quantization changes nothing


def test_pairwise_kappa_is_scikit_learns() -> None:
    rng = np.random.default_rng(5)
    full = rng.choice(["A", "B", "tie"], size=60, p=[0.45, 0.45, 0.1])
    nf4 = full.copy()
    nf4[rng.choice(60, size=9, replace=False)] = "tie"
    got = drift.pairwise_drift(full, nf4)
    assert got["cohen_kappa"]["value"] == pytest.approx(cohen_kappa_score(full, nf4))
    lo, hi = got["cohen_kappa"]["ci95"]
    assert lo <= got["cohen_kappa"]["value"] <= hi
    flips = int((full != nf4).sum())
    assert got["flip_rate"]["value"] == pytest.approx(flips / 60)
    assert got["flip_rate"]["ci95"] == pytest.approx(list(proportion_confint(flips, 60, method="wilson")))
    assert sum(map(sum, got["confusion_matrix"]["counts"])) == 60
    assert got["confusion_matrix"]["rows"] == "reference"


def test_pointwise_mean_absolute_difference() -> None:
    full = np.array([3.0, 5, 7, 9, 2, 4, 6, 8, 10, 1, 3, 5])
    int8 = full + np.array([0, 1, 0, -2, 0, 0, 0, 1, 0, 0, 0, 0])
    got = drift.pointwise_drift(full, int8)
    assert got["mean_abs_difference"]["value"] == pytest.approx(np.mean(np.abs(full - int8)))
    assert got["flip_rate"]["value"] == pytest.approx(3 / 12)
    assert got["n"] == 12


def test_below_the_minimum_every_figure_is_a_dash_with_its_reason() -> None:
    few = MIN_N - 1
    point = drift.pointwise_drift([1.0] * few, [2.0] * few)
    pair = drift.pairwise_drift(["A"] * few, ["B"] * few)
    for figure in (*(point[k] for k in ("pearson", "mean_abs_difference", "flip_rate")), pair["cohen_kappa"]):
        assert figure["value"] is None
        assert figure["ci95"] is None
        assert f"fewer than {MIN_N} items" in figure["reason"]
    assert pair["flip_rate"]["value"] is None


def test_three_items_give_r_without_an_interval_and_flat_scores_say_why() -> None:
    three = drift.pearson_fisher([1, 2, 3], [1, 3, 2])
    assert three["value"] == pytest.approx(sps.pearsonr([1, 2, 3], [1, 3, 2]).statistic)
    assert three["ci95"] is None
    assert "at least 4" in three["ci_reason"]
    flat = drift.pearson_fisher([5, 5, 5, 5], [4, 5, 6, 7])
    assert flat["value"] is None
    assert "do not vary" in flat["reason"]
    same = drift.pairwise_drift(["A"] * 5, ["A"] * 5)
    assert same["cohen_kappa"]["value"] is None
    assert "same preference" in same["cohen_kappa"]["reason"]
    assert same["flip_rate"]["value"] == 0.0
