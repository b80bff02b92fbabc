"""The writing pass of an import: items, human labels and judges' verdicts, in chunks, from rows already checked
(imports.py checks them and stores their images first)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User

from annotations.importers.rows import Row
from annotations.models import CriticCheckpoint, CriticVerdict, Dataset, HumanVerdict, Item, ItemImage, Kind
from annotations.services import import_rights
from annotations.services.import_report import ImportReport
from annotations.services.import_verdicts import file_preference, judge_name, judge_verdict
from annotations.services.items import item_split_for
from annotations.services.verdict_summary import critic_disagreement_refresh, items_recount
from critic_worker.profiles import get_profile

CHUNK = 1000


@dataclass(frozen=True)
class WriteTarget:
    """Where checked rows go, and what the checking pass resolved for them."""

    dataset: Dataset
    image_ids: dict[str, int]  # sha256 -> Image id
    reviewers: dict[str, int]  # username -> User id
    checkpoints: dict[str, CriticCheckpoint]  # judge name -> its checkpoint
    existing: set[str]  # item ids to update rather than create
    profile: str  # for rows that name none
    judge: str  # for judges' verdicts that name none
    created_by: User | None
    report: ImportReport


def rows_write(
    *,
    rows: Iterable[tuple[Row, str, list[str]]],
    target: WriteTarget,
    tick: Callable[[str, int, int], None],
    total: int,
) -> None:
    """Write (row, item id, its images' sha256 in order) triples in chunks of CHUNK, reporting progress after each."""
    chunk: list[tuple[Row, str, list[str]]] = []
    written = 0
    for checked in rows:
        chunk.append(checked)
        if len(chunk) == CHUNK:
            _write_chunk(chunk, target)
            written += len(chunk)
            chunk = []
            tick("writing", written, total)
    if chunk:
        _write_chunk(chunk, target)
        tick("writing", written + len(chunk), total)


def reviewers_ensure(*, names: set[str], report: ImportReport) -> dict[str, int]:
    """Accounts for the reviewers named in labels; those who do not exist become inactive accounts."""
    users = get_user_model()
    known = dict(users.objects.filter(username__in=names).values_list("username", "pk"))
    missing = [users(username=name, is_active=False) for name in sorted(names - set(known))]
    for user in missing:
        user.set_unusable_password()
    users.objects.bulk_create(missing)
    report.reviewers_created = len(missing)
    return dict(users.objects.filter(username__in=names).values_list("username", "pk"))


def _item(row: Row, row_id: str, shas: list[str], target: WriteTarget) -> Item:
    dataset, report = target.dataset, target.report
    kind = Kind.PAIRWISE if row.response_b.strip() else Kind.POINTWISE
    default = dataset.pairwise_profile if kind == Kind.PAIRWISE else dataset.pointwise_profile
    profile = row.profile or target.profile or default
    report.count_item(kind, profile)
    report.whole_prompt += row.whole_prompt
    report.with_context += bool(row.context)
    report.plain_conversations += row.plain_conversation
    report.with_several_images += len(shas) > 1
    return Item(
        dataset=dataset,
        external_id=row_id,
        image_id=target.image_ids[shas[0]],
        question=row.question,
        reference=row.reference,
        kind=kind,
        profile=profile,
        response_a=row.response_a,
        model_a=row.model_a.strip(),
        response_b=row.response_b,
        model_b=row.model_b.strip(),
        split=row.split or item_split_for(dataset=dataset, external_id=row_id),
        context=row.context,
        created_by=target.created_by,
    )


UPDATED_FIELDS = [
    "image",
    "question",
    "reference",
    "kind",
    "profile",
    "response_a",
    "model_a",
    "response_b",
    "model_b",
    "split",
    "context",
]


def _write_chunk(chunk: list[tuple[Row, str, list[str]]], target: WriteTarget) -> None:
    report, existing = target.report, target.existing
    items = [_item(row, row_id, shas, target) for row, row_id, shas in chunk]
    fresh = [i for i in items if i.external_id not in existing]
    Item.objects.bulk_create(fresh)
    report.created += len(fresh)
    if existing:
        stale = [i for i in items if i.external_id in existing]
        by_id = dict(
            Item.objects.filter(dataset=target.dataset, external_id__in=[i.external_id for i in stale]).values_list(
                "external_id", "pk"
            )
        )
        for item in stale:
            item.pk = by_id[item.external_id]
        Item.objects.bulk_update(stale, UPDATED_FIELDS)
        report.updated += len(stale)
        ItemImage.objects.filter(item__in=stale).delete()  # an update brings the item's whole list of images
    ItemImage.objects.bulk_create(
        ItemImage(item_id=item.pk, image_id=target.image_ids[sha], position=position)
        for (_, _, shas), item in zip(chunk, items, strict=True)
        for position, sha in enumerate(shas[1:], start=2)
    )
    labels: list[HumanVerdict] = []
    verdicts: list[CriticVerdict] = []
    for (row, _, _), item in zip(chunk, items, strict=True):
        spec = get_profile(item.profile)
        for label in row.labels:
            labels.append(
                HumanVerdict(
                    item_id=item.pk,
                    reviewer_id=target.reviewers[label.reviewer],
                    profile=item.profile,
                    score=label.score,
                    preference=file_preference(label.preference, spec),
                    source=HumanVerdict.Source.IMPORT,
                )
            )
        for entry in row.judges:
            checkpoint = target.checkpoints[judge_name(entry, target.judge)]
            verdicts.append(
                judge_verdict(entry=entry, item_id=item.pk, profile=spec, checkpoint=checkpoint, report=report)
            )
    import_rights.human_labels_write(labels=labels, report=report)
    labelled = {label.item_id for label in labels}
    items_recount(item_ids=labelled)  # locks the items before their critic verdicts, as every writer does
    CriticVerdict.objects.bulk_create(
        verdicts,
        update_conflicts=True,
        unique_fields=["item", "checkpoint", "probe"],
        update_fields=[
            "profile",
            "status",
            "score",
            "preference",
            "confidence",
            "justification",
            "raw_output",
            "error",
        ],
    )
    critic_disagreement_refresh(item_ids=labelled | {verdict.item_id for verdict in verdicts})
