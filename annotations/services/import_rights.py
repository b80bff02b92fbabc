"""Who may import what, and what an import may never change (the blind rule's side of imports).

Importing verdicts (human labels, a judge's output) and updating existing items are for administrators. A verdict
committed at the desk is never changed by an import, an administrator's included: the label is left out and counted
(`desk_verdicts_kept`), so re-importing a file after the desk has worked on it still goes through. An item that
has a verdict (human or critic) keeps its content: the verdict was given on what it shows, so an update that
would change its question, responses, image, reference, models, kind, profile or earlier turns (context) is
refused with the reason."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import Exists, OuterRef
from django.utils import timezone

from annotations.importers.formats import Row
from annotations.models import CriticCheckpoint, CriticVerdict, Dataset, HumanVerdict, Item, ItemImage, Kind, Split
from annotations.permissions import acts_as_admin
from annotations.services.items import GOLD_FOR_ADMINS

if TYPE_CHECKING:
    from annotations.services.import_report import ImportReport

UPDATE_FOR_ADMINS = "Only administrators update existing items (update)."
VERDICTS_FOR_ADMINS = "Only administrators import verdicts"
# What a verdict was given on (the context: the earlier turns the desk shows and the critic's prompt carries); the
# split may still move (an administrator's call).
CONTENT_FIELDS = (
    *("image", "question", "reference", "kind", "profile", "response_a", "model_a", "response_b", "model_b"),
    "context",
)


def import_request_check(*, user: User | None, update: bool, judge: str = "") -> None:
    """Refuse, before any row is read, an import this user may not start. PermissionDenied (the page and the API
    answer 403 with the reason)."""
    if update and not acts_as_admin(user):
        raise PermissionDenied(UPDATE_FOR_ADMINS)
    if judge and CriticCheckpoint.objects.filter(name=judge, is_external=False).exists():
        raise PermissionDenied(
            f"{judge!r} is one of this app's critic checkpoints: an import never writes over its verdicts; "
            "name the external judge differently."
        )


def row_rights_check(row: Row, *, admin: bool, report: ImportReport) -> None:
    """A reviewer's row may bring an item, not a verdict, and may not name the gold split."""
    if admin:
        return
    if row.labels:
        report.add(row.number, "human_labels", f"{VERDICTS_FOR_ADMINS}; leave out human labels.")
    if row.judges:
        report.add(row.number, "judge", f"{VERDICTS_FOR_ADMINS}; leave out the judge's output.")
    if row.split == Split.GOLD:
        report.add(row.number, "split", GOLD_FOR_ADMINS)


def item_content_locked(*, item: Item) -> bool:
    """Whether the item has a verdict (human or critic), so that its CONTENT_FIELDS may no longer change."""
    return HumanVerdict.objects.filter(item=item).exists() or CriticVerdict.objects.filter(item=item).exists()


def _digest(value: object) -> bytes:
    text = json.dumps(value, sort_keys=True) if isinstance(value, list | dict) else str(value)  # the context's turns
    return hashlib.blake2b(text.encode(), digest_size=8).digest()


def locked_content_check(
    *,
    rows: Iterable[tuple[Row, str, list[str]]],
    dataset: Dataset,
    existing: set[str],
    profile: str,
    first_seen: dict[str, int],
    report: ImportReport,
) -> None:
    """Refuse the update of an item that has a verdict when the row changes its content. `rows`: (row, item id,
    its images' sha256 in order) as the import writes them; `profile`: the import's default profile. Reads only
    judged items' digests (8 bytes a field), so memory stays small."""
    judged = Exists(HumanVerdict.objects.filter(item=OuterRef("pk"))) | Exists(
        CriticVerdict.objects.filter(item=OuterRef("pk"))
    )
    fields = ["external_id", "image__sha256", *CONTENT_FIELDS[1:]]
    locked: dict[str, tuple[bytes, ...]] = {}
    ids = list(existing)
    for start in range(0, len(ids), 5000):
        found = Item.objects.filter(judged, dataset=dataset, external_id__in=ids[start : start + 5000])
        more: dict[str, list[str]] = {}
        links = ItemImage.objects.filter(item__in=found).order_by("item_id", "position")
        for external_id, sha in links.values_list("item__external_id", "image__sha256"):
            more.setdefault(external_id, []).append(sha)
        for values in found.values_list(*fields):
            images = ",".join([values[1], *more.get(values[0], [])])
            locked[values[0]] = tuple(_digest(v) for v in (images, *values[2:]))
    if not locked:
        return
    for row, row_id, shas in rows:
        if row_id not in locked:
            continue
        kind = Kind.PAIRWISE if row.response_b.strip() else Kind.POINTWISE
        default = dataset.pairwise_profile if kind == Kind.PAIRWISE else dataset.pointwise_profile
        new: list[object] = [",".join(shas), row.question, row.reference, kind, row.profile or profile or default]
        new += [row.response_a, row.model_a.strip(), row.response_b, row.model_b.strip(), row.context]
        pairs = zip(CONTENT_FIELDS, locked[row_id], new, strict=True)
        changed = [name for name, old, value in pairs if old != _digest(value)]
        if changed:
            report.add(
                first_seen.get(row_id, row.number),
                "id",
                f"item {row_id!r} has verdicts, so its {', '.join(changed)} cannot change: they were given on what it"
                " shows now. Import it under a new id.",
            )


# One statement per batch, so that the database decides against the row as it is when the label is written: a desk
# verdict committed a moment before (after any earlier read) is still left alone. Constants; values are parameters.
LABELS_UPSERT = (
    "INSERT INTO annotations_humanverdict (item_id, reviewer_id, profile, score, preference, rationale, source,"
    " committed_at, justification_flagged, corrected_justification) VALUES {rows}"
    " ON CONFLICT (item_id, reviewer_id) DO UPDATE SET profile = excluded.profile, score = excluded.score,"
    " preference = excluded.preference, source = excluded.source"
    " WHERE annotations_humanverdict.source <> 'desk' RETURNING id"
)
LABELS_PER_STATEMENT = 500  # 10 parameters each: well under SQLite's and PostgreSQL's limits


def human_labels_write(*, labels: list[HumanVerdict], report: ImportReport) -> None:
    """Write imported labels (new ones, or over earlier imported ones); a label that would overwrite a verdict
    committed at the desk is left out and counted (`desk_verdicts_kept`). `labels`: unsaved HumanVerdict rows with
    item_id, reviewer_id, profile, score or preference, source=import."""
    now = timezone.now()
    for start in range(0, len(labels), LABELS_PER_STATEMENT):
        batch = labels[start : start + LABELS_PER_STATEMENT]
        params: list[Any] = []
        for label in batch:
            params += [label.item_id, label.reviewer_id, label.profile, label.score, label.preference, "", "import"]
            params += [now, False, ""]
        rows = ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"] * len(batch))
        with connection.cursor() as cursor:
            cursor.execute(LABELS_UPSERT.format(rows=rows), params)
            written = len(cursor.fetchall())
        report.labels += written
        report.desk_verdicts_kept += len(batch) - written
