"""Training exports (administrators): create, follow, download."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.http import FileResponse, HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Status
from ninja.errors import HttpError

from annotations.api.auth import admin_only
from annotations.api.base import api
from annotations.api.schemas import ExportIn, ExportOut
from annotations.models import TrainingExport
from annotations.selectors import datasets as selectors
from annotations.selectors.judging import checkpoint_named
from annotations.services.exports import export_data_file, export_file, training_export_queue


def _export_out(request: HttpRequest, export: TrainingExport) -> dict[str, Any]:
    done = export.status == "done"
    return {
        "id": export.pk,
        "number": export.number,
        "dataset": export.dataset_id,
        "format": export.format,
        "status": export.status,
        "items_done": export.items_done,
        "items_total": export.items_total,
        "filters": export.filters,
        "manifest": export.manifest,
        "error": export.error,
        "url": request.build_absolute_uri(f"/api/exports/{export.pk}"),
        "download_url": request.build_absolute_uri(f"/api/exports/{export.pk}/file") if done else None,
    }


@api.post(
    "/datasets/{dataset_id}/exports",
    response={202: ExportOut},
    tags=["exports"],
    summary="Export corrected disagreements as training rows (administrators); runs in the background",
)
def create_export(request: HttpRequest, dataset_id: int, payload: ExportIn) -> Any:
    admin_only(request)
    dataset = selectors.dataset_get(user=request.user, pk=dataset_id)
    checkpoint = None
    if payload.checkpoint:
        try:
            checkpoint = checkpoint_named(name=payload.checkpoint)
        except ValidationError as exc:
            raise ValidationError({"checkpoint": exc.messages}) from None
    merge_with = ""
    if payload.merge_with_export is not None:
        merge = TrainingExport.objects.filter(number=payload.merge_with_export, status="done").first()
        if merge is None:
            raise ValidationError({"merge_with_export": [f"No finished export #{payload.merge_with_export}."]})
        if merge.format != payload.format:
            raise ValidationError({"merge_with_export": [f"Export #{merge.number} is {merge.format}."]})
        merge_with = str(export_data_file(export=merge))
    export = training_export_queue(
        dataset=dataset,
        fmt=payload.format,
        user=request.user,
        include_agreements=payload.include_agreements,
        checkpoint=checkpoint,
        merge_with=merge_with,
    )
    return Status(202, _export_out(request, export))


@api.get("/exports/{export_id}", response=ExportOut, tags=["exports"], summary="An export's status and manifest")
def get_export(request: HttpRequest, export_id: int) -> Any:
    admin_only(request)
    return _export_out(request, get_object_or_404(TrainingExport, pk=export_id))


@api.get("/exports/{export_id}/file", tags=["exports"], summary="Download an export's data file (or ?name=...)")
def download_export(request: HttpRequest, export_id: int, name: str = "") -> FileResponse:
    admin_only(request)
    export = get_object_or_404(TrainingExport, pk=export_id)
    try:
        path = export_file(export=export, name=name or export.manifest.get("data_file", ""))
    except ValueError as exc:
        raise HttpError(404, str(exc)) from None
    return FileResponse(path.open("rb"), as_attachment=True, filename=f"export-{export.number}-{path.name}")
