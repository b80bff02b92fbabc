"""Judging: critic verdict rows are the jobs. A row's status moves queued -> running -> done/failed only by
guarded updates here, so a repeated or late message changes nothing; the broker only wakes workers up."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from annotations.models import CriticCheckpoint, CriticVerdict, Dataset, Image, Item, JobStatus, Kind, Probe
from annotations.selectors.images import NoRendition, image_normalized_path, item_images, more_images_prefetch
from annotations.selectors.judging import checkpoint_named
from annotations.services.verdict_summary import critic_disagreement_refresh
from annotations.trust.planning import verdict_uncertainty
from critic_worker.checkpoint_info import is_random_weight_critic

JUDGE_TASK = "critic_worker.tasks.judge_batch"


# -- checkpoints ------------------------------------------------------------------------------------------------


def checkpoint_name_for(*, model: str, quantization: str) -> str:
    base = Path(model).name if Path(model).exists() else model
    return f"{base} [{quantization}]"


def checkpoint_from_settings() -> CriticCheckpoint | None:
    """The active checkpoint; when there is none, the one CRITIC_MODEL names (registered and made active)."""
    active = CriticCheckpoint.objects.filter(is_active=True).first()
    if active is not None or not settings.CRITIC_MODEL:
        return active
    model, quantization = settings.CRITIC_MODEL, settings.CRITIC_QUANTIZATION
    with transaction.atomic():
        checkpoint, _ = CriticCheckpoint.objects.get_or_create(
            name=checkpoint_name_for(model=model, quantization=quantization),
            defaults={"model": model, "quantization": quantization, "is_demo": is_random_weight_critic(model)},
        )
        if not CriticCheckpoint.objects.select_for_update().filter(is_active=True).exists():
            checkpoint.is_active = True
            checkpoint.save(update_fields=["is_active"])
    return CriticCheckpoint.objects.filter(is_active=True).first()


def checkpoint_resolve(*, name: str = "") -> CriticCheckpoint:
    """The checkpoint called `name`, or the active one; a ValidationError that says what to do otherwise."""
    if name:
        found = checkpoint_named(name=name)
        if found.is_external:
            raise ValidationError(f"{name!r} is an external judge: its verdicts are imported, not computed here.")
        return found
    active = checkpoint_from_settings()
    if active is None:
        raise ValidationError("No critic is configured: set CRITIC_MODEL, or activate a checkpoint in the admin.")
    return active


# -- queueing ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueResult:
    checkpoint: CriticCheckpoint
    queued: int
    batches: int
    verdict_ids: list[int] = field(default_factory=list)


def verdicts_wake(verdict_ids: list[int]) -> int:
    """Wake workers up for these verdicts, in batches, once the transaction that queued them has committed."""
    from webapp.celery import app  # the broker connection, not the model: the web stays light

    size = max(1, settings.CRITIC_BATCH_SIZE)
    batches = [verdict_ids[i : i + size] for i in range(0, len(verdict_ids), size)]

    def send() -> None:
        for batch in batches:
            app.send_task(JUDGE_TASK, args=[batch])

    transaction.on_commit(send)
    return len(batches)


def verdicts_queue_new_items(*, dataset: Dataset) -> QueueResult | None:
    """After an upload or an import: queue the dataset's items that have no verdict of the active critic yet, when
    the dataset says so (`judge_new_items`, on by default) and a critic is configured; None when nothing was asked.
    Failed verdicts are left for a person to retry (the dataset page's button)."""
    if not dataset.judge_new_items:
        return None
    checkpoint = checkpoint_from_settings()
    if checkpoint is None or checkpoint.is_external:
        return None
    return verdicts_queue(dataset=dataset, checkpoint=checkpoint, only_missing=True, retry_failed=False)


def verdicts_queue(
    *,
    dataset: Dataset,
    checkpoint: CriticCheckpoint,
    only_missing: bool = True,
    retry_failed: bool = True,
    item_ids: list[int] | None = None,
    wake: bool = True,
) -> QueueResult:
    """Queue the dataset's items for the checkpoint: those without a finished verdict (only_missing), or all.
    `retry_failed=False` leaves failed verdicts as they are (only items never queued are added); `item_ids`
    narrows it to those items (the item table's selection); `wake=False` sends no message (``judge --inline``
    claims the rows itself; the sweeper finds any it leaves)."""
    if checkpoint.is_external:
        raise ValidationError(f"{checkpoint.name!r} is an external judge: its verdicts are imported.")
    now = timezone.now()
    with transaction.atomic():
        judged = CriticVerdict.objects.filter(item=OuterRef("pk"), checkpoint=checkpoint, probe="")
        items = Item.objects.filter(dataset=dataset)
        if item_ids is not None:
            items = items.filter(pk__in=item_ids)
        missing = items.exclude(Exists(judged))
        CriticVerdict.objects.bulk_create(
            [
                CriticVerdict(item_id=pk, checkpoint=checkpoint, profile=profile, queued_at=now)
                for pk, profile in missing.values_list("pk", "profile")
            ],
            ignore_conflicts=True,  # a concurrent request queued some already: the unique constraint decides
        )
        redo = CriticVerdict.objects.filter(item__in=items, checkpoint=checkpoint, probe="")
        redo = redo.filter(status=JobStatus.FAILED) if only_missing else redo.exclude(status=JobStatus.RUNNING)
        if retry_failed or not only_missing:
            redo.exclude(queued_at=now).update(**verdict_requeue_fields(now))
        ids = list(
            CriticVerdict.objects.filter(
                item__dataset=dataset, checkpoint=checkpoint, status=JobStatus.QUEUED, queued_at=now, probe=""
            )
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        batches = verdicts_wake(ids) if wake else 0
    return QueueResult(checkpoint=checkpoint, queued=len(ids), batches=batches, verdict_ids=ids)


def swap_checks_queue(*, dataset: Dataset, checkpoint: CriticCheckpoint) -> QueueResult:
    """The swap check: the swap probe of every pairwise item (each judged again with its two responses exchanged,
    to measure how often the preference follows the order rather than the answers). See probes_queue."""
    from annotations.services.probes import probes_queue  # probes builds on this module's queueing

    if not checkpoint.is_external and not Item.objects.filter(dataset=dataset, kind=Kind.PAIRWISE).exists():
        return QueueResult(checkpoint=checkpoint, queued=0, batches=0)  # nothing to swap: as before probes, no error
    return probes_queue(dataset=dataset, checkpoint=checkpoint, kind=Probe.SWAP)


def verdict_requeue_fields(now: Any) -> dict[str, Any]:
    """The fields of a verdict put back in the queue: its earlier result, if any, is cleared."""
    return {
        "status": JobStatus.QUEUED,
        "queued_at": now,
        "claim": "",
        "score": None,
        "preference": None,
        "confidence": None,
        "probabilities": {},
        "expected_score": None,
        "justification": "",
        "raw_output": "",
        "prompt": "",
        "forced": False,
        "error": "",
        "started_at": None,
        "heartbeat_at": None,
        "finished_at": None,
    }


# -- the worker's side ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VerdictJob:
    """What a worker needs to judge one item: plain values, no ORM objects."""

    verdict_id: int
    checkpoint_id: int
    model: str
    revision: str
    quantization: str
    profile: str
    image_paths: tuple[str, ...]  # each image's normalised rendition (PNG), in order ("" for one that has none)
    question: str
    response_a: str
    response_b: str
    reference: str
    context: tuple[tuple[str, str], ...] = ()  # the item's earlier turns (PromptInput.context)
    # "" for the item's verdict, else the probe: swap (response_a and response_b above are already exchanged),
    # blank-image (the worker shows white images of the pictures' sizes), other-image (every path is the other one's)
    probe: str = ""

    @property
    def swapped(self) -> bool:
        """A swap probe: its verdict is stored back in the item's own order."""
        return self.probe == Probe.SWAP

    @property
    def blank_image(self) -> bool:
        """A blank-image probe: the critic is shown white pictures of the item's pictures' sizes."""
        return self.probe == Probe.BLANK_IMAGE


@dataclass(frozen=True)
class Claim:
    token: str
    jobs: list[VerdictJob]


def verdicts_claim(*, verdict_ids: list[int], worker: str) -> Claim:
    """Move these verdicts from queued to running for this worker; those not queued any more are not taken."""
    token, now = uuid.uuid4().hex, timezone.now()
    CriticVerdict.objects.filter(pk__in=verdict_ids, status=JobStatus.QUEUED).update(
        status=JobStatus.RUNNING,
        claim=token,
        worker=worker,
        started_at=now,
        heartbeat_at=now,
        attempts=F("attempts") + 1,
    )
    rows = (
        CriticVerdict.objects.filter(claim=token, status=JobStatus.RUNNING)
        .select_related("item__image", "checkpoint", "probe_image")
        .prefetch_related(more_images_prefetch("item__"))
    )
    jobs = [
        verdict_job(
            item=v.item,
            checkpoint=v.checkpoint,
            profile=v.profile,
            verdict_id=v.pk,
            probe=v.probe,
            probe_image=v.probe_image,
        )
        for v in rows.order_by("pk")
    ]
    return Claim(token=token, jobs=jobs)


def _rendition_path(image: Image) -> str:
    try:
        return str(image_normalized_path(image=image))
    except NoRendition:
        return ""


def verdict_job(
    *,
    item: Item,
    checkpoint: CriticCheckpoint,
    profile: str = "",
    verdict_id: int = 0,
    probe: str = "",
    probe_image: Image | None = None,
) -> VerdictJob:
    """What the critic is given for `item` under `checkpoint` (and what ``critic_input`` shows): the one place an
    item becomes a job, for the worker and for the inspection command alike. `profile` defaults to the item's;
    `probe` and `probe_image` (an other-image probe's picture) say what a probe changes (see Probe)."""
    swapped = probe == Probe.SWAP
    pictures = item_images(item=item)
    if probe == Probe.OTHER_IMAGE and probe_image is not None:  # another item's picture in place of each of them
        pictures = [probe_image] * len(pictures)
    return VerdictJob(
        verdict_id=verdict_id,
        checkpoint_id=checkpoint.pk,
        model=checkpoint.model,
        revision=checkpoint.revision,
        quantization=checkpoint.quantization,
        profile=profile or item.profile,
        image_paths=tuple(_rendition_path(picture) for picture in pictures),
        question=item.question,
        # A swap check shows the critic the item's second response first.
        response_a=item.response_b if swapped else item.response_a,
        response_b=item.response_a if swapped else item.response_b,
        reference=item.reference,
        context=item.context_turns,
        probe=probe,
    )


@dataclass(frozen=True)
class VerdictResult:
    score: float | None
    preference: str | None
    confidence: float | None
    probabilities: dict[str, float]
    expected_score: float | None
    justification: str
    raw_output: str
    forced: bool
    latency_ms: float
    prompt: str = ""  # the whole prompt the critic was given


def _storable(text: str) -> str:
    """Model output as text PostgreSQL stores: a NUL byte (which random or broken models do emit) is replaced."""
    return text.replace("\x00", "\ufffd")


SWAP = {"A": "B", "B": "A"}


def unswap(result: VerdictResult) -> VerdictResult:
    """A swap check's result in the item's own order: the critic's "first response" was the item's B."""
    return replace(
        result,
        preference=SWAP.get(result.preference or "", result.preference),
        probabilities={SWAP.get(k, k): p for k, p in result.probabilities.items()},
    )


def verdict_record(*, verdict_id: int, claim: str, result: VerdictResult, swapped: bool = False) -> bool:
    """Write a finished verdict, only if this claim still holds it; False when it did not (nothing written).
    A swap check's verdict (swapped) is stored in the item's own order."""
    if swapped:
        result = unswap(result)
    with transaction.atomic():
        written = CriticVerdict.objects.filter(pk=verdict_id, claim=claim, status=JobStatus.RUNNING).update(
            status=JobStatus.DONE,
            score=result.score,
            preference=result.preference,
            confidence=result.confidence,
            probabilities=result.probabilities,
            expected_score=result.expected_score,
            uncertainty=verdict_uncertainty(
                result.probabilities, result.preference if result.preference is not None else result.score
            ),
            justification=_storable(result.justification),
            raw_output=_storable(result.raw_output),
            prompt=_storable(result.prompt),
            forced=result.forced,
            latency_ms=result.latency_ms,
            error="",
            finished_at=timezone.now(),
        )
        if written:
            item_id, probe = CriticVerdict.objects.filter(pk=verdict_id).values_list("item_id", "probe").get()
            if not probe:  # the item's own verdict: do people disagree with it?
                critic_disagreement_refresh(item_ids=[item_id])
    return bool(written)


def verdict_fail(*, verdict_id: int, claim: str, error: str) -> bool:
    """A permanent failure (the item itself cannot be judged): failed, with the reason shown to users."""
    return bool(
        CriticVerdict.objects.filter(pk=verdict_id, claim=claim, status=JobStatus.RUNNING).update(
            status=JobStatus.FAILED, error=_storable(error[:2000]), finished_at=timezone.now()
        )
    )


def verdicts_release(*, claim: str, error: str = "") -> int:
    """Give a claim's unfinished verdicts back to the queue (a transient error: the retry takes them again)."""
    return CriticVerdict.objects.filter(claim=claim, status=JobStatus.RUNNING).update(
        status=JobStatus.QUEUED, claim="", error=_storable(error[:2000]), queued_at=timezone.now()
    )


def verdicts_fail_claim(*, claim: str, error: str) -> int:
    """Give up on a claim's unfinished verdicts: failed, with the error (after the last retry)."""
    return CriticVerdict.objects.filter(claim=claim, status=JobStatus.RUNNING).update(
        status=JobStatus.FAILED, error=_storable(error[:2000]), finished_at=timezone.now()
    )


def verdicts_heartbeat(*, claim: str) -> int:
    """The worker holding `claim` is alive: stamp its running verdicts (a thread in the worker calls this every
    CRITIC_HEARTBEAT_EVERY seconds while the batch runs, model loading included). The number stamped."""
    return CriticVerdict.objects.filter(claim=claim, status=JobStatus.RUNNING).update(heartbeat_at=timezone.now())


def _lost(*, now: Any, stuck_after: timedelta, heartbeat_timeout: timedelta) -> Q:
    """Running verdicts whose worker is gone: silent past the heartbeat timeout, or (a row claimed before
    heartbeats, or by a worker that never beat) running past the stuck limit."""
    return Q(status=JobStatus.RUNNING) & (
        Q(heartbeat_at__lt=now - heartbeat_timeout) | Q(heartbeat_at__isnull=True, started_at__lt=now - stuck_after)
    )


def verdicts_sweep(*, stuck_after: timedelta | None = None, heartbeat_timeout: timedelta | None = None) -> int:
    """Requeue verdicts whose worker is lost (its heartbeat silent for CRITIC_HEARTBEAT_TIMEOUT, about two
    minutes) or queued with no message taking them for CRITIC_STUCK_AFTER (a lost message), and wake workers
    for them. A duplicate message is harmless: claims are guarded, and a late worker's write finds its claim gone."""
    stuck_after = stuck_after or timedelta(seconds=settings.CRITIC_STUCK_AFTER)
    heartbeat_timeout = heartbeat_timeout or timedelta(seconds=settings.CRITIC_HEARTBEAT_TIMEOUT)
    now = timezone.now()
    lost = _lost(now=now, stuck_after=stuck_after, heartbeat_timeout=heartbeat_timeout)
    unsent = Q(status=JobStatus.QUEUED, queued_at__lt=now - stuck_after)
    with transaction.atomic():
        ids = list(CriticVerdict.objects.filter(lost | unsent).values_list("pk", flat=True))
        CriticVerdict.objects.filter(pk__in=ids).filter(lost | Q(status=JobStatus.QUEUED)).update(
            status=JobStatus.QUEUED, claim="", heartbeat_at=None, queued_at=now
        )
        verdicts_wake(ids)
    return len(ids)
