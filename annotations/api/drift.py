"""Drift audits (administrators): a checkpoint judged at nf4, int8 and full precision on a sample, and the agreement
between its verdicts at each (the JSON of the checkpoint page's drift section, annotations.selectors.drift)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Query, Status
from ninja.errors import HttpError

from annotations.api.auth import ADMIN
from annotations.api.base import api, checkpoint_or_404, responses
from annotations.api.schemas import DriftAuditIn, Id
from annotations.models import CriticCheckpoint, DriftAudit
from annotations.selectors import datasets as selectors
from annotations.selectors.drift import drift_report, drift_reports
from annotations.services.drift import drift_audit_create


@api.get(
    "/drift-audits",
    response=responses({200: dict[str, Any]}, 403, 404, 422),
    tags=["drift"],
    auth=ADMIN,
    summary="A checkpoint's drift audits, newest first, each with its agreement figures (administrators)",
    description="404: no such checkpoint (or none named and none active). Each audit: {id, dataset, status, "
    "quantizations, reference, items, progress, loaded, unavailable, pairs: [{reference, other, pointwise: {n, "
    "pearson, mean_abs_difference, flip_rate}, pairwise: {n, cohen_kappa, flip_rate, confusion_matrix}}], failures}.",
)
def list_drift_audits(
    request: HttpRequest,
    checkpoint: str = Query("", max_length=200, description="A checkpoint's name; empty: the active one."),
) -> Any:
    chosen = checkpoint_or_404(checkpoint) if checkpoint else CriticCheckpoint.objects.filter(is_active=True).first()
    if chosen is None:
        raise HttpError(404, "No active checkpoint: name one.")
    return {"checkpoint": chosen.name, "quantization": chosen.quantization, "audits": drift_reports(checkpoint=chosen)}


@api.get(
    "/drift-audits/{audit_id}",
    response=responses({200: dict[str, Any]}, 403, 404, 422),
    tags=["drift"],
    auth=ADMIN,
    summary="One drift audit and its agreement figures (administrators)",
    description="404: no such audit.",
)
def get_drift_audit(request: HttpRequest, audit_id: Id) -> Any:
    audit = get_object_or_404(DriftAudit.objects.select_related("checkpoint", "dataset"), pk=audit_id)
    return drift_report(audit=audit)


@api.post(
    "/datasets/{dataset_id}/drift-audits",
    response=responses({202: dict[str, Any]}, 403, 404, 409, 422),
    tags=["drift"],
    auth=ADMIN,
    summary="Queue a drift audit: a sample of the dataset judged by the checkpoint at each quantization "
    "(administrators)",
    description="404: no such dataset or checkpoint; 409: the checkpoint is an external judge, or the dataset has "
    "no items. Its verdicts never count as the checkpoint's critic verdicts.",
)
def create_drift_audit(request: HttpRequest, dataset_id: Id, payload: DriftAuditIn) -> Any:
    dataset = selectors.dataset_get(user=request.user, pk=dataset_id)
    audit = drift_audit_create(
        checkpoint=checkpoint_or_404(payload.checkpoint),
        dataset=dataset,
        quantizations=[q.value for q in payload.quantizations],
        sample=payload.sample,
        seed=payload.seed,
        created_by=request.user,  # type: ignore[arg-type]
    )
    return Status(202, drift_report(audit=audit))
