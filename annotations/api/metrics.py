"""Metrics: critic-human agreement, and the swap check (administrators)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Status

from annotations.api.auth import admin_only
from annotations.api.base import api
from annotations.selectors import datasets as selectors
from annotations.selectors.metrics import agreement_for_dataset, metrics_checkpoint
from annotations.services.judging import checkpoint_resolve, swap_checks_queue


@api.get(
    "/datasets/{dataset_id}/metrics",
    response=dict[str, Any],
    tags=["metrics"],
    summary="Critic-human agreement with bootstrap 95% intervals (the JSON of `critic_metrics --json`)",
)
def dataset_metrics(
    request: HttpRequest,
    dataset_id: int,
    checkpoint: str = "",
    split: str = "",
    profile: str = "",
    reviewer: str = "",
    response_model: str = "",
) -> Any:
    dataset = selectors.dataset_get(user=request.user, pk=dataset_id)
    return agreement_for_dataset(
        dataset=dataset,
        checkpoint=metrics_checkpoint(name=checkpoint),
        split=split,
        profile=profile,
        reviewer=reviewer,
        response_model=response_model,
        viewer=request.user,
    )


@api.post(
    "/datasets/{dataset_id}/swap-check",
    response={202: dict[str, Any]},
    tags=["metrics"],
    summary="Queue a swap check of the pairwise items: judged again with A and B exchanged (administrators)",
)
def dataset_swap_check(request: HttpRequest, dataset_id: int, checkpoint: str = "") -> Any:
    admin_only(request)
    dataset = selectors.dataset_get(user=request.user, pk=dataset_id)
    result = swap_checks_queue(dataset=dataset, checkpoint=checkpoint_resolve(name=checkpoint))
    return Status(202, {"checkpoint": result.checkpoint.name, "queued": result.queued})
