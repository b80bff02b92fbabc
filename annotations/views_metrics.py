"""The metrics dashboard, the swap check and the probes. Thin: parse the input, call a selector or service, render."""

from __future__ import annotations

import csv
import io
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from annotations import charts
from annotations.models import Probe, Split
from annotations.params import whole_number
from annotations.permissions import admin_required
from annotations.selectors import datasets as selectors
from annotations.selectors.metrics import (
    agreement_for_dataset,
    metric_checkpoints_known,
    metric_filter_options,
    metric_tables,
    metrics_checkpoint,
    scoped_items,
)
from annotations.services.judging import checkpoint_resolve, swap_checks_queue
from annotations.services.probes import probes_queue
from annotations.wording import counted

FILTERS = ("checkpoint", "split", "profile", "reviewer", "response_model")


def _cell(value: Any) -> Any:
    """Text a spreadsheet would run as a formula (a model named "=HYPERLINK(...)") is kept as text."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _download(name: str, rows: list[dict[str, Any]] | dict[str, Any], fmt: str, slug: str) -> HttpResponse:
    if fmt == "json":
        response: HttpResponse = JsonResponse(rows, safe=False, json_dumps_params={"indent": 2})
        ext = "json"
    else:
        out = io.StringIO()
        fields = list(rows[0]) if rows and isinstance(rows, list) else ["empty"]
        writer = csv.DictWriter(out, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows([{k: _cell(v) for k, v in row.items()} for row in rows] if isinstance(rows, list) else [])
        response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
        ext = "csv"
    response["Content-Disposition"] = f'attachment; filename="{slug}-{name}.{ext}"'
    return response


@require_GET
def dataset_metrics(request: HttpRequest, pk: int) -> HttpResponse:
    """The dashboard; `?format=json` the whole metrics JSON; `?table=NAME&format=csv|json` one of its tables;
    `?chart=KEY&format=svg` one of its plots as an SVG file (404 while that plot has nothing to draw). A
    reviewer's figures, tables and filter options come only from the items they have judged (blind review)."""
    dataset = selectors.dataset_get(user=request.user, pk=pk)
    filters = {key: request.GET.get(key, "").strip() for key in FILTERS}
    scoped = scoped_items(dataset=dataset, viewer=request.user)  # read at most once, for the lists and the metrics
    options = metric_filter_options(dataset=dataset, viewer=request.user, scoped=scoped)
    errors = []
    if filters["split"] and filters["split"] not in Split.values:
        errors.append(f"Unknown split {filters['split']!r}: choose pool or gold.")
    try:
        # A reviewer is told only of the checkpoints the dashboard lists to them (and the active one).
        named = filters["checkpoint"]
        known = metric_checkpoints_known(dataset=dataset, viewer=request.user, options=options) if named else None
        checkpoint = metrics_checkpoint(name=named, known=known)
    except ValidationError as exc:
        errors.extend(exc.messages)
        checkpoint = None
    fmt, table, chart = request.GET.get("format", ""), request.GET.get("table", ""), request.GET.get("chart", "")
    context: dict[str, Any] = {"dataset": dataset, "filters": filters, "options": options, "errors": errors}
    if errors:
        if fmt:
            return JsonResponse({"detail": errors}, status=400)
        return render(request, _template(request), context, status=400)
    metrics = agreement_for_dataset(
        dataset=dataset,
        checkpoint=checkpoint,
        split=filters["split"],
        profile=filters["profile"],
        reviewer=filters["reviewer"],
        response_model=filters["response_model"],
        include_plots=fmt in ("", "svg"),
        viewer=request.user,
        scoped=scoped,
    )
    slug = f"metrics-{dataset.pk}"
    if fmt in ("csv", "json"):
        if table:
            tables = metric_tables(metrics)  # downloads only: the page draws its tables from the metrics
            if table not in tables:
                return JsonResponse({"detail": [f"Unknown table {table!r}: one of {', '.join(tables)}."]}, status=400)
            return _download(table, tables[table], fmt, slug)
        if fmt == "json":
            return _download("all", metrics, "json", slug)
        return JsonResponse({"detail": ["Name a table for CSV: ?table=statistics&format=csv."]}, status=400)
    chosen = {k: v for k, v in filters.items() if v}
    drawn = charts.dashboard(metrics)
    by_key = charts.dashboard_charts(drawn)
    for key, drawable in by_key.items():
        if drawable is not None:
            drawable["svg_url"] = "?" + urlencode({**chosen, "chart": key, "format": "svg"})
            drawable["file_name"] = f"{slug}-{key}"
    if fmt == "svg":
        if chart not in by_key:
            return JsonResponse({"detail": [f"Unknown chart {chart!r}: one of {', '.join(by_key)}."]}, status=400)
        figure = by_key[chart]
        if figure is None:
            return JsonResponse({"detail": [f"The {chart} chart has nothing to draw in this view yet."]}, status=404)
        return charts.svg_response(figure)
    context.update({"metrics": metrics, "charts": drawn, "query": urlencode(chosen)})
    return render(request, _template(request), context)


def _template(request: HttpRequest) -> str:
    template = "annotations/dataset_metrics.html"
    if request.htmx:  # type: ignore[attr-defined]
        template += "#metrics-body"
    return template


@admin_required
@require_POST
def dataset_swap_check(request: HttpRequest, pk: int) -> HttpResponse:
    """Queue the swap check of the dataset's pairwise items for the active checkpoint (administrators)."""
    dataset = selectors.dataset_get(user=request.user, pk=pk)
    try:
        result = swap_checks_queue(dataset=dataset, checkpoint=checkpoint_resolve())
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request, f"Queued a swap check of {counted(result.queued, 'pairwise item')} for {result.checkpoint.name}."
        )
    return redirect("dataset-detail", pk=dataset.pk)


@admin_required
@require_POST
def dataset_probe(request: HttpRequest, pk: int) -> HttpResponse:
    """Queue a probe of the dataset's items (`kind`: blank-image, other-image or swap; `sample`: a seeded random sample
    of that many items, empty for all) for the active checkpoint (administrators). Bad input: a message, nothing
    queued."""
    dataset = selectors.dataset_get(user=request.user, pk=pk)
    kind, sample_text = request.POST.get("kind", ""), request.POST.get("sample", "").strip()
    try:
        sample = whole_number(sample_text)
        if sample_text and sample is None:
            raise ValidationError(f"The sample must be a whole number of items, not {sample_text[:40]!r}.")
        result = probes_queue(dataset=dataset, checkpoint=checkpoint_resolve(), kind=kind, sample=sample)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        label = Probe(kind).label
        messages.success(
            request,
            f"Queued the {kind} probe ({label}) of {counted(result.queued, 'item')} for {result.checkpoint.name}.",
        )
    return redirect("dataset-detail", pk=dataset.pk)
