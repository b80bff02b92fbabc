"""Axes people can read: tick values on a 1-2-5 grid ("nice numbers", Heckbert, Graphics Gems I, 1990, "Nice
numbers for graph labels") and the linear or log10 maps from data units to the SVG's pixels."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

NICE = (1.0, 2.0, 5.0, 10.0)


def nice_step(span: float, target: int = 5) -> float:
    """The 1, 2 or 5 x 10^k step nearest to span / target (span > 0, in data units); e.g. 9 / 5 → 2, 1 / 5 → 0.2."""
    if not span > 0 or not math.isfinite(span):
        raise ValueError(f"an axis needs a positive, finite span, not {span!r}")
    raw = span / max(target, 1)
    magnitude = 10.0 ** math.floor(math.log10(raw))
    fraction = raw / magnitude
    # Heckbert's rounding: the nice fraction whose geometric midpoint with the next one lies above the raw one.
    for nice, upper in itertools.pairwise(NICE):
        if fraction < math.sqrt(nice * upper):
            return nice * magnitude
    return 10.0 * magnitude


def _decimals(step: float) -> int:
    return max(0, -math.floor(math.log10(step) + 1e-9))


def nice_ticks(lo: float, hi: float, target: int = 5, *, whole: bool = False) -> list[float]:
    """Multiples of the nice step inside [lo, hi] (both included when on the grid), ascending. `whole`: the step is at
    least 1 (counts). A zero span is widened to one unit so that a single value still gets an axis."""
    if hi < lo:
        lo, hi = hi, lo
    if hi == lo:
        lo, hi = lo - 0.5, hi + 0.5
    step = nice_step(hi - lo, target)
    if whole:
        step = max(step, 1.0)
    first, last = math.ceil(lo / step - 1e-9), math.floor(hi / step + 1e-9)
    digits = _decimals(step)
    return [round(k * step, digits) + 0.0 for k in range(first, last + 1)]


def nice_range(lo: float, hi: float, target: int = 5, *, whole: bool = False) -> list[float]:
    """Ticks on the nice step that enclose [lo, hi]: the first at or below lo, the last at or above hi. An axis
    running from the first to the last (a count axis from 0) puts the fullest bar under a labelled tick rather than
    at the chart's edge."""
    if hi < lo:
        lo, hi = hi, lo
    if hi == lo:
        hi = lo + (abs(lo) or 1.0)
    step = nice_step(hi - lo, target)
    if whole:
        step = max(step, 1.0)
    first, last = math.floor(lo / step + 1e-9), math.ceil(hi / step - 1e-9)
    digits = _decimals(step)
    return [round(k * step, digits) + 0.0 for k in range(first, last + 1)]


def tick_label(value: float, ticks: list[float]) -> str:
    """The value with as many decimals as the ticks' step needs (0.2 → "0.2", 1000 → "1000", 12500 → "12,500")."""
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0
    digits = _decimals(abs(step)) if step else 0
    text = f"{value + 0.0:,.{digits}f}" if abs(value) >= 10_000 else f"{value + 0.0:.{digits}f}"
    return text


def log_ticks(lo: float, hi: float) -> list[float]:
    """Ticks for a log10 axis over [lo, hi] (lo > 0): 1, 2, 5 x 10^k while there are few decades, powers of ten
    once there are more than three."""
    if lo <= 0 or hi < lo:
        raise ValueError(f"a log axis needs 0 < lo <= hi, not {lo!r}..{hi!r}")
    first, last = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    factors = (1.0,) if last - first > 3 else (1.0, 2.0, 5.0)
    ticks = [f * 10.0**d for d in range(first, last + 1) for f in factors]
    return [t for t in ticks if lo * (1 - 1e-9) <= t <= hi * (1 + 1e-9)]


@dataclass(frozen=True)
class Scale:
    """Data units → pixels: [lo, hi] onto [start, end] (end < start for a y axis, whose top is the high value)."""

    lo: float
    hi: float
    start: float
    end: float
    log: bool = False

    def __call__(self, value: float) -> float:
        lo, hi, v = self.lo, self.hi, value
        if self.log:
            lo, hi, v = math.log10(lo), math.log10(hi), math.log10(max(value, self.lo))
        span = hi - lo if hi > lo else 1.0
        return round(self.start + (v - lo) / span * (self.end - self.start), 1)
