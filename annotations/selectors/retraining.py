"""Reads for the retraining pages: jobs and whether any is running (the loss charts: annotations.charts.loss)."""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from annotations.models import JobStatus, RetrainingJob


def retraining_job_list() -> QuerySet[RetrainingJob]:
    return RetrainingJob.objects.select_related("export__dataset", "base", "child", "created_by", "promoted_by")


def retraining_job_get(*, pk: int) -> RetrainingJob:
    return get_object_or_404(retraining_job_list(), pk=pk)


def any_job_running() -> bool:
    return RetrainingJob.objects.filter(status__in=[JobStatus.QUEUED, JobStatus.RUNNING]).exists()
