"""Training exports (administrators): create, follow, download."""

from __future__ import annotations

from typing import Any

from django.http import FileResponse, HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Query, Status
from ninja.errors import HttpError

from annotations.api.auth import ADMIN
from annotations.api.base import api, checkpoint_or_404, responses
from annotations.api.schemas import ExportIn, ExportOut, Id
from annotations.models import TrainingExport
from annotations.selectors import datasets as selectors
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
    response=responses({202: ExportOut}, 403, 404, 409, 422),
    tags=["exports"],
    auth=ADMIN,
    summary="Export corrected disagreements as training rows (administrators); runs in the background",
    description="404: no such dataset, checkpoint or finished export to merge with; 409: the export to merge with "
    "is of another format, or there is nothing to export (the detail says which).",
)
def create_export(request: HttpRequest, dataset_id: Id, payload: ExportIn) -> Any:
    dataset = selectors.dataset_get(user=request.user, pk=dataset_id)
    checkpoint = checkpoint_or_404(payload.checkpoint) if payload.checkpoint else None
    fmt = payload.format.value
    merge_with = ""
    if payload.merge_with_export is not None:
        merge = TrainingExport.objects.filter(number=payload.merge_with_export, status="done").first()
        if merge is None:
            raise HttpError(404, f"No finished export #{payload.merge_with_export}.")
        if merge.format != fmt:
            raise HttpError(409, f"Export #{merge.number} is {merge.format}, not {fmt}.")
        merge_with = str(export_data_file(export=merge))
    export = training_export_queue(
        dataset=dataset,
        fmt=fmt,
        user=request.user,
        include_agreements=payload.include_agreements,
        checkpoint=checkpoint,
        merge_with=merge_with,
    )
    return Status(202, _export_out(request, export))


@api.get(
    "/exports/{export_id}",
    response=responses({200: ExportOut}, 403, 404, 422),
    tags=["exports"],
    auth=ADMIN,
    summary="An export's status and manifest",
)
def get_export(request: HttpRequest, export_id: Id) -> Any:
    return _export_out(request, get_object_or_404(TrainingExport, pk=export_id))


@api.get(
    "/exports/{export_id}/file",
    response=responses({}, 403, 404, 422),
    tags=["exports"],
    auth=ADMIN,
    summary="Download an export's data file (or ?name=...)",
    openapi_extra={
        "responses": {
            "200": {
                "description": "The file, as an attachment.",
                "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
            }
        }
    },
)
def download_export(
    request: HttpRequest,
    export_id: Id,
    name: str = Query("", max_length=500, description="A file of the export, as its manifest names it."),
) -> FileResponse:
    export = get_object_or_404(TrainingExport, pk=export_id)
    try:
        path = export_file(export=export, name=name or export.manifest.get("data_file", ""))
    except ValueError as exc:
        raise HttpError(404, str(exc)) from None
    return FileResponse(path.open("rb"), as_attachment=True, filename=f"export-{export.number}-{path.name}")
