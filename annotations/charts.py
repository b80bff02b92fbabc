"""Geometry for the dashboard's inline SVG plots: numbers in, pixel coordinates out. The templates draw them;
no JavaScript chart library, nothing from a CDN."""

from __future__ import annotations

from typing import Any

import numpy as np
from django.utils.safestring import mark_safe

SIZE = 300  # plot area, px
PAD = 40


def _axis(lo: float, hi: float, length: float, *, flip: bool = False) -> Any:
    span = hi - lo if hi > lo else 1.0

    def to_px(v: float) -> float:
        frac = (v - lo) / span
        return round(PAD + (1 - frac if flip else frac) * length, 1)

    return to_px


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    return [round(float(v), 3) for v in np.linspace(lo, hi, n)]


def scatter(points: list[list[float]], rng_: list[float] | None, fit: dict[str, float] | None) -> dict[str, Any] | None:
    """Human score on x, critic score on y, jittered by 1% of the range so that equal scores do not hide each
    other; the least-squares line and the diagonal (perfect agreement)."""
    if not points or rng_ is None:
        return None
    lo, hi = rng_
    x = _axis(lo, hi, SIZE)
    y = _axis(lo, hi, SIZE, flip=True)
    jitter = np.random.default_rng(0).uniform(-0.01, 0.01, size=(len(points), 2)) * (hi - lo)
    # One string for the page: 3,000 circles through the template's loop took ~0.1 s per view.
    dots = "".join(
        f'<circle cx="{x(p[0] + j[0]):.1f}" cy="{y(p[1] + j[1]):.1f}" r="2.2"/>'
        for p, j in zip(points, jitter, strict=True)
    )
    line = None
    if fit is not None:
        y0 = fit["intercept"] + fit["slope"] * lo
        y1 = fit["intercept"] + fit["slope"] * hi
        line = {"x1": x(lo), "y1": y(min(max(y0, lo), hi)), "x2": x(hi), "y2": y(min(max(y1, lo), hi))}
    ticks = [{"label": f"{t:g}", "x": x(t), "y": y(t)} for t in _ticks(lo, hi)]
    return {
        "dots_svg": mark_safe(dots),  # noqa: S308 - only numbers formatted here
        "fit": line,
        "diagonal": {"x1": x(lo), "y1": y(lo), "x2": x(hi), "y2": y(hi)},
        "ticks": ticks,
        **_frame(),
    }


def _frame() -> dict[str, float]:
    return {
        "left": PAD,
        "top": PAD,
        "right": PAD + SIZE,
        "bottom": PAD + SIZE,
        "width": SIZE + 2 * PAD,
        "height": SIZE + 2 * PAD,
    }


def reliability(curve: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Mean confidence (x) against how often the critic agreed with the reviewer (y), one dot per bin sized by
    its count; the diagonal is perfect calibration."""
    if not curve:
        return None
    x = _axis(0, 1, SIZE)
    y = _axis(0, 1, SIZE, flip=True)
    biggest = max(row["n"] for row in curve)
    dots = [
        {
            "x": x(row["confidence"]),
            "y": y(row["accuracy"]),
            "r": round(3 + 7 * (row["n"] / biggest) ** 0.5, 1),
            "title": f"{row['lo']:.1f}-{row['hi']:.1f}: confidence {row['confidence']:.2f}, "
            f"agreed {row['accuracy']:.2f}, n={row['n']}",
        }
        for row in curve
    ]
    path = " ".join(f"{d['x']},{d['y']}" for d in dots)
    ticks = [{"label": f"{t:g}", "x": x(t), "y": y(t)} for t in _ticks(0, 1)]
    return {
        "dots": dots,
        "path": path,
        "diagonal": {"x1": x(0), "y1": y(0), "x2": x(1), "y2": y(1)},
        "ticks": ticks,
        **_frame(),
    }


def histograms(hist: dict[str, list[Any]]) -> dict[str, Any] | None:
    """Human and critic score histograms side by side in each bin."""
    if not hist["edges"]:
        return None
    counts = hist["human"] + hist["critic"]
    top = max(counts) or 1
    bins = len(hist["human"])
    slot = SIZE / bins
    bars = []
    for i in range(bins):
        for k, judge in enumerate(("human", "critic")):
            h = SIZE * hist[judge][i] / top
            bars.append(
                {
                    "judge": judge,
                    "x": round(PAD + i * slot + k * slot / 2 + 1, 1),
                    "y": round(PAD + SIZE - h, 1),
                    "w": round(slot / 2 - 2, 1),
                    "h": round(h, 1),
                    "title": f"{judge}: {hist[judge][i]} in {hist['edges'][i]:g}-{hist['edges'][i + 1]:g}",
                }
            )
    labels = [{"label": f"{hist['edges'][i]:g}", "x": round(PAD + i * slot, 1)} for i in range(0, bins + 1, 2)]
    return {"bars": bars, "labels": labels, "top": top, **_frame()}


def leaderboard(board: dict[str, Any]) -> dict[str, Any] | None:
    """Each model's rating as a dot on its 95% interval bar, human and critic on one shared scale."""
    rows = [(judge, r) for judge in ("human", "critic") for r in board[judge]["models"]]
    if not rows:
        return None
    rated = [r for _, r in rows if r["rating"]["value"] is not None]
    values = [v for r in rated for v in (r["rating"]["ci95"] or [r["rating"]["value"]] * 2) + [r["rating"]["value"]]]
    values = values or [1000.0]
    lo, hi = min(values), max(values)
    margin = max(5.0, (hi - lo) * 0.05)
    lo, hi = lo - margin, hi + margin
    width = 160
    span = hi - lo

    def x(v: float) -> float:
        return round(10 + (v - lo) / span * width, 1)

    out: dict[str, Any] = {
        "width": width + 20,
        "ticks": [{"label": f"{t:.0f}", "x": x(t)} for t in _ticks(lo, hi, 4)],
    }
    for judge in ("human", "critic"):
        bars = []
        for r in board[judge]["models"]:
            if r["rating"]["value"] is None:  # too few games: the row says why, no bar
                bars.append({"model": r["model"], "rank": r["rank"], "rating": r["rating"], "x": None})
                continue
            ci = r["rating"]["ci95"] or [r["rating"]["value"]] * 2
            bars.append(
                {
                    "model": r["model"],
                    "rank": r["rank"],
                    "rating": r["rating"],
                    "x1": x(ci[0]),
                    "x2": x(ci[1]),
                    "x": x(r["rating"]["value"]),
                }
            )
        out[judge] = bars
    return out


def dashboard(metrics: dict[str, Any]) -> dict[str, Any]:
    pw = metrics["pointwise"]
    counts = metrics["pairwise"]["confusion_matrix"]["counts"]
    top = max(max(row) for row in counts) or 1
    labels = metrics["pairwise"]["confusion_matrix"]["labels"]
    heat = [
        {
            "label": labels[i],
            "cells": [
                {"count": c, "alpha": round(0.08 + 0.82 * c / top, 2), "agree": i == j} for j, c in enumerate(row)
            ],
        }
        for i, row in enumerate(counts)
    ]
    return {
        "scatter": scatter(metrics.get("plots", {}).get("scatter", []), pw.get("range"), pw.get("fit")),
        "histograms": histograms(pw["histogram"]),
        "reliability": {kind: reliability(block["curve"]) for kind, block in metrics["calibration"].items()},
        "confusion": heat if any(any(row) for row in counts) else None,
        "leaderboard": leaderboard(metrics["leaderboard"]),
        "planning": {kind: planning(plans) for kind, plans in metrics["trust"]["planning"]["ppi"].items()},
    }


PALETTE = ("#2f5bd3", "#d35f2f", "#2f9e5b", "#9b2fd3", "#b8a31f", "#2fa9d3", "#d32f7d", "#555555")


def planning(plans: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Projected 95% interval width (y) against human verdicts collected (x, log scale), one line per estimate,
    a dot where each stands now, and the administrator's target as a dashed line."""
    lines = [p for p in plans if p["curve"]]
    if not lines:
        return None
    xs = [pt[0] for p in lines for pt in p["curve"]] + [max(p["n"], 1) for p in lines]
    target = lines[0]["target"]
    ys = [pt[1] for p in lines for pt in p["curve"]] + [p["width"] or 0 for p in lines] + [target]
    lo_x, hi_x = np.log10(max(min(xs), 1)), np.log10(max(max(xs), 2))
    x = _axis(float(lo_x), float(hi_x), SIZE)
    y = _axis(0.0, float(max(ys)) * 1.05 or 1.0, SIZE, flip=True)
    out = []
    for i, p in enumerate(lines):
        colour = PALETTE[i % len(PALETTE)]
        path = " ".join(f"{x(float(np.log10(max(n, 1))))},{y(w)}" for n, w in p["curve"])
        now = {"x": x(float(np.log10(max(p["n"], 1)))), "y": y(p["width"])} if p["width"] is not None else None
        out.append({"figure": p["figure"], "colour": colour, "path": path, "now": now})
    decades = range(int(np.floor(lo_x)), int(np.ceil(hi_x)) + 1)
    ticks = [{"label": f"{10**d:,}", "x": x(float(d))} for d in decades if lo_x <= d <= hi_x]
    y_ticks = [{"label": f"{t:.3g}", "y": y(t)} for t in _ticks(0.0, float(max(ys)) * 1.05, 4)]
    return {"lines": out, "target_y": y(target), "ticks": ticks, "y_ticks": y_ticks, **_frame()}
