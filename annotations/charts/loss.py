"""The retraining job's training loss: a chart with axes and its last value for the job's page, and a sparkline with
the last value for the list."""

from __future__ import annotations

from typing import Any

from annotations.charts.axes import nice_range, nice_ticks
from annotations.charts.frame import ACCENT, frame, scales, x_ticks, y_ticks


def _losses(loss_log: list[dict[str, Any]]) -> list[tuple[int, float]]:
    return [(int(entry.get("step", i + 1)), float(entry["loss"])) for i, entry in enumerate(loss_log)]


def loss_chart(loss_log: list[dict[str, Any]], *, job: int) -> dict[str, Any] | None:
    """loss_log: [{"step": 1, "loss": 2.31}, ...] (the trainer's mean cross-entropy per target token); None before
    step 1. The loss axis runs over nice ticks around the lowest and highest loss; the last point is marked."""
    steps = _losses(loss_log)
    if not steps:
        return None
    low, high = min(v for _, v in steps), max(v for _, v in steps)
    losses_axis = nice_range(low, max(high, low + abs(low) * 0.1, low + 1e-3), 4)
    y_lo, y_hi = losses_axis[0], losses_axis[-1]
    first, last = steps[0], steps[-1]
    chart = frame(
        key="loss",
        template="loss",
        title=f"Training loss, job {job}",
        desc=f"Training loss over {len(steps)} steps: from {first[1]:.3f} at step {first[0]} to {last[1]:.3f} at "
        f"step {last[0]}; lowest {low:.3f}.",
        plot_width=420,
        plot_height=180,
        x_label="training step",
        y_label="loss (cross-entropy per token)",
    )
    x, y = scales(chart, (first[0], max(last[0], first[0] + 1)), (y_lo, y_hi))
    x_ticks(chart, x, nice_ticks(first[0], max(last[0], first[0] + 1), whole=True))
    y_ticks(chart, y, losses_axis)
    chart["points"] = " ".join(f"{x(s)},{y(v)}" for s, v in steps)
    chart["last"] = {"x": x(last[0]), "y": y(last[1]), "step": last[0], "loss": f"{last[1]:.3f}"}
    chart["accent"] = ACCENT
    return chart


def loss_sparkline(loss_log: list[dict[str, Any]], *, width: int = 120, height: int = 30) -> dict[str, Any] | None:
    """The list's thumbnail: the loss per step in a width x height box (the highest at the top) and its last value."""
    steps = _losses(loss_log)
    if not steps:
        return None
    values = [v for _, v in steps]
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    pad = 3
    last_index = max(len(values) - 1, 1)
    points = " ".join(
        f"{pad + (width - 2 * pad) * i / last_index:.1f},{pad + (height - 2 * pad) * (high - v) / span:.1f}"
        for i, v in enumerate(values)
    )
    return {"points": points, "width": width, "height": height, "steps": steps[-1][0], "first": values[0],
            "last": values[-1]}  # fmt: skip
