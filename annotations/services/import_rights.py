"""Who may import what, and what an import may never change (the blind rule's side of imports).

Importing verdicts (human labels, a judge's output) and updating existing items are for administrators. A verdict
committed at the desk is never changed by an import, an administrator's included: the label is left out and counted
(`desk_verdicts_kept`), so re-importing a file after the desk has worked on it still goes through. An item that
has a verdict (human or critic) keeps its content: the verdict was given on what it shows, so an update that
would change its question, responses, image, reference, models, kind or profile is refused with the reason."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef

from annotations.importers.formats import Row
from annotations.models import CriticCheckpoint, CriticVerdict, Dataset, HumanVerdict, Item, ItemImage, Kind, Split
from annotations.permissions import acts_as_admin
from annotations.services.items import GOLD_FOR_ADMINS

if TYPE_CHECKING:
    from annotations.services.import_report import ImportReport

UPDATE_FOR_ADMINS = "Only administrators update existing items (update)."
VERDICTS_FOR_ADMINS = "Only administrators import verdicts"
# What a verdict was given on; the split may still move (an administrator's call).
CONTENT_FIELDS = ("image", "question", "reference", "kind", "profile", "response_a", "model_a", "response_b", "model_b")


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
    return hashlib.blake2b(str(value).encode(), digest_size=8).digest()


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
        new = [",".join(shas), row.question, row.reference, kind, row.profile or profile or default, row.response_a]
        new += [row.model_a.strip(), row.response_b, row.model_b.strip()]
        pairs = zip(CONTENT_FIELDS, locked[row_id], new, strict=True)
        changed = [name for name, old, value in pairs if old != _digest(value)]
        if changed:
            report.add(
                first_seen.get(row_id, row.number),
                "id",
                f"item {row_id!r} has verdicts, so its {', '.join(changed)} cannot change: they were given on what it"
                " shows now. Import it under a new id.",
            )


def labels_without_desk_verdicts(labels: list[HumanVerdict], report: ImportReport) -> list[HumanVerdict]:
    """The labels to write: those that would overwrite a verdict committed at the desk are left out and counted."""
    if not labels:
        return labels
    desk = set(
        HumanVerdict.objects.filter(
            item_id__in={label.item_id for label in labels}, source=HumanVerdict.Source.DESK
        ).values_list("item_id", "reviewer_id")
    )
    kept = [label for label in labels if (label.item_id, label.reviewer_id) not in desk]
    report.desk_verdicts_kept += len(labels) - len(kept)
    return kept
