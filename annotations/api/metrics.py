"""Metrics: critic-human agreement, and the probes: the swap check and the image probes (administrators)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Query, Status

from annotations.api.auth import ADMIN
from annotations.api.base import api, checkpoint_or_404, responses
from annotations.api.schemas import Id, ProbeIn, ProbeOut, ProfileName, SplitName, SwapCheckOut
from annotations.models import CriticCheckpoint
from annotations.selectors import datasets as selectors
from annotations.selectors.metrics import agreement_for_dataset, metric_checkpoints_known
from annotations.services.judging import checkpoint_resolve, swap_checks_queue
from annotations.services.probes import probes_queue


@api.get(
    "/datasets/{dataset_id}/metrics",
    response=responses({200: dict[str, Any]}, 403, 404, 422),
    tags=["metrics"],
    summary="Critic-human agreement with bootstrap 95% intervals (the JSON of `critic_metrics --json`)",
    description="404: no such dataset or checkpoint. Each filter narrows the items; empty: all.",
)
def dataset_metrics(
    request: HttpRequest,
    dataset_id: Id,
    checkpoint: str = Query("", max_length=200, description="A checkpoint's name; empty: the active one."),
    split: Query[SplitName | None] = None,
    profile: Query[ProfileName | None] = None,
    reviewer: str = Query("", max_length=150, description="A reviewer's username."),
    response_model: str = Query("", max_length=200, description="The model that wrote a response."),
) -> Any:
    dataset = selectors.dataset_get(user=request.user, pk=dataset_id)
    chosen: CriticCheckpoint | None
    if checkpoint:  # a reviewer is told only of the checkpoints the dashboard lists to them
        chosen = checkpoint_or_404(checkpoint, metric_checkpoints_known(dataset=dataset, viewer=request.user))
    else:
        chosen = CriticCheckpoint.objects.filter(is_active=True).first()
    return agreement_for_dataset(
        dataset=dataset,
        checkpoint=chosen,
        split=split.value if split else "",
        profile=profile or "",
        reviewer=reviewer,
        response_model=response_model,
        viewer=request.user,
    )


@api.post(
    "/datasets/{dataset_id}/swap-check",
    response=responses({202: SwapCheckOut}, 403, 404, 409, 422),
    tags=["metrics"],
    summary="Queue a swap check of the pairwise items: judged again with A and B exchanged (administrators)",
    description="404: no such dataset or checkpoint; 409: no critic is configured, or the checkpoint is an external "
    "judge (its verdicts are imported, not computed here).",
    auth=ADMIN,
)
def dataset_swap_check(
    request: HttpRequest,
    dataset_id: Id,
    checkpoint: str = Query("", max_length=200, description="A checkpoint's name; empty: the active one."),
) -> Any:
    dataset = selectors.dataset_get(user=request.user, pk=dataset_id)
    if checkpoint:
        checkpoint_or_404(checkpoint)
    result = swap_checks_queue(dataset=dataset, checkpoint=checkpoint_resolve(name=checkpoint))
    return Status(202, {"checkpoint": result.checkpoint.name, "queued": result.queued})


@api.post(
    "/datasets/{dataset_id}/probes",
    response=responses({202: ProbeOut}, 403, 404, 409, 422),
    tags=["metrics"],
    auth=ADMIN,
    summary="Queue a probe of the items: a blank image, another item's image, or the responses swapped "
    "(administrators; JSON: kind, sample, checkpoint)",
    description="The results are the metrics' `probes`. 404: no such dataset or checkpoint; 409: no critic is "
    "configured, the checkpoint is an external judge, no item the probe applies to, or (other-image) fewer than two "
    "different images.",
)
def dataset_probe(request: HttpRequest, dataset_id: Id, payload: ProbeIn) -> Any:
    dataset = selectors.dataset_get(user=request.user, pk=dataset_id)
    if payload.checkpoint:
        checkpoint_or_404(payload.checkpoint)
    kind = payload.kind.value
    result = probes_queue(
        dataset=dataset, checkpoint=checkpoint_resolve(name=payload.checkpoint), kind=kind, sample=payload.sample
    )
    return Status(202, {"checkpoint": result.checkpoint.name, "kind": kind, "queued": result.queued})
