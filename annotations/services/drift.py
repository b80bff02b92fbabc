"""Drift audits: judge a sample of a dataset's items with one checkpoint at several quantizations (nf4, int8, full
precision), so that quantization error is measured on its own and not taken for the critic's error.

An audit row is the job's state, as verdict rows are for judging: queued -> running -> done / failed, moved on only
by guarded updates here, so a repeated message starts nothing twice. Its verdicts are DriftVerdict rows, never
CriticVerdict rows: nothing that reads the critic's verdicts (metrics, exports, the reveal, the desk) sees them.
The critic worker runs an audit (critic_worker/tasks_drift.py), loading the checkpoint at each quantization in turn;
``manage.py drift --inline`` runs the same code in its own process.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from annotations.models import CriticCheckpoint, Dataset, DriftAudit, DriftVerdict, Item, JobStatus
from annotations.services.judging import VerdictJob, VerdictResult, verdict_job

DRIFT_TASK = "critic_worker.tasks_drift.drift_audit_run"  # routed to the `critic` queue in webapp/celery.py
QUANTIZATIONS = ("none", "int8", "nf4")  # full precision first: the reference the others are compared with
MAX_SAMPLE = 2000  # items per audit: each is judged once per quantization
DEFAULT_SAMPLE = 100


def quantizations_parse(text: str | list[str]) -> list[str]:
    """'nf4,int8,none' (or a list) as the audit's quantizations: known, distinct, at least two, full precision
    first when present. ValidationError naming the bad part otherwise."""
    names = [q.strip().lower() for q in (text.split(",") if isinstance(text, str) else text) if q.strip()]
    unknown = [q for q in names if q not in QUANTIZATIONS]
    if unknown:
        raise ValidationError(f"Unknown quantization {unknown[0]!r}: choose from nf4, int8, none.")
    if len(set(names)) < 2:
        raise ValidationError("A drift audit compares at least two quantizations (e.g. nf4,none).")
    return [q for q in QUANTIZATIONS if q in names]


def drift_audit_create(
    *,
    checkpoint: CriticCheckpoint,
    dataset: Dataset,
    quantizations: list[str],
    sample: int = DEFAULT_SAMPLE,
    seed: int | None = None,
    created_by: AbstractBaseUser | None = None,
    wake: bool = True,
) -> DriftAudit:
    """Draw `sample` of the dataset's items (seeded, uniformly, all of them when it has fewer) and queue each for
    each quantization; with `wake`, a critic worker is told after commit. ValidationError (nothing written) for an
    external judge, unknown or fewer than two quantizations, a sample outside 1..MAX_SAMPLE, or an empty dataset."""
    if checkpoint.is_external:
        raise ValidationError(
            f"{checkpoint.name!r} is an external judge: its verdicts are imported, so it cannot be run again at "
            "another quantization."
        )
    chosen = quantizations_parse(quantizations)
    if not 1 <= sample <= MAX_SAMPLE:
        raise ValidationError(f"The sample must be between 1 and {MAX_SAMPLE} items, not {sample}.")
    if seed is not None and not 0 <= seed < 2**31:
        raise ValidationError("The seed must be a whole number from 0 to 2147483647.")
    seed = random.SystemRandom().randrange(2**31) if seed is None else seed
    ids = list(Item.objects.filter(dataset=dataset).order_by("pk").values_list("pk", "profile"))
    if not ids:
        raise ValidationError(f"Dataset {dataset.name!r} has no items to audit.")
    drawn = sorted(random.Random(seed).sample(ids, min(sample, len(ids))))
    with transaction.atomic():
        audit = DriftAudit.objects.create(
            checkpoint=checkpoint,
            dataset=dataset,
            quantizations=chosen,
            sample_size=sample,
            seed=seed,
            status=JobStatus.QUEUED,
            created_by=created_by if created_by is not None and created_by.is_authenticated else None,  # type: ignore[misc]
        )
        DriftVerdict.objects.bulk_create(
            DriftVerdict(audit=audit, item_id=pk, profile=profile, quantization=q)
            for q in chosen
            for pk, profile in drawn
        )
        if wake:
            transaction.on_commit(lambda: _send(audit.pk))
    return audit


def _send(audit_id: int) -> None:
    from webapp.celery import app

    app.send_task(DRIFT_TASK, args=[audit_id])


# -- the worker's side ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DriftStage:
    """One quantization's work: the jobs still to judge, each job's verdict_id a DriftVerdict's id."""

    quantization: str
    jobs: list[VerdictJob]


@dataclass(frozen=True)
class DriftPlan:
    audit_id: int
    stages: list[DriftStage]  # the checkpoint's own quantization last: the worker ends holding its usual model


def drift_audit_start(*, audit_id: int, worker: str) -> DriftPlan | None:
    """Move a queued audit to running for this worker and say what is left to judge; None when it is not queued
    (a repeated message, or another worker has it). Verdicts already done (an audit taken back after its worker
    was lost) are not judged again."""
    now = timezone.now()
    taken = DriftAudit.objects.filter(pk=audit_id, status=JobStatus.QUEUED).update(
        status=JobStatus.RUNNING, worker=worker, started_at=now, heartbeat_at=now, error=""
    )
    if not taken:
        return None
    audit = DriftAudit.objects.select_related("checkpoint").get(pk=audit_id)
    own = audit.checkpoint.quantization
    order = sorted(audit.quantizations, key=lambda q: (q == own, QUANTIZATIONS.index(q)))
    rows = DriftVerdict.objects.filter(audit=audit, status=JobStatus.QUEUED).select_related("item__image")
    by_quantization: dict[str, list[VerdictJob]] = {q: [] for q in order}
    for row in rows.order_by("item_id"):
        job = verdict_job(item=row.item, checkpoint=audit.checkpoint, profile=row.profile, verdict_id=row.pk)
        by_quantization[row.quantization].append(replace(job, quantization=row.quantization))
    return DriftPlan(audit_id, [DriftStage(q, jobs) for q, jobs in by_quantization.items() if jobs])


def drift_stage_begin(*, audit_id: int, quantization: str) -> None:
    DriftAudit.objects.filter(pk=audit_id, status=JobStatus.RUNNING).update(
        stage=quantization, heartbeat_at=timezone.now()
    )


def drift_stage_loaded(*, audit_id: int, quantization: str, loaded: dict[str, Any]) -> None:
    """Record how the model was loaded at this quantization (layer type, memory), or why it could not be."""
    with transaction.atomic():
        audit = DriftAudit.objects.select_for_update().get(pk=audit_id)
        audit.loaded = {**audit.loaded, quantization: loaded}
        audit.save(update_fields=["loaded"])


def drift_stage_unavailable(*, audit_id: int, quantization: str, reason: str) -> int:
    """The checkpoint cannot be loaded at this quantization here (bitsandbytes or the device refuses): its
    verdicts fail with the reason, which the page and the JSON show in place of its figures."""
    drift_stage_loaded(audit_id=audit_id, quantization=quantization, loaded={"unavailable": reason[:2000]})
    return DriftVerdict.objects.filter(audit_id=audit_id, quantization=quantization, status=JobStatus.QUEUED).update(
        status=JobStatus.FAILED, error=f"could not load the checkpoint at {quantization}: {reason}"[:2000]
    )


def drift_verdict_record(*, verdict_id: int, result: VerdictResult) -> bool:
    """Write one judged verdict, only while it is queued (a verdict is never written twice)."""
    return bool(
        DriftVerdict.objects.filter(pk=verdict_id, status=JobStatus.QUEUED).update(
            status=JobStatus.DONE,
            score=result.score,
            preference=result.preference,
            confidence=result.confidence,
            forced=result.forced,
            raw_output=result.raw_output.replace("\x00", "\ufffd"),
            latency_ms=result.latency_ms,
            error="",
        )
    )


def drift_verdict_fail(*, verdict_id: int, error: str) -> bool:
    """The item itself cannot be judged (its picture is gone or unreadable): failed, with the reason."""
    return bool(
        DriftVerdict.objects.filter(pk=verdict_id, status=JobStatus.QUEUED).update(
            status=JobStatus.FAILED, error=error.replace("\x00", "")[:2000]
        )
    )


def drift_audit_heartbeat(*, audit_id: int) -> int:
    return DriftAudit.objects.filter(pk=audit_id, status=JobStatus.RUNNING).update(heartbeat_at=timezone.now())


def drift_audit_finish(*, audit_id: int) -> None:
    DriftAudit.objects.filter(pk=audit_id, status=JobStatus.RUNNING).update(
        status=JobStatus.DONE, stage="", finished_at=timezone.now()
    )


def drift_audit_fail(*, audit_id: int, error: str) -> None:
    """The audit stopped on an error no retry would help: failed with the reason; verdicts already judged stay."""
    DriftAudit.objects.filter(pk=audit_id, status=JobStatus.RUNNING).update(
        status=JobStatus.FAILED, error=error.replace("\x00", "")[:4000], finished_at=timezone.now()
    )


def drift_audits_sweep() -> int:
    """Audits whose worker fell silent (no heartbeat for CRITIC_HEARTBEAT_TIMEOUT) go back to the queue, their
    finished verdicts kept; audits still queued after CRITIC_STUCK_AFTER (a lost message) wake a worker again. A
    repeated message is harmless: starting is guarded. The number of audits woken."""
    now = timezone.now()
    silent = now - timedelta(seconds=settings.CRITIC_HEARTBEAT_TIMEOUT)
    waiting = now - timedelta(seconds=settings.CRITIC_STUCK_AFTER)
    with transaction.atomic():
        lost = DriftAudit.objects.filter(status=JobStatus.RUNNING).filter(
            Q(heartbeat_at__lt=silent) | Q(heartbeat_at__isnull=True)
        )
        ids = list(lost.values_list("pk", flat=True))
        DriftAudit.objects.filter(pk__in=ids).update(status=JobStatus.QUEUED, stage="", heartbeat_at=None)
        ids += list(
            DriftAudit.objects.filter(status=JobStatus.QUEUED, created_at__lt=waiting)
            .exclude(pk__in=ids)
            .values_list("pk", flat=True)
        )
        for audit_id in ids:
            transaction.on_commit(lambda audit_id=audit_id: _send(audit_id))  # type: ignore[misc]
    return len(ids)
