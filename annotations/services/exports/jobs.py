"""Creating an export (its number, queued), queueing it on the `default` queue, and running it once."""

from __future__ import annotations

import shutil
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from annotations.models import CriticCheckpoint, Dataset, JobStatus, Split, TrainingExport
from annotations.services.exports.files import FORMATS, export_folder
from annotations.services.exports.merge import _check_merge_file
from annotations.services.exports.snapshot import _write

EXPORT_TASK = "annotations.tasks.export_run"


def training_export_create(
    *,
    dataset: Dataset,
    fmt: str,
    user: User | None = None,
    include_agreements: bool = False,
    checkpoint: CriticCheckpoint | None = None,
    merge_with: str = "",
) -> TrainingExport:
    """Check the request and give the export its number (queued); nothing is written until it runs."""
    if fmt not in FORMATS:
        raise ValidationError({"format": [f"Unknown format {fmt!r}; choose one of {', '.join(FORMATS)}."]})
    if checkpoint is None:
        from annotations.services.judging import checkpoint_from_settings

        checkpoint = checkpoint_from_settings()
        if checkpoint is None:
            raise ValidationError("No critic checkpoint: name one, or activate one (the export needs its verdicts).")
    merge_path = _check_merge_file(merge_with, fmt)
    filters = {
        "only_disagreements": not include_agreements,
        "split": Split.POOL,
        "checkpoint": checkpoint.name,
        "merge_with": merge_path,
    }
    for _ in range(5):  # two exports created at once: the unique number decides, the loser takes the next one
        number = (TrainingExport.objects.aggregate(n=Max("number"))["n"] or 0) + 1
        try:
            with transaction.atomic():
                return TrainingExport.objects.create(
                    number=number,
                    dataset=dataset,
                    format=fmt,
                    source_checkpoint=checkpoint,
                    filters=filters,
                    created_by=user,
                    status=JobStatus.QUEUED,
                )
        except IntegrityError:
            continue
    raise ValidationError("Could not number the export (too many at once); try again.")


def training_export_queue(**kwargs: Any) -> TrainingExport:
    """Create the export and run it on the `default` queue once the transaction commits."""
    export = training_export_create(**kwargs)
    from webapp.celery import app

    transaction.on_commit(lambda: app.send_task(EXPORT_TASK, args=[export.pk]))
    return export


def training_export_run(*, export_id: int) -> TrainingExport | None:
    """Write a queued export once (a repeated message finds it taken and does nothing)."""
    if not TrainingExport.objects.filter(pk=export_id, status=JobStatus.QUEUED).update(status=JobStatus.RUNNING):
        return None
    export = TrainingExport.objects.select_related("dataset", "source_checkpoint", "created_by").get(pk=export_id)
    final = export_folder(export)
    partial = final.with_name(f".{export.number}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        manifest = _write(export, partial)
        if final.exists():  # never over a snapshot; a number is only ever written once
            raise FileExistsError(f"{final} exists already")
        partial.rename(final)
    except Exception as exc:
        shutil.rmtree(partial, ignore_errors=True)
        TrainingExport.objects.filter(pk=export_id).update(
            status=JobStatus.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000], finished_at=timezone.now()
        )
    else:
        TrainingExport.objects.filter(pk=export_id).update(
            status=JobStatus.DONE,
            manifest=manifest,
            path=str(final.relative_to(settings.MEDIA_ROOT)),
            items_done=manifest["counts"]["items_examined"],
            finished_at=timezone.now(),
        )
    export.refresh_from_db()
    return export
