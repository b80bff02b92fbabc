"""The frame every chart shares: its size, margins, title and description (read aloud by screen readers), ticks,
axis labels and legend, as plain numbers and strings for `annotations/charts/chart.svg`."""

from __future__ import annotations

from typing import Any

from annotations.charts.axes import Scale, tick_label

HUMAN = "#2f5bd3"
CRITIC = "#e07a1f"
ACCENT = "#2f5bd3"
FIT = "#b42318"
PALETTE = ("#2f5bd3", "#d35f2f", "#2f9e5b", "#9b2fd3", "#b8a31f", "#2fa9d3", "#d32f7d", "#555555")

LEFT, RIGHT, BOTTOM = 60, 18, 46
TITLE_ONLY, LEGEND_ROW = 30, 18
CHAR_PX = 6.8  # the width of one 11 px character (DejaVu Sans, the widest usual fallback), to lay out text
TITLE_PX = 8.2  # one 13 px bold character
EDGE = 10  # px from the left edge to the title and the legend


def frame(
    *,
    key: str,
    template: str,
    title: str,
    desc: str,
    plot_width: int,
    plot_height: int,
    x_label: str,
    y_label: str,
    legend: list[dict[str, str]] | None = None,
    left: int = LEFT,
) -> dict[str, Any]:
    """A chart's outline: `key` names it in download links and element ids; the plot area is plot_width x
    plot_height px, with room around it for ticks, axis labels, the title and a legend of {"label", "colour",
    "mark": box|dot|line|dash}."""
    width = max(left + plot_width + RIGHT, int(EDGE + TITLE_PX * len(title) + RIGHT))
    rows = _legend_rows(legend or [], EDGE, width - RIGHT)
    top = TITLE_ONLY + LEGEND_ROW * len(rows)
    out: dict[str, Any] = {
        "key": key,
        "kind": template,
        "template": f"annotations/charts/{template}.svg",
        "title": title,
        "desc": desc,
        "left": left,
        "top": top,
        "right": left + plot_width,
        "bottom": top + plot_height,
        "plot_width": plot_width,
        "plot_height": plot_height,
        "width": width,
        "edge": EDGE,
        "height": top + plot_height + BOTTOM,
        "x_label": x_label,
        "y_label": y_label,
        "x_ticks": [],
        "y_ticks": [],
        "legend": [],
    }
    out["x_mid"] = left + plot_width / 2
    out["y_mid"] = top + plot_height / 2
    for row, items in enumerate(rows):
        y = TITLE_ONLY + LEGEND_ROW * row + 6
        for x, item in items:
            out["legend"].append({**item, "x": x, "text_x": x + 16, "y": y, "mid": y - 4, "box": y - 9})
    return out


def _legend_rows(legend: list[dict[str, str]], start: int, end: int) -> list[list[tuple[int, dict[str, str]]]]:
    """The legend's entries laid left to right, a new row when the next would pass the plot's right edge."""
    rows: list[list[tuple[int, dict[str, str]]]] = []
    x = end + 1
    for item in legend:
        width = int(16 + CHAR_PX * len(item["label"]) + 14)
        if x + width - 14 > end and (not rows or rows[-1]):
            rows.append([])
            x = start
        rows[-1].append((x, item))
        x += width
    return rows


def x_ticks(chart: dict[str, Any], scale: Scale, values: list[float], labels: list[str] | None = None) -> None:
    labels = labels or [tick_label(v, values) for v in values]
    chart["x_ticks"] = [{"x": scale(v), "label": label} for v, label in zip(values, labels, strict=True)]


def y_ticks(chart: dict[str, Any], scale: Scale, values: list[float]) -> None:
    chart["y_ticks"] = [{"y": scale(v), "label": tick_label(v, values)} for v in values]


def scales(chart: dict[str, Any], x: tuple[float, float], y: tuple[float, float], *, log_x: bool = False) -> Any:
    """The x and y scales onto the chart's plot area (y upwards)."""
    return (
        Scale(x[0], x[1], chart["left"], chart["right"], log=log_x),
        Scale(y[0], y[1], chart["bottom"], chart["top"]),
    )
