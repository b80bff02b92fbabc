"""The probe statistics against independent computations: statsmodels' Wilson interval and t interval of a mean, and
scipy's t distribution."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats.proportion import proportion_confint
from statsmodels.stats.weightstats import DescrStatsW

from annotations import stats
from annotations.trust import probes


@pytest.mark.parametrize(("k", "n"), [(0, 3), (3, 3), (1, 10), (7, 12), (40, 200), (199, 200)])
def test_the_flip_rate_and_its_wilson_interval_match_statsmodels(k: int, n: int) -> None:
    flipped = np.r_[np.ones(k, dtype=bool), np.zeros(n - k, dtype=bool)]
    rate = probes.flip_rate(flipped)
    lo, hi = proportion_confint(k, n, alpha=0.05, method="wilson")
    assert rate["value"] == pytest.approx(k / n)
    assert rate["ci95"] == pytest.approx([lo, hi], abs=1e-12)
    assert rate["n"] == n
    assert rate.get("small_sample", False) is (n < stats.SMALL_N)


def test_the_mean_shift_and_its_t_interval_match_statsmodels_and_scipy() -> None:
    shift = np.random.default_rng(3).normal(-1.5, 2.0, size=37).round(1)
    mean = probes.mean_shift(shift)
    assert mean["value"] == pytest.approx(shift.mean())
    assert mean["ci95"] == pytest.approx(list(DescrStatsW(shift).tconfint_mean(alpha=0.05)), abs=1e-12)
    by_t = sps.t.interval(0.95, shift.size - 1, loc=shift.mean(), scale=sps.sem(shift))
    assert mean["ci95"] == pytest.approx(list(by_t), abs=1e-12)
    assert "small_sample" not in mean
    # An absolute shift cannot average below 0: its interval stops there.
    skewed = np.r_[np.zeros(11), [40.0]]
    assert sps.ttest_1samp(skewed, 0).confidence_interval().low < 0
    assert probes.mean_shift(skewed, floor=0.0)["ci95"][0] == 0.0


def test_small_samples_show_no_figure_or_no_interval_with_the_reason() -> None:
    assert probes.flip_rate([], reason="no item has a blank-image probe yet") == stats.undefined(
        0, "no item has a blank-image probe yet"
    )
    two = probes.flip_rate([True, False])
    assert (two["value"], two["ci95"], two["n"]) == (None, None, 2)
    assert f"needs at least {stats.MIN_N}" in two["reason"]
    few = probes.mean_shift([1.0, 2.0, 4.0])  # a mean, but a t interval over 3 shifts is not trusted
    assert few["value"] == pytest.approx(7 / 3)
    assert few["ci95"] is None
    assert f"needs {stats.MIN_CI_N}" in few["ci_reason"]
    assert probes.mean_shift([0.0, 0.0])["value"] is None
    same = probes.mean_shift([0.5] * 12)  # no spread at all: the interval is the point
    assert same["ci95"] == [0.5, 0.5]


def test_a_pointwise_flip_is_a_move_beyond_the_tolerance_and_the_shift_is_probe_minus_item() -> None:
    original = np.array([8.0, 8.0, 6.0, 5.0, 9.0, 2.0])
    probed = np.array([8.0, 7.0, 4.0, 5.5, 3.0, 2.0])
    effect = probes.pointwise_effect(original, probed, 1.0, reason="none")
    # moves of 0, 1 (at the tolerance: not a flip), 2, 0.5, 6, 0
    assert effect["flip_rate"]["value"] == pytest.approx(2 / 6)
    assert effect["mean_score_shift"]["value"] == pytest.approx((probed - original).mean())
    assert effect["mean_abs_score_shift"]["value"] == pytest.approx(np.abs(probed - original).mean())
    per_item = probes.pointwise_effect(original, probed, np.array([0, 0, 0, 0, 9, 0]), reason="none")
    assert per_item["flip_rate"]["value"] == pytest.approx(3 / 6)  # a tolerance per item (mixed score ranges)


def test_a_pairwise_flip_is_a_changed_preference_with_its_table() -> None:
    effect = probes.pairwise_effect(["A", "A", "B", "tie", "B"], ["A", "B", "B", "A", "B"], reason="none")
    assert effect["n"] == 5
    assert effect["flip_rate"]["value"] == pytest.approx(2 / 5)
    counts = effect["table"]["counts"]
    assert (counts[0][0], counts[0][1], counts[1][1], counts[2][0]) == (1, 1, 2, 1)
