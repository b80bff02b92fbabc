"""Celery tasks of the `default` queue: thin, they hand the job id to a service."""

from __future__ import annotations

from celery import shared_task

from annotations.services.import_jobs import IMPORT_TASK, import_job_run


@shared_task(name=IMPORT_TASK, acks_late=True)
def import_run(job_id: int) -> str:
    job = import_job_run(job_id=job_id)
    return job.status if job is not None else "already taken"
