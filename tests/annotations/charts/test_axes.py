"""Tick values people can read: on a 1-2-5 grid, inside the range, few enough to label, labelled without noise."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from annotations.charts.axes import Scale, log_ticks, nice_range, nice_step, nice_ticks, tick_label

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


def on_125_grid(step: float) -> bool:
    mantissa = step / 10 ** math.floor(math.log10(step) + 1e-9)
    return any(math.isclose(mantissa, m, rel_tol=1e-6) for m in (1, 2, 5, 10))


@pytest.mark.parametrize(
    ("lo", "hi", "expected"),
    [
        (1, 10, [2, 4, 6, 8, 10]),
        (0, 1, [0, 0.2, 0.4, 0.6, 0.8, 1]),
        (0, 100, [0, 20, 40, 60, 80, 100]),
        (0, 37, [0, 10, 20, 30]),
        (940, 1065, [940, 960, 980, 1000, 1020, 1040, 1060]),
        (0.12, 0.19, [0.12, 0.13, 0.14, 0.15, 0.16, 0.17, 0.18, 0.19]),
    ],
)
def test_ticks_on_familiar_ranges(lo: float, hi: float, expected: list[float]) -> None:
    assert nice_ticks(lo, hi) == pytest.approx(expected)


@settings(deadline=None)  # a shared CI machine stalls now and then
@given(lo=finite, span=st.floats(min_value=1e-3, max_value=1e6), target=st.integers(2, 10))
def test_ticks_are_inside_the_range_on_a_125_step_and_few(lo: float, span: float, target: int) -> None:
    hi = lo + span
    ticks = nice_ticks(lo, hi, target)
    assert ticks == sorted(set(ticks))
    assert all(lo - 1e-6 * span <= t <= hi + 1e-6 * span for t in ticks)
    assert 1 <= len(ticks) <= 2 * target + 2
    if len(ticks) > 1:
        assert on_125_grid(ticks[1] - ticks[0])
        labels = [tick_label(t, ticks) for t in ticks]
        assert len(set(labels)) == len(labels)  # no two ticks read the same


@settings(deadline=None)  # a shared CI machine stalls now and then
@given(top=st.integers(1, 100_000))
def test_a_count_axis_ends_on_a_whole_tick_at_or_above_the_fullest_bin(top: int) -> None:
    ticks = nice_range(0, top, whole=True)
    assert ticks[0] == 0
    assert ticks[-1] >= top > ticks[-2]
    assert all(float(t).is_integer() for t in ticks)
    assert on_125_grid(ticks[1] - ticks[0])


@settings(deadline=None)  # a shared CI machine stalls now and then
@given(lo=finite, span=st.floats(min_value=1e-3, max_value=1e6))
def test_an_enclosing_range_holds_the_data_within_one_step(lo: float, span: float) -> None:
    ticks = nice_range(lo, lo + span)
    step = ticks[1] - ticks[0]
    assert ticks[0] <= lo + 1e-9 * span
    assert ticks[-1] >= lo + span - 1e-9 * span
    assert lo - ticks[0] < step * 1.001
    assert ticks[-1] - (lo + span) < step * 1.001


def test_labels_carry_the_decimals_of_the_step_and_no_minus_zero() -> None:
    assert [tick_label(t, [0, 0.2]) for t in (0.0, 0.2, 1.0)] == ["0.0", "0.2", "1.0"]
    assert tick_label(-0.0, [0, 5]) == "0"
    assert tick_label(12_500.0, [10_000, 12_500]) == "12,500"


def test_log_ticks_and_scales() -> None:
    assert log_ticks(3, 700) == [5, 10, 20, 50, 100, 200, 500]
    assert log_ticks(1, 100_000) == [1, 10, 100, 1_000, 10_000, 100_000]
    assert Scale(0, 10, 100, 0)(7.5) == 25.0  # a y axis: high values at the top
    assert Scale(1, 100, 0, 200, log=True)(10) == 100.0
    with pytest.raises(ValueError, match="positive, finite span"):
        nice_step(0)
