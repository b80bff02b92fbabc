"""Imports from the browser and the API run as jobs on the `default` queue, with progress and a report."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from annotations.importers.fields import JUDGE_NAME_CHARS
from annotations.importers.formats import FORMATS
from annotations.models import Dataset, ImportJob, JobStatus
from annotations.services import import_rights
from annotations.services.imports import ImportReport, items_import
from critic_worker.profiles import find_profile, profile_names

IMPORT_TASK = "annotations.tasks.import_run"


def _save(upload: UploadedFile, folder: str) -> str:
    name = Path(upload.name or "upload").name
    return default_storage.save(f"imports/{folder}/{name}", upload)


def import_job_create(
    *,
    dataset: Dataset,
    user: User,
    data_file: UploadedFile,
    images_file: UploadedFile | None = None,
    fmt: str = "auto",
    profile: str = "",
    update: bool = False,
    whole_prompt: bool = False,
    judge: str = "",
) -> ImportJob:
    """Keep the uploaded files and queue the import; the checks of the data itself happen in the job.
    `whole_prompt`: critic rows whose prompt cannot be split are kept whole instead of refused; `judge` names the
    external judge of verdicts in rows that name none (as `import_items --judge`). An import this user may not make
    (update by a reviewer, a judge named as one of this app's critics) is PermissionDenied before anything is kept."""
    judge = judge.strip()
    import_rights.import_request_check(user=user, update=update, judge=judge)
    errors: dict[str, list[str]] = {}
    limit = settings.IMPORT_MAX_FILE_BYTES
    for field_name, upload in (("data_file", data_file), ("images_file", images_file)):
        if upload is not None and (upload.size or 0) > limit:
            errors[field_name] = [f"The file is {upload.size:,} bytes; the limit is {limit:,}."]
    if fmt not in ("auto", *FORMATS):
        errors["format"] = [f"Unknown format {fmt!r}."]
    if profile and find_profile(profile) is None:
        errors["profile"] = [f"Unknown profile {profile!r}; known: {', '.join(profile_names())}."]
    if len(judge) > JUDGE_NAME_CHARS:
        errors["judge"] = [f"A judge's name is at most {JUDGE_NAME_CHARS} characters."]
    if errors:
        raise ValidationError(errors)
    folder = uuid.uuid4().hex
    job = ImportJob.objects.create(
        dataset=dataset,
        created_by=user,
        format=fmt,
        profile=profile,
        update=update,
        whole_prompt=whole_prompt,
        judge=judge,
        data_file=_save(data_file, folder),
        images_file=_save(images_file, folder) if images_file is not None else "",
    )
    from webapp.celery import app

    transaction.on_commit(lambda: app.send_task(IMPORT_TASK, args=[job.pk]))
    return job


def report_as_dict(report: ImportReport) -> dict[str, Any]:
    counts = {f.name: getattr(report, f.name) for f in dataclasses.fields(report) if f.name != "problems"}
    return {**counts, "ok": report.ok, "summary": report.summary(), "problems": [str(p) for p in report.problems]}


def import_job_run(*, job_id: int) -> ImportJob | None:
    """Run a queued import once (a repeated message finds it taken and does nothing)."""
    started = ImportJob.objects.filter(pk=job_id, status=JobStatus.QUEUED)
    if not started.update(status=JobStatus.RUNNING, started_at=timezone.now()):
        return None
    job = ImportJob.objects.select_related("dataset", "created_by").get(pk=job_id)

    def progress(stage: str, done: int, total: int) -> None:
        ImportJob.objects.filter(pk=job_id).update(stage=stage, rows_done=done, rows_total=total)

    images = Path(job.images_file.path) if job.images_file else None
    try:
        report = items_import(
            dataset=job.dataset,
            path=Path(job.data_file.path),
            fmt=job.format,
            images=images,
            profile=job.profile,
            update=job.update,
            whole_prompt=job.whole_prompt,
            judge=job.judge,
            created_by=job.created_by,
            progress=progress,
        )
    except (ValidationError, ValueError) as exc:
        message = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        ImportJob.objects.filter(pk=job_id).update(status=JobStatus.FAILED, error=message, finished_at=timezone.now())
    else:
        ImportJob.objects.filter(pk=job_id).update(
            status=JobStatus.DONE if report.ok else JobStatus.FAILED,
            report=report_as_dict(report),
            error="" if report.ok else report.summary(),
            finished_at=timezone.now(),
        )
    finally:
        for stored in (job.data_file, job.images_file):  # the report stays; the uploaded files go
            if stored:
                stored.delete(save=False)
    job.refresh_from_db()
    return job


LOST = (
    "The import stopped before it finished: the worker running it was lost, or it ran past the task time limit"
    " (CELERY_TASK_TIME_LIMIT). Nothing from it was written; upload the file again."
)


def import_jobs_sweep() -> int:
    """Fail imports still running past the task time limit (their worker died with them: an import writes all or
    nothing, so nothing of theirs is in), removing their uploads; wake workers again for imports still queued after
    CRITIC_STUCK_AFTER (a lost message; a repeat is harmless, starting is guarded). Returns how many it handled."""
    now = timezone.now()
    lost = ImportJob.objects.filter(
        status=JobStatus.RUNNING, started_at__lt=now - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 60)
    )
    failed = 0
    for job in lost:
        if ImportJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(
            status=JobStatus.FAILED, error=LOST, finished_at=now
        ):
            failed += 1
            for stored in (job.data_file, job.images_file):
                if stored:
                    stored.delete(save=False)
    from webapp.celery import app

    waiting = list(
        ImportJob.objects.filter(
            status=JobStatus.QUEUED, created_at__lt=now - timedelta(seconds=settings.CRITIC_STUCK_AFTER)
        ).values_list("pk", flat=True)
    )
    for job_id in waiting:
        app.send_task(IMPORT_TASK, args=[job_id])
    return failed + len(waiting)
