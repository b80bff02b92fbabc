"""Server-drawn SVG charts: numbers in, pixel coordinates and labels out; `annotations/charts/*.svg` templates draw
them, the same markup inline on the page and as a download (`svg_document`). No JavaScript chart library, nothing
from a CDN; a chart draws only what the metrics it is given contain, so it keeps their blind rule."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.template.loader import render_to_string

from annotations.charts.curves import planning, reliability
from annotations.charts.leaderboard import leaderboard
from annotations.charts.loss import loss_chart, loss_sparkline
from annotations.charts.scores import histograms, scatter, score_unit

__all__ = ["dashboard", "dashboard_charts", "loss_chart", "loss_sparkline", "svg_document", "svg_response"]


def dashboard(metrics: dict[str, Any]) -> dict[str, Any]:
    """Every plot of the metrics dashboard (a chart dict, or None where there is nothing to draw yet) and the
    pairwise confusion matrix's shading."""
    pw = metrics["pointwise"]
    unit = score_unit(pw.get("score_scale"), pw.get("range") or [0, 1])
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
        "scatter": scatter(metrics.get("plots", {}).get("scatter", []), pw.get("range"), pw.get("fit"), unit, pw["n"]),
        "histograms": histograms(pw["histogram"], unit),
        "reliability": {kind: reliability(block["curve"], kind) for kind, block in metrics["calibration"].items()},
        "confusion": heat if any(any(row) for row in counts) else None,
        "leaderboard": leaderboard(metrics["leaderboard"]),
        "planning": {kind: planning(plans, kind) for kind, plans in metrics["trust"]["planning"]["ppi"].items()},
    }


def dashboard_charts(drawn: dict[str, Any]) -> dict[str, dict[str, Any] | None]:
    """The dashboard's charts by key: "scatter", "histograms", "leaderboard", "reliability-<kind>" and
    "planning-<kind>" for kind pairwise and pointwise; None for those with nothing to draw yet."""
    out = {"scatter": drawn["scatter"], "histograms": drawn["histograms"], "leaderboard": drawn["leaderboard"]}
    out.update({f"reliability-{kind}": chart for kind, chart in drawn["reliability"].items()})
    out.update({f"planning-{kind}": chart for kind, chart in drawn["planning"].items()})
    return out


def svg_document(chart: dict[str, Any]) -> str:
    """The chart as a standalone SVG file (XML declaration, namespace, presentation attributes only)."""
    body = render_to_string(chart["template"], {"c": chart})
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body.strip() + "\n"


def svg_response(chart: dict[str, Any]) -> HttpResponse:
    """The chart as a file to save, named by the `file_name` its view gave it; the page's PNG button rasterises this
    same file in the browser."""
    response = HttpResponse(svg_document(chart), content_type="image/svg+xml; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{chart["file_name"]}.svg"'
    return response
