"""Datasets: list, create (administrators), progress."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Status

from annotations.api.auth import ADMIN
from annotations.api.base import api, responses
from annotations.api.schemas import DatasetIn, DatasetOut, Id, ProgressOut
from annotations.models import HumanVerdict
from annotations.selectors import datasets as selectors
from annotations.selectors.judging import critic_progress
from annotations.services.datasets import dataset_create
from annotations.services.judging import checkpoint_from_settings


@api.get("/datasets", response=responses({200: list[DatasetOut]}, 403), tags=["datasets"])
def list_datasets(request: HttpRequest) -> Any:
    return selectors.dataset_list(user=request.user)


@api.post(
    "/datasets",
    response=responses({201: DatasetOut}, 403, 409, 422),
    tags=["datasets"],
    summary="Create a dataset (administrators); 409 if the name is taken",
    auth=ADMIN,
)
def create_dataset(request: HttpRequest, payload: DatasetIn) -> Any:
    fields = payload.model_dump(mode="json")
    return Status(201, dataset_create(created_by=request.user, **fields))  # type: ignore[arg-type]


@api.get("/datasets/{dataset_id}/progress", response=responses({200: ProgressOut}, 403, 404, 422), tags=["datasets"])
def dataset_progress(request: HttpRequest, dataset_id: Id) -> Any:
    dataset = selectors.dataset_get(user=request.user, pk=dataset_id)
    progress = critic_progress(dataset=dataset, checkpoint=checkpoint_from_settings(), viewer=request.user)
    return {
        "items": progress.items,
        "checkpoint": progress.checkpoint.name if progress.checkpoint else None,
        "critic_done": progress.done,
        "critic_failed": progress.failed,
        "critic_pending": progress.pending,
        "critic_forced": progress.forced,
        "human_verdicts": HumanVerdict.objects.filter(item__dataset=dataset).count(),
    }
