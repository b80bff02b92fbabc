"""Batch imports: upload a data file (and a zip of images), follow the job."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import File, Form, Status
from ninja.files import UploadedFile

from annotations.api.base import api
from annotations.api.schemas import ImportOut
from annotations.models import ImportJob
from annotations.selectors import datasets as selectors
from annotations.services.import_jobs import import_job_create


def _import_out(request: HttpRequest, job: ImportJob) -> dict[str, Any]:
    return {
        "id": job.pk,
        "dataset": job.dataset_id,
        "status": job.status,
        "stage": job.stage,
        "rows_done": job.rows_done,
        "rows_total": job.rows_total,
        "report": job.report,
        "error": job.error,
        "url": request.build_absolute_uri(f"/imports/{job.pk}/"),
    }


@api.post(
    "/datasets/{dataset_id}/imports",
    response={202: ImportOut},
    tags=["imports"],
    summary="Upload a batch (multipart: the data file, and a zip of images if its rows name paths)",
)
def upload_batch(
    request: HttpRequest,
    dataset_id: int,
    data_file: File[UploadedFile],
    images_file: File[UploadedFile] | None = None,
    format: Form[str] = "auto",
    profile: Form[str] = "",
    update: Form[bool] = False,
) -> Any:
    dataset = selectors.dataset_get(user=request.user, pk=dataset_id)
    job = import_job_create(
        dataset=dataset,
        user=request.user,  # type: ignore[arg-type]
        data_file=data_file,
        images_file=images_file,
        fmt=format,
        profile=profile,
        update=update,
    )
    return Status(202, _import_out(request, job))


@api.get("/imports/{import_id}", response=ImportOut, tags=["imports"])
def get_import(request: HttpRequest, import_id: int) -> Any:
    return _import_out(request, selectors.import_job_get(user=request.user, pk=import_id))
