"""Checkpoint pages (administrators only): the checkpoints, and each one's page with its drift audits (the same
checkpoint judged at nf4, int8 and full precision on a sample) and the form that starts one."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from annotations.forms_drift import DriftAuditForm
from annotations.models import CriticCheckpoint
from annotations.permissions import admin_required
from annotations.selectors.drift import drift_audit_running, drift_reports
from annotations.services.drift import drift_audit_create


@admin_required
@require_GET
def checkpoint_list(request: HttpRequest) -> HttpResponse:
    checkpoints = CriticCheckpoint.objects.annotate(audits=Count("drift_audits")).order_by("-is_active", "name")
    return render(request, "annotations/checkpoint_list.html", {"checkpoints": checkpoints})


@admin_required
@require_http_methods(["GET", "POST"])
def checkpoint_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: the checkpoint, its drift audits (the fragment polls itself while one runs). POST: start an audit."""
    checkpoint = get_object_or_404(CriticCheckpoint, pk=pk)
    form = DriftAuditForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                audit = drift_audit_create(
                    checkpoint=checkpoint,
                    dataset=form.cleaned_data["dataset"],
                    quantizations=form.cleaned_data["quantizations"],
                    sample=form.cleaned_data["sample"],
                    seed=form.cleaned_data["seed"],
                    created_by=request.user,  # type: ignore[arg-type]
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, f"Drift audit {audit.pk} queued on the critic worker.")
                return redirect("checkpoint-detail", pk=checkpoint.pk)
        status = 400
    context = {
        "checkpoint": checkpoint,
        "form": form,
        "audits": [(report, _stages(report)) for report in drift_reports(checkpoint=checkpoint)],
        "polling": drift_audit_running(checkpoint=checkpoint),
    }
    template = "annotations/checkpoint_detail.html"
    if request.htmx and request.method == "GET":  # type: ignore[attr-defined]
        template += "#drift-audits"
    return render(request, template, context, status=status)


def _stages(report: dict[str, Any]) -> list[tuple[str, dict[str, int], dict[str, Any] | None]]:
    """Each quantization's line of the audit's table: its counts and how it was loaded (None: not yet)."""
    return [(q, counts, report["loaded"].get(q)) for q, counts in report["progress"].items()]
