"""Batch imports: upload a data file (and a zip of images), follow the job."""

from __future__ import annotations

from typing import Annotated, Any

from django.http import HttpRequest
from ninja import File, Form, Status
from ninja.files import UploadedFile

from annotations.api.base import api, responses
from annotations.api.schemas import PROFILE_HELP, PROFILE_OR_DEFAULT, Id, ImportFormat, ImportOut
from annotations.models import ImportJob
from annotations.selectors import datasets as selectors
from annotations.services.import_jobs import import_job_create

AUTO = ImportFormat("auto")


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
    response=responses({202: ImportOut}, 403, 404, 409, 422),
    tags=["imports"],
    summary="Upload a batch (multipart: the data file, and a zip of images if its rows name paths)",
    description="Runs in the background: follow `url` or `GET /api/imports/{id}`. The zip is checked whole, as on "
    "the import page and by `import_items`: an entry that escapes the folder or is a link, an archive that expands "
    "past the limit, or a file that is not a zip fails the job with that reason and imports nothing.",
)
def upload_batch(
    request: HttpRequest,
    dataset_id: Id,
    data_file: Annotated[UploadedFile, File(description="The rows: JSONL, CSV, LLaVA JSON or parquet.")],
    images_file: File[UploadedFile] = None,  # type: ignore[assignment]  # optional; `| None` would document null
    format: Form[ImportFormat] = AUTO,
    profile: str = Form("", pattern=PROFILE_OR_DEFAULT, max_length=32, description=PROFILE_HELP),
    update: Form[bool] = False,
    whole_prompt: bool = Form(
        False,
        description="Keep LLaVA JSON / llava-critic-113k critic rows whose prompt is in an unknown shape as "
        "whole-prompt items (with their verdict) instead of refusing them.",
    ),
    judge: str = Form(
        "",
        max_length=200,
        description="The external judge of the verdicts in rows that name none (as `import_items --judge`); "
        "importing verdicts is for administrators.",
    ),
) -> Any:
    dataset = selectors.dataset_get(user=request.user, pk=dataset_id)
    job = import_job_create(
        dataset=dataset,
        user=request.user,  # type: ignore[arg-type]
        data_file=data_file,
        images_file=images_file,
        fmt=format.value,
        profile=profile,
        whole_prompt=whole_prompt,
        judge=judge,
        update=update,
    )
    return Status(202, _import_out(request, job))


@api.get("/imports/{import_id}", response=responses({200: ImportOut}, 403, 404, 422), tags=["imports"])
def get_import(request: HttpRequest, import_id: Id) -> Any:
    return _import_out(request, selectors.import_job_get(user=request.user, pk=import_id))
