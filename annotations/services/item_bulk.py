"""Bulk actions of the item table, for administrators: send to the critic, move between the pool and the gold
split, delete items that nobody has judged, and export the selection as an importable file."""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, QuerySet

from annotations.models import CriticCheckpoint, CriticVerdict, Dataset, HumanVerdict, Item, JobStatus, Split
from annotations.selectors.images import item_images, items_with_images
from annotations.selectors.metrics import metrics_forget
from annotations.services.judging import verdicts_queue

EXPORT_LIMIT = 10_000  # items in one selection export (the images travel inside the zip)


@dataclass(frozen=True)
class BulkResult:
    done: int
    skipped: int = 0
    reason: str = ""  # why the skipped ones were left
    judged: int = 0  # sent to the critic: left because it has judged them already


def items_send_to_critic(*, dataset: Dataset, items: QuerySet[Item], checkpoint: CriticCheckpoint) -> BulkResult:
    """Queue the selected items that have no verdict of the checkpoint yet, and retry its failed ones; the others
    are counted with why they were left (already judged by it, or already waiting for it)."""
    ids = list(items.values_list("pk", flat=True))
    result = verdicts_queue(dataset=dataset, checkpoint=checkpoint, item_ids=ids)
    left = CriticVerdict.objects.filter(item_id__in=ids, checkpoint=checkpoint, probe="").exclude(
        pk__in=result.verdict_ids
    )
    by_status = dict(left.order_by().values_list("status").annotate(n=Count("pk")))
    judged = by_status.get(JobStatus.DONE, 0)
    waiting = by_status.get(JobStatus.QUEUED, 0) + by_status.get(JobStatus.RUNNING, 0)
    reasons = []
    if judged:
        reasons.append(f"{judged:,} already {'has' if judged == 1 else 'have'} a verdict from {checkpoint.name}")
    if waiting:
        reasons.append(f"{waiting:,} {'is' if waiting == 1 else 'are'} already waiting for it")
    return BulkResult(done=result.queued, skipped=judged + waiting, reason="; ".join(reasons), judged=judged)


@transaction.atomic
def items_move_split(*, dataset: Dataset, items: QuerySet[Item], split: str) -> BulkResult:
    """Put the selected items in the pool or the frozen gold split (gold is never exported for training)."""
    if split not in Split.values:
        raise ValidationError(f"Unknown split {split!r}; one of {', '.join(Split.values)}.")
    moved = items.exclude(split=split).update(split=split)
    metrics_forget(dataset=dataset)
    return BulkResult(done=moved)


@transaction.atomic
def items_delete_unjudged(*, dataset: Dataset, items: QuerySet[Item]) -> BulkResult:
    """Delete the selected items that hold no human verdict (their critic verdicts go with them); items that
    people have judged are kept and counted."""
    judged = Exists(HumanVerdict.objects.filter(item=OuterRef("pk")))
    kept = items.filter(judged).count()
    deleted = items.exclude(judged).count()
    Item.objects.filter(pk__in=items.exclude(judged).values("pk")).delete()
    metrics_forget(dataset=dataset)
    return BulkResult(done=deleted, skipped=kept, reason="people have judged them" if kept else "")


def items_export_zip(*, items: QuerySet[Item]) -> bytes:
    """The selection as a zip that `import_items` reads back: items.jsonl (the import's own fields) and images/
    (each item's normalised picture, the one everyone saw). Raises ValidationError past EXPORT_LIMIT items."""
    count = items.count()
    if count > EXPORT_LIMIT:
        raise ValidationError(f"{count:,} items selected; export at most {EXPORT_LIMIT:,} at a time (filter first).")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        lines, written = [], set()
        for item in items_with_images(items).order_by("id").iterator(chunk_size=500):
            names = []
            for image in item_images(item=item):
                name = f"images/{image.sha256}.png"
                if name not in written:
                    with image.normalized.open("rb") as f:
                        archive.writestr(name, f.read(), compress_type=zipfile.ZIP_STORED)  # PNG: already compressed
                    written.add(name)
                names.append(name)
            lines.append(json.dumps(_row(item, names[0] if len(names) == 1 else names), ensure_ascii=False))
        archive.writestr("items.jsonl", "\n".join(lines) + "\n")
    return out.getvalue()


def _row(item: Item, image: str | list[str]) -> dict[str, str | list[str]]:
    """The item in the import's fields; `image` one name, or the list of them for an item with several."""
    row = {"id": item.external_id, "image": image, "question": item.question, "profile": item.profile}
    if item.kind == "pairwise":
        row |= {"response_a": item.response_a, "response_b": item.response_b, "model_a": item.model_a}
        row |= {"model_b": item.model_b}
    else:
        row |= {"response": item.response_a, "model": item.model_a}
    if item.reference:
        row["reference"] = item.reference
    row["split"] = item.split
    return row
