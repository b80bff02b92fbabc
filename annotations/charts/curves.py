"""Curves of the dashboard: the critic's reliability (calibration) and the planning of further human verdicts."""

from __future__ import annotations

import math
from typing import Any

from annotations.charts.axes import log_ticks, nice_range, nice_ticks
from annotations.charts.frame import ACCENT, PALETTE, frame, scales, x_ticks, y_ticks


def reliability(curve: list[dict[str, Any]], kind: str) -> dict[str, Any] | None:
    """Mean confidence (x) against how often the critic agreed with the reviewer (y), both 0-1, one dot per bin whose
    area is its number of verdicts; the diagonal is perfect calibration."""
    if not curve:
        return None
    chart = frame(
        key=f"reliability-{kind}",
        template="reliability",
        title=f"Calibration ({kind})",
        desc=f"Reliability curve of the critic's {kind} verdicts: {len(curve)} confidence bins, "
        f"{sum(row['n'] for row in curve)} verdicts; on the diagonal, confidence equals the share of agreement.",
        plot_width=300,
        plot_height=300,
        x_label="critic's confidence (mean in the bin, 0 to 1)",
        y_label="share agreeing with the reviewer",
        legend=[
            {"label": "bin (area: verdicts)", "colour": ACCENT, "mark": "dot"},
            {"label": "perfect calibration", "colour": "#98a2b3", "mark": "dash"},
        ],
    )
    x, y = scales(chart, (0.0, 1.0), (0.0, 1.0))
    ticks = nice_ticks(0.0, 1.0)
    x_ticks(chart, x, ticks)
    y_ticks(chart, y, ticks)
    biggest = max(row["n"] for row in curve)
    chart["dots"] = [
        {
            "x": x(row["confidence"]),
            "y": y(row["accuracy"]),
            "r": round(3 + 8 * math.sqrt(row["n"] / biggest), 1),
            "title": f"confidence {row['lo']:.1f} to {row['hi']:.1f}: mean {row['confidence']:.2f}, "
            f"agreed {row['accuracy']:.2f}, n = {row['n']}",
        }
        for row in curve
    ]
    chart["caption"] = "One dot per confidence bin, its area the number of verdicts in it."
    chart["path"] = " ".join(f"{d['x']},{d['y']}" for d in chart["dots"])
    chart["diagonal"] = {"x1": x(0), "y1": y(0), "x2": x(1), "y2": y(1)}
    chart["accent"] = ACCENT
    return chart


def planning(plans: list[dict[str, Any]], kind: str) -> dict[str, Any] | None:
    """Projected 95% interval width (y, the figure's own units) against human verdicts collected (x, log10), one line
    per estimate, a dot where each stands now, and the administrator's target as a dashed line."""
    lines = [p for p in plans if p["curve"]]
    if not lines:
        return None
    xs = [max(pt[0], 1) for p in lines for pt in p["curve"]] + [max(p["n"], 1) for p in lines]
    target = lines[0]["target"]
    ys = [pt[1] for p in lines for pt in p["curve"]] + [p["width"] or 0 for p in lines] + [target]
    chart = frame(
        key=f"planning-{kind}",
        template="planning",
        title=f"Interval width as verdicts grow ({kind})",
        desc=f"Projected 95% interval width of {len(lines)} {kind} estimates against the number of human verdicts, "
        f"from {min(xs):,} to {max(xs):,}; target width {target:.3g}.",
        plot_width=300,
        plot_height=240,
        x_label="human verdicts collected (log scale)",
        y_label="95% interval width (figure's units)",
        legend=[
            {"label": p["figure"], "colour": PALETTE[i % len(PALETTE)], "mark": "line"} for i, p in enumerate(lines)
        ]
        + [{"label": "target", "colour": "#98a2b3", "mark": "dash"}],
    )
    lo_x, hi_x = float(min(xs)), float(max(max(xs), 2 * min(xs)))
    widths = nice_range(0.0, max(ys) or 1.0)
    x, y = scales(chart, (lo_x, hi_x), (0.0, widths[-1]), log_x=True)
    ticks = log_ticks(lo_x, hi_x)
    x_ticks(chart, x, ticks, [f"{t:,.0f}" for t in ticks])
    y_ticks(chart, y, widths)
    out = []
    for i, p in enumerate(lines):
        path = " ".join(f"{x(max(n, 1))},{y(w)}" for n, w in p["curve"])
        now = {"x": x(max(p["n"], 1)), "y": y(p["width"])} if p["width"] is not None else None
        out.append({"figure": p["figure"], "colour": PALETTE[i % len(PALETTE)], "path": path, "now": now})
    chart["lines"] = out
    chart["caption"] = "Dots: where each estimate stands now; dashed: the target width."
    chart["target_y"] = y(target)
    return chart
