"""The score charts of the dashboard: human against critic scores, and both sides' score histograms."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from django.utils.safestring import mark_safe

from annotations.charts.axes import nice_range, nice_ticks
from annotations.charts.frame import ACCENT, CRITIC, FIT, HUMAN, frame, scales, x_ticks, y_ticks
from annotations.wording import counted

R_MAX = 11.0  # px: the dot of the most frequent (human, critic) pair
R_MIN = 2.6


def score_unit(scale_name: str | None, span: list[float]) -> str:
    """What a score is measured in, for an axis label: the profile's range, or fractions of it when mixed."""
    if scale_name == "fraction of range":
        return "fraction of each profile's range"
    return f"{scale_name} profile, {span[0]:g} to {span[1]:g}" if scale_name else f"{span[0]:g} to {span[1]:g}"


def scatter(
    points: list[list[float]], span: list[float] | None, fit: dict[str, float] | None, unit: str, n: int
) -> dict[str, Any] | None:
    """Human score (x) against critic score (y) in data units, one dot per distinct pair whose area is the number of
    items with that pair (equal scores no longer hide each other), the least-squares line, and the diagonal. `points`
    may be a sample of the `n` items."""
    if not points or span is None:
        return None
    lo, hi = span
    pad = (hi - lo) * 0.04 or 0.5
    counts = Counter((round(h, 4), round(c, 4)) for h, c in points)
    chart = frame(
        key="scatter",
        template="scatter",
        title="Human against critic scores",
        desc=f"{counted(len(points), 'item')} with a human and a critic score, "
        f"{counted(len(counts), 'distinct pair')}; "
        f"scores in {unit}. Dot area: how many items share the pair.",
        plot_width=300,
        plot_height=300,
        x_label=f"human score ({unit})",
        y_label=f"critic score ({unit})",
        legend=[
            {"label": "items (area: count)", "colour": ACCENT, "mark": "dot"},
            {"label": "least-squares fit", "colour": FIT, "mark": "line"},
            {"label": "perfect agreement", "colour": "#98a2b3", "mark": "dash"},
        ],
    )
    x, y = scales(chart, (lo - pad, hi + pad), (lo - pad, hi + pad))
    ticks = nice_ticks(lo, hi)
    x_ticks(chart, x, ticks)
    y_ticks(chart, y, ticks)
    biggest = max(counts.values())
    # One string for the page: 3,000 circles through the template's loop took ~0.1 s per view. The most frequent
    # pairs are drawn first, so that a rare pair is never under a common one.
    dots = "".join(
        f'<circle cx="{x(h)}" cy="{y(c)}" r="{max(R_MIN, R_MAX * math.sqrt(n / biggest)):.1f}">'
        f"<title>human {h:g}, critic {c:g}: {n} item{'' if n == 1 else 's'}</title></circle>"
        for (h, c), n in sorted(counts.items(), key=lambda kv: -kv[1])
    )
    if len(points) < n:
        sample = f"{len(points):,} of {n:,} items, a seeded sample"
    else:
        sample = "the only item" if n == 1 else f"all {n:,} items"
    chart["caption"] = f"One dot per (human, critic) pair of scores, its area the number of items with it; {sample}."
    chart["dots_svg"] = mark_safe(dots)  # noqa: S308 - only numbers formatted here
    chart["accent"] = ACCENT
    chart["diagonal"] = {"x1": x(lo), "y1": y(lo), "x2": x(hi), "y2": y(hi)}
    chart["fit"] = None
    if fit is not None:
        y0 = min(max(fit["intercept"] + fit["slope"] * lo, lo), hi)
        y1 = min(max(fit["intercept"] + fit["slope"] * hi, lo), hi)
        chart["fit"] = {"x1": x(lo), "y1": y(y0), "x2": x(hi), "y2": y(y1), "colour": FIT}
    return chart


def histograms(hist: dict[str, list[Any]], unit: str) -> dict[str, Any] | None:
    """Human and critic scores per bin side by side; the count axis ends on the tick at or above the fullest bin."""
    if not hist["edges"]:
        return None
    edges = hist["edges"]
    fullest = max(hist["human"] + hist["critic"])
    counts_axis = nice_range(0, fullest, whole=True)
    chart = frame(
        key="histograms",
        template="histograms",
        title="How often each score was given",
        desc=f"Items per score bin, reviewers beside the critic, in {len(edges) - 1} bins from {edges[0]:g} to "
        f"{edges[-1]:g} ({unit}); the fullest bin holds {fullest}.",
        plot_width=300,
        plot_height=240,
        x_label=f"score ({unit})",
        y_label="items in the bin",
        legend=[
            {"label": "reviewers", "colour": HUMAN, "mark": "box"},
            {"label": "critic", "colour": CRITIC, "mark": "box"},
        ],
    )
    x, y = scales(chart, (edges[0], edges[-1]), (0.0, counts_axis[-1]))
    x_ticks(chart, x, nice_ticks(edges[0], edges[-1]))
    y_ticks(chart, y, counts_axis)
    bars = []
    for i in range(len(edges) - 1):
        left, right = x(edges[i]), x(edges[i + 1])
        half = (right - left) / 2
        for k, (judge, colour) in enumerate((("human", HUMAN), ("critic", CRITIC))):
            count = hist[judge][i]
            bars.append(
                {
                    "judge": judge,
                    "colour": colour,
                    "x": round(left + k * half + (1.5 if k == 0 else 0), 1),  # a gap between bins, none within
                    "w": round(max(half - 1.5, 1), 1),
                    "y": y(count),
                    "h": round(y(0) - y(count), 1),
                    "title": f"{'reviewers' if judge == 'human' else 'critic'}: {count} in "
                    f"{edges[i]:g} to {edges[i + 1]:g}",
                }
            )
    chart["bars"] = bars
    return chart
