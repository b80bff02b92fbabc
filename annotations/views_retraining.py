"""Retraining pages (administrators only): start a job from an export, follow it, promote its child."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from annotations import charts
from annotations.forms_retraining import RetrainForm
from annotations.models import RetrainingJob, TrainingExport
from annotations.permissions import admin_required
from annotations.selectors import retraining as selectors
from annotations.services.retraining import (
    TRAINABLE_FORMATS,
    retraining_base_resolve,
    retraining_job_create,
    retraining_job_promote,
)


@admin_required
@require_http_methods(["GET", "POST"])
def export_retrain(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: the form with the defaults. POST: the same form, then a confirmation of what will run; POST with
    `confirm`: queue the job."""
    export = get_object_or_404(TrainingExport, pk=pk)
    if export.format not in TRAINABLE_FORMATS:
        messages.error(
            request, f"Export #{export.number} is {export.format}: retraining reads llava-json or llava-critic-parquet."
        )
        return redirect("export-list")
    try:
        default_base = retraining_base_resolve(export=export)
    except ValidationError:
        default_base = None
    form = RetrainForm(request.POST or None, initial={"base": default_base})
    context = {"export": export, "form": form, "confirming": False}
    if request.method == "GET" or not form.is_valid():
        return render(request, "annotations/retrain_new.html", context, status=400 if form.is_bound else 200)
    if "edit" in request.POST:
        return render(request, "annotations/retrain_new.html", context)
    if "confirm" not in request.POST:
        context |= {"confirming": True, "base": form.cleaned_data["base"], "options": form.summary()}
        return render(request, "annotations/retrain_new.html", context)
    try:
        job = retraining_job_create(
            export=export,
            base=form.cleaned_data["base"],
            created_by=request.user,  # type: ignore[arg-type]
            options=form.options(),
        )
    except ValidationError as exc:
        form.add_error(None, exc)
        return render(request, "annotations/retrain_new.html", context, status=400)
    messages.success(request, f"Retraining {job.base.name} on export #{export.number}: queued on the critic worker.")
    return redirect("retraining-detail", pk=job.pk)


@admin_required
@require_GET
def retraining_list(request: HttpRequest) -> HttpResponse:
    jobs = list(selectors.retraining_job_list()[:100])
    curves = {job.pk: charts.loss_sparkline(job.loss_log) for job in jobs}
    context = {"rows": [(job, curves[job.pk]) for job in jobs], "polling": selectors.any_job_running()}
    template = "annotations/retraining_list.html"
    if request.htmx:  # type: ignore[attr-defined]
        template += "#job-table"
    return render(request, template, context)


def _loss_chart(job: RetrainingJob) -> dict[str, Any] | None:
    chart = charts.loss_chart(job.loss_log, job=job.pk)
    if chart is not None:
        chart["svg_url"] = reverse("retraining-loss-svg", args=[job.pk])
        chart["file_name"] = f"retraining-{job.pk}-loss"
    return chart


@admin_required
@require_GET
def retraining_loss_svg(request: HttpRequest, pk: int) -> HttpResponse:
    """The job's training loss chart as an SVG file; 404 before its first step."""
    job = selectors.retraining_job_get(pk=pk)
    chart = _loss_chart(job)
    if chart is None:
        raise Http404("This job has no training step yet.")
    return charts.svg_response(chart)


@admin_required
@require_GET
def retraining_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = selectors.retraining_job_get(pk=pk)
    template = "annotations/retraining_detail.html"
    if request.htmx:  # type: ignore[attr-defined]
        template += "#job-status"
    return render(request, template, {"job": job, "loss": _loss_chart(job)})


@admin_required
@require_POST
def retraining_promote(request: HttpRequest, pk: int) -> HttpResponse:
    job = selectors.retraining_job_get(pk=pk)
    try:
        child = retraining_job_promote(
            job=job,
            user=request.user,  # type: ignore[arg-type]
            override_reason=request.POST.get("reason", ""),
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        response = render(
            request,
            "annotations/retraining_detail.html",
            {"job": job, "loss": _loss_chart(job), "reason": request.POST.get("reason")},
            status=400,
        )
        return response
    messages.success(request, f"{child.name} is now the active checkpoint.")
    return redirect("retraining-detail", pk=job.pk)
