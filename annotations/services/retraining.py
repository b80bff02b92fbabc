"""Retraining: a job fine-tunes a checkpoint on a training export (LoRA, on the `critic` queue), registers the
result as a child checkpoint that records its parent and export, judges the gold split with the child (and the
parent, where it has not), and gates promotion on the comparison.

The job row is the job's state, as verdict rows are for judging: queued -> running -> done / failed, moved on
only by guarded updates here, so a repeated message starts nothing twice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from annotations.models import (
    CriticCheckpoint,
    CriticVerdict,
    Dataset,
    Item,
    JobStatus,
    RetrainingJob,
    Split,
    TrainingExport,
)
from annotations.selectors.judging import checkpoint_named
from annotations.selectors.metrics import agreement_for_dataset
from annotations.services.exports import export_data_file
from annotations.services.judging import checkpoint_from_settings, verdict_requeue_fields

RETRAIN_TASK = "critic_worker.tasks.retrain"  # routed to the `critic` queue in webapp/celery.py
TRAINABLE_FORMATS = (TrainingExport.Format.LLAVA_JSON, TrainingExport.Format.LLAVA_CRITIC_PARQUET)
# Defaults of a run; a job's `options` overrides any of them (critic_worker.training.TrainOptions).
DEFAULT_OPTIONS: dict[str, Any] = {"epochs": 3, "batch_size": 4, "learning_rate": 2e-4, "lora_rank": 16, "merge": False}
OPTION_TYPES: dict[str, type] = {
    "epochs": int,
    "max_steps": int,
    "batch_size": int,
    "learning_rate": float,
    "lora_rank": int,
    "lora_alpha": int,
    "lora_dropout": float,
    "seed": int,
    "merge": bool,
    "gradient_checkpointing": bool,
}
TRAINING_SHARE = 0.8  # of the progress bar; judging the gold split is the rest


# -- creating and running a job ---------------------------------------------------------------------------------


def _clean_options(options: dict[str, Any]) -> dict[str, Any]:
    cleaned = dict(DEFAULT_OPTIONS)
    for key, value in options.items():
        if value is None:
            continue
        if key not in OPTION_TYPES:
            raise ValidationError(f"Unknown training option {key!r} (known: {', '.join(OPTION_TYPES)}).")
        kind = OPTION_TYPES[key]
        if kind is bool:
            cleaned[key] = bool(value)
            continue
        try:
            cleaned[key] = kind(value)
        except (TypeError, ValueError):
            raise ValidationError(f"Training option {key} must be a number, not {value!r}.") from None
        if not math.isfinite(cleaned[key]) or (cleaned[key] <= 0 and key != "lora_dropout"):
            raise ValidationError(f"Training option {key} must be positive, not {value!r}.")
    return cleaned


def retraining_base_resolve(*, export: TrainingExport, name: str = "") -> CriticCheckpoint:
    """The checkpoint to fine-tune: the one named, else the export's source checkpoint, else the active one."""
    base = checkpoint_named(name=name) if name else export.source_checkpoint or checkpoint_from_settings()
    if base is None:
        raise ValidationError("No base checkpoint: name one, or activate a checkpoint in the admin.")
    if base.is_external:
        raise ValidationError(f"{base.name!r} is an external judge: there are no weights to fine-tune.")
    return base


def retraining_job_create(
    *,
    export: TrainingExport,
    created_by: AbstractBaseUser | None,
    base: CriticCheckpoint | None = None,
    options: dict[str, Any] | None = None,
    send: bool = True,
) -> RetrainingJob:
    """Check that the export can be trained on, record the job and queue it on the critic queue after commit
    (send=False: the caller runs it itself, as `retrain_critic --now` does)."""
    if export.format not in TRAINABLE_FORMATS:
        raise ValidationError(
            f"Export #{export.number} is {export.format}: retraining reads llava-json or llava-critic-parquet."
        )
    if export.status != JobStatus.DONE:
        raise ValidationError(f"Export #{export.number} is {export.status}: only a finished export can be trained on.")
    try:
        data_file = export_data_file(export=export)
    except ValueError as exc:
        raise ValidationError(f"Export #{export.number}: {exc}.") from None
    if not data_file.is_file():
        raise ValidationError(f"Export #{export.number} has no data file at {data_file}.")
    base = base or retraining_base_resolve(export=export)
    if base.is_external:
        raise ValidationError(f"{base.name!r} is an external judge: there are no weights to fine-tune.")
    job = RetrainingJob.objects.create(
        export=export,
        base=base,
        created_by=created_by if created_by is not None and created_by.is_authenticated else None,  # type: ignore[misc]
        options=_clean_options(options or {}),
    )
    if send:
        transaction.on_commit(lambda: _send(job.pk))
    return job


def _send(job_id: int) -> None:
    from webapp.celery import app

    app.send_task(RETRAIN_TASK, args=[job_id])


@dataclass(frozen=True)
class RetrainPlan:
    """What the critic worker needs to run a job: plain values, no ORM objects."""

    job_id: int
    dataset_id: int
    base_id: int
    base_model: str
    revision: str
    quantization: str
    export_path: str  # the export's data file
    export_image_folder: str  # what llava-json image paths are relative to ("" when images are embedded)
    export_format: str
    out_dir: str
    options: dict[str, Any]


def retraining_job_start(*, job_id: int) -> RetrainPlan | None:
    """Move a queued job to running; None when it is not queued (a repeated message, or already run)."""
    started = RetrainingJob.objects.filter(pk=job_id, status=JobStatus.QUEUED).update(
        status=JobStatus.RUNNING, stage="training", started_at=timezone.now(), error=""
    )
    if not started:
        return None
    job = RetrainingJob.objects.select_related("export", "base").get(pk=job_id)
    base = job.base
    data_file = export_data_file(export=job.export)
    image_folder = job.export.manifest.get("image_folder")
    return RetrainPlan(
        job_id=job.pk,
        dataset_id=job.export.dataset_id,
        base_id=base.pk,
        base_model=base.merged_path or base.model,  # a child is fine-tuned further from its merged weights
        revision=base.revision,
        quantization=base.quantization,
        export_path=str(data_file),
        export_image_folder=str(data_file.parent / image_folder) if image_folder else "",
        export_format=job.export.format,
        out_dir=str(Path(settings.RETRAIN_ROOT) / f"retrain-{job.pk}"),
        options=dict(job.options),
    )


def retraining_job_progress(*, job_id: int, losses: list[float], total: int) -> None:
    """The training loss so far, one entry per optimiser step."""
    RetrainingJob.objects.filter(pk=job_id, status=JobStatus.RUNNING).update(
        loss_log=[{"step": n, "loss": round(loss, 6)} for n, loss in enumerate(losses, start=1)],
        progress=TRAINING_SHARE * min(1.0, len(losses) / max(total, 1)),
    )


def retraining_child_register(*, job_id: int, adapter_dir: str, merged_dir: str | None) -> CriticCheckpoint:
    """The trained model as a checkpoint that records its parent and export; the job then judges gold."""
    with transaction.atomic():
        job = RetrainingJob.objects.select_for_update(of=("self",)).select_related("base", "export").get(pk=job_id)
        base = job.base
        suffix = f" / export #{job.export.number} (job {job.pk})"
        child = CriticCheckpoint.objects.create(
            name=base.name[: 200 - len(suffix)] + suffix,
            model=merged_dir or adapter_dir,
            quantization=base.quantization,
            is_demo=base.is_demo,
            parent=base,
            training_export=job.export,
            adapter_path=adapter_dir,
            merged_path=merged_dir or "",
        )
        job.child = child
        job.stage = "evaluating"
        job.progress = TRAINING_SHARE
        job.save(update_fields=["child", "stage", "progress"])
    return child


def gold_verdicts_prepare(*, dataset_id: int, checkpoint_id: int) -> list[int]:
    """Queue the gold items the checkpoint has no finished verdict on, for the retraining job to judge itself
    (no message is sent: the job is already on the critic worker). Returns the ids of the verdicts to judge."""
    now = timezone.now()
    gold = Item.objects.filter(dataset_id=dataset_id, split=Split.GOLD)
    with transaction.atomic():
        mine = CriticVerdict.objects.filter(item__in=gold, checkpoint_id=checkpoint_id, probe="")
        judged = mine.filter(item=OuterRef("pk"))
        CriticVerdict.objects.bulk_create(
            [
                CriticVerdict(item_id=pk, checkpoint_id=checkpoint_id, profile=profile, queued_at=now)
                for pk, profile in gold.exclude(Exists(judged)).values_list("pk", "profile")
            ],
            ignore_conflicts=True,
        )
        mine.filter(status=JobStatus.FAILED).update(**verdict_requeue_fields(now))
        return list(mine.filter(status=JobStatus.QUEUED).order_by("pk").values_list("pk", flat=True))


def retraining_job_evaluate(*, job_id: int) -> RetrainingJob:
    """Compare the child with its parent on the gold split, store both metric sets and the gate's decision."""
    job = RetrainingJob.objects.select_related("export__dataset", "base", "child").get(pk=job_id)
    if job.child is None:
        raise ValidationError("The job has no child checkpoint to evaluate.")
    dataset = job.export.dataset
    parent_metrics = gold_metrics(dataset=dataset, checkpoint=job.base)
    child_metrics = gold_metrics(dataset=dataset, checkpoint=job.child)
    passed, report = gate_decide(parent=parent_metrics, child=child_metrics)
    RetrainingJob.objects.filter(pk=job_id, status=JobStatus.RUNNING).update(
        gold_metrics={"split": Split.GOLD, "parent": parent_metrics, "child": child_metrics},
        gate_passed=passed,
        gate_report=report,
        status=JobStatus.DONE,
        stage="done",
        progress=1.0,
        finished_at=timezone.now(),
    )
    job.refresh_from_db()
    return job


def retraining_gold_leak_check(*, dataset_id: int, row_ids: list[str]) -> None:
    """Refuse an export that holds gold items (ids are `<item id>__<family>`): training on gold would make the
    gate's comparison meaningless. The exporter never writes them; this keeps a hand-made file honest too."""
    external_ids = {row_id.rsplit("__", 1)[0] for row_id in row_ids}
    leaked = sorted(
        Item.objects.filter(dataset_id=dataset_id, split=Split.GOLD, external_id__in=external_ids).values_list(
            "external_id", flat=True
        )
    )
    if leaked:
        shown = ", ".join(leaked[:5]) + (f" and {len(leaked) - 5} more" if len(leaked) > 5 else "")
        raise ValidationError(f"The export holds {len(leaked)} gold item(s) ({shown}); gold is never trained on.")


def retraining_job_heartbeat(*, job_id: int) -> None:
    """The worker running the job is alive (it says so every minute, whatever the job is doing)."""
    RetrainingJob.objects.filter(pk=job_id, status=JobStatus.RUNNING).update(heartbeat_at=timezone.now())


def retraining_jobs_sweep() -> int:
    """Fail jobs whose worker stopped — silent for CRITIC_STUCK_AFTER, or running past their time limit — and wake
    workers again for jobs still queued after CRITIC_STUCK_AFTER (a lost message; a repeat is harmless: starting
    is guarded)."""
    now = timezone.now()
    silent = now - timedelta(seconds=settings.CRITIC_STUCK_AFTER)
    lost = (
        RetrainingJob.objects.filter(status=JobStatus.RUNNING)
        .filter(
            Q(started_at__lt=now - timedelta(seconds=settings.RETRAIN_TIME_LIMIT + 120))
            | Q(heartbeat_at__lt=silent)
            | Q(heartbeat_at__isnull=True, started_at__lt=silent)
        )
        .update(status=JobStatus.FAILED, error="The worker running this job stopped.", finished_at=now)
    )
    waiting = list(
        RetrainingJob.objects.filter(
            status=JobStatus.QUEUED, created_at__lt=now - timedelta(seconds=settings.CRITIC_STUCK_AFTER)
        ).values_list("pk", flat=True)
    )
    for job_id in waiting:
        _send(job_id)
    return lost + len(waiting)


def retraining_job_fail(*, job_id: int, error: str) -> None:
    RetrainingJob.objects.filter(pk=job_id, status=JobStatus.RUNNING).update(
        status=JobStatus.FAILED, error=error.replace("\x00", "")[:4000], finished_at=timezone.now()
    )


# -- metrics on gold and the gate -------------------------------------------------------------------------------


def gold_metrics(*, dataset: Dataset, checkpoint: CriticCheckpoint) -> dict[str, Any]:
    """The dashboard's agreement statistics on the gold split (the parts the gate reads, kept on the job)."""
    result = agreement_for_dataset(dataset=dataset, checkpoint=checkpoint, split=Split.GOLD)
    return {kind: result[kind] for kind in ("pointwise", "pairwise")}


# Each statistic the gate compares: (kind, statistic, higher is better).
GATE_STATISTICS = (("pairwise", "accuracy_with_tie", True), ("pointwise", "pearson", True), ("pointwise", "mae", False))


def gate_decide(*, parent: dict[str, Any], child: dict[str, Any]) -> tuple[bool | None, list[dict[str, Any]]]:
    """Is the child worse than its parent beyond the interval? Pure: two metric dicts in, the decision out.

    For each statistic the parent has a value and an interval for, the child is worse when its value is below
    the parent's ci95 lower bound (above the upper bound for mae, where lower is better), or has no value at all
    (say, constant scores). Returns (True: passes, False: worse on at least one, None: nothing to compare) and
    one report entry per statistic compared."""
    report = []
    for kind, name, higher_is_better in GATE_STATISTICS:
        theirs = (parent.get(kind) or {}).get(name) or {}
        lo, hi = (theirs.get("ci95") or [None, None])[:2]
        if theirs.get("value") is None or lo is None or hi is None:
            continue
        mine = ((child.get(kind) or {}).get(name) or {}).get("value")
        if mine is None:
            worse, why = True, "the child has no value"
        elif higher_is_better:
            worse, why = mine < lo, f"{mine:.3f} {'<' if mine < lo else '>='} parent's lower bound {lo:.3f}"
        else:
            worse, why = mine > hi, f"{mine:.3f} {'>' if mine > hi else '<='} parent's upper bound {hi:.3f}"
        report.append(
            {
                "kind": kind,
                "statistic": name,
                "parent": theirs["value"],
                "parent_ci95": [lo, hi],
                "child": mine,
                "worse": worse,
                "reason": why,
            }
        )
    if not report:
        return None, report
    return not any(entry["worse"] for entry in report), report


# -- promotion --------------------------------------------------------------------------------------------------


def retraining_job_promote(
    *, job: RetrainingJob, user: AbstractBaseUser, override_reason: str = ""
) -> CriticCheckpoint:
    """Make the child the active checkpoint. Refused when the gate did not pass (worse, or nothing to compare)
    unless an administrator gives a reason, which is recorded with who and when."""
    reason = override_reason.strip()
    with transaction.atomic():
        job = RetrainingJob.objects.select_for_update(of=("self",)).select_related("child").get(pk=job.pk)
        if job.status != JobStatus.DONE or job.child is None:
            raise ValidationError("Only a finished job's child can be promoted.")
        if job.promoted_at is not None:
            raise ValidationError(f"{job.child.name} was already promoted.")
        if job.gate_passed is not True and not reason:
            why = (
                "the child is worse than its parent on the gold split beyond the interval"
                if job.gate_passed is False
                else "the gold split gave nothing to compare the child with its parent on"
            )
            raise ValidationError(f"Promotion refused: {why}. An administrator can override it with a reason.")
        _activate(job.child)
        job.promoted_at = timezone.now()
        job.promoted_by = user  # type: ignore[assignment]
        job.promotion_override_reason = reason
        job.save(update_fields=["promoted_at", "promoted_by", "promotion_override_reason"])
        job.child.refresh_from_db()
    return job.child


def checkpoint_activate(*, checkpoint: CriticCheckpoint) -> None:
    """Make `checkpoint` the one new judging and reviews use. A retrained child that was not promoted is refused:
    its job's page decides, through the gold-split gate or an administrator's recorded reason."""
    if checkpoint.is_external:
        raise ValidationError(f"{checkpoint.name!r} is an external judge: it cannot judge new items.")
    job = RetrainingJob.objects.filter(child=checkpoint).first()
    if job is not None and job.promoted_at is None:
        raise ValidationError(
            f"{checkpoint.name!r} is the child of retraining job #{job.pk}: promote it from the job's page, where "
            "the gold-split gate (or a reason you give) decides."
        )
    with transaction.atomic():
        _activate(checkpoint)


def _activate(checkpoint: CriticCheckpoint) -> None:
    # One active checkpoint (a database constraint): the current one steps down first.
    CriticCheckpoint.objects.select_for_update().filter(is_active=True).update(is_active=False)
    CriticCheckpoint.objects.filter(pk=checkpoint.pk).update(is_active=True)
