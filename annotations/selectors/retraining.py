"""Reads for the retraining pages: jobs, and the loss curve as the points of an inline SVG polyline."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from annotations.models import JobStatus, RetrainingJob


def retraining_job_list() -> QuerySet[RetrainingJob]:
    return RetrainingJob.objects.select_related("export__dataset", "base", "child", "created_by", "promoted_by")


def retraining_job_get(*, pk: int) -> RetrainingJob:
    return get_object_or_404(retraining_job_list(), pk=pk)


def any_job_running() -> bool:
    return RetrainingJob.objects.filter(status__in=[JobStatus.QUEUED, JobStatus.RUNNING]).exists()


@dataclass(frozen=True)
class LossCurve:
    points: str  # "x,y x,y ..." in the SVG's own coordinates
    width: int
    height: int
    steps: int
    first: float
    last: float
    low: float
    high: float


def loss_curve(*, loss_log: list[dict[str, Any]], width: int = 480, height: int = 140) -> LossCurve | None:
    """The loss per step scaled into a width x height box (the highest loss at the top); None before step 1."""
    losses = [float(entry["loss"]) for entry in loss_log]
    if not losses:
        return None
    low, high = min(losses), max(losses)
    span = (high - low) or 1.0
    last_step = max(len(losses) - 1, 1)
    pad = 4
    points = " ".join(
        f"{pad + (width - 2 * pad) * i / last_step:.1f},{pad + (height - 2 * pad) * (high - loss) / span:.1f}"
        for i, loss in enumerate(losses)
    )
    return LossCurve(points, width, height, len(losses), losses[0], losses[-1], low, high)
