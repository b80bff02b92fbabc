"""Celery tasks of the `default` queue: thin, they hand the job id to a service."""

from __future__ import annotations

from celery import shared_task

from annotations.services.exports import EXPORT_TASK, training_export_run
from annotations.services.import_jobs import IMPORT_TASK, import_job_run


@shared_task(name=IMPORT_TASK, acks_late=True)
def import_run(job_id: int) -> str:
    job = import_job_run(job_id=job_id)
    return job.status if job is not None else "already taken"


@shared_task(name=EXPORT_TASK, acks_late=True)
def export_run(export_id: int) -> str:
    export = training_export_run(export_id=export_id)
    return export.status if export is not None else "already taken"
