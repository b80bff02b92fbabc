from __future__ import annotations

import json
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import User
from django.core.cache import cache
from django.db import connection
from django.db.models import QuerySet
from django.http import Http404

from annotations.models import CriticCheckpoint, CriticVerdict, Dataset, HumanVerdict, Image, Item
from annotations.selectors.datasets import User as AnyUser
from annotations.selectors.datasets import require_active
from annotations.selectors.profiles import score_span_sql
from annotations.trust.planning import FLOOR, HASH_MULTIPLIER, HASH_PRIME
from critic_worker.profiles import get_profile

# What the desk shows of an item, its image and its dataset, read with plain SQL: the desk's requests are its
# hottest path, and the ORM took longer to build each of these queries than the database took to answer it.
ITEM_FIELDS: tuple[str, ...] = ("id", "dataset_id", "external_id", "image_id", "question", "reference", "kind")
ITEM_FIELDS += ("profile", "response_a", "model_a", "response_b", "model_b", "context")
IMAGE_FIELDS = ("id", "sha256", "width", "height")
DATASET_FIELDS = ("id", "name", "review_overlap", "disagreement_threshold")
# Last, how many images the item has after its first: 0 for most, and then item_images needs no query.
MORE_IMAGES_COUNT = "(SELECT COUNT(*) FROM annotations_itemimage ii WHERE ii.item_id = i.id)"
ITEM_COLUMNS = ", ".join(
    [f"i.{name}" for name in ITEM_FIELDS]
    + [f"m.{name}" for name in IMAGE_FIELDS]
    + [f"d.{n}" for n in DATASET_FIELDS]
    + [MORE_IMAGES_COUNT]
)
ITEM_TABLES = (
    "annotations_item i JOIN annotations_image m ON m.id = i.image_id JOIN annotations_dataset d ON d.id = i.dataset_id"
)
_BY_ID = "SELECT {} FROM {} WHERE i.id = %s"
ITEM_BY_ID = _BY_ID.format(ITEM_COLUMNS, ITEM_TABLES)
CRITIC_FIELDS: tuple[str, ...] = ("id", "item_id", "checkpoint_id", "status", "score", "preference", "confidence")
CRITIC_FIELDS += ("justification", "forced", "error", "probe")
_CRITIC = (
    "SELECT {}, k.is_demo FROM annotations_criticverdict c JOIN annotations_criticcheckpoint k"
    " ON k.id = c.checkpoint_id WHERE c.item_id = %s AND c.probe = '' AND {}"
)
_CRITIC_COLUMNS = ", ".join(f"c.{name}" for name in CRITIC_FIELDS)
CRITIC_OF_CHECKPOINT = _CRITIC.format(_CRITIC_COLUMNS, "k.id = %s")
CRITIC_OF_ACTIVE = _CRITIC.format(_CRITIC_COLUMNS, "k.is_active")


def review_item_from_row(row: Sequence[Any]) -> Item:
    """An Item, with its first image, its dataset and the count of its other images (`more_images_count`), from a
    row of ITEM_COLUMNS (the fields it lacks load if asked for)."""
    i, m = len(ITEM_FIELDS), len(ITEM_FIELDS) + len(IMAGE_FIELDS)
    d = m + len(DATASET_FIELDS)
    item = Item.from_db("default", ITEM_FIELDS, row[:i])
    if isinstance(item.context, str):  # plain SQL hands jsonb over as its text; the ORM would have decoded it
        item.context = json.loads(item.context)
    item.image = Image.from_db("default", IMAGE_FIELDS, row[i:m])
    item.dataset = Dataset.from_db("default", DATASET_FIELDS, row[m:d])
    item.more_images_count = int(row[d])  # type: ignore[attr-defined]
    return item


def review_item(*, user: AnyUser, pk: int) -> Item:
    """The item as the desk shows it (selectors.datasets.item_get's access rule, in one plain query)."""
    require_active(user)
    with connection.cursor() as cursor:
        cursor.execute(ITEM_BY_ID, [pk])
        row = cursor.fetchone()
    if row is None:
        raise Http404("No such item.")
    return review_item_from_row(row)


@dataclass(frozen=True)
class Reveal:
    human: HumanVerdict
    critic: CriticVerdict | None
    agrees: bool | None  # the reviewer's current verdict (revised, if revised); None while the critic's is not in
    blind_agrees: bool | None = None  # the blind verdict's agreement, which a revision leaves on record

    @property
    def waiting(self) -> bool:
        return self.critic is None or self.critic.status in ("queued", "running")


def verdicts_agree(*, human: HumanVerdict, critic: CriticVerdict, dataset: Dataset, blind: bool = False) -> bool:
    """The dataset's disagreement rule: another preference, or scores further apart than the threshold. The
    reviewer's current verdict (their revision after the reveal, if any) unless `blind`."""
    mine = (human.score, human.preference)
    if not blind and human.revised_at is not None:
        mine = (human.revised_score, human.revised_preference)
    return verdict_values_agree(
        profile=human.profile,
        threshold=dataset.disagreement_threshold,
        first=mine,
        second=(critic.score, critic.preference),
    )


def verdict_values_agree(
    *, profile: str, threshold: float, first: tuple[float | None, str | None], second: tuple[float | None, str | None]
) -> bool:
    """The same rule on plain (score, preference) pairs, for code that streams values rather than rows."""
    if first[1] is not None:
        return first[1] == second[1]
    spec = get_profile(profile)
    span = (spec.score_max or 0) - (spec.score_min or 0)
    return abs((first[0] or 0) - (second[0] or 0)) <= threshold * span


def review_reveal(
    *, reviewer: User, item: Item, checkpoint: CriticCheckpoint | None = None, human: HumanVerdict | None = None
) -> Reveal | None:
    """The reviewer's verdict and the critic's beside it (`checkpoint`'s, by default the active one's) — only once
    the reviewer has committed theirs (`human`, when the caller has just stored it)."""
    if human is None or human.reviewer_id != reviewer.pk or human.item_id != item.pk:
        human = HumanVerdict.objects.filter(item=item, reviewer=reviewer).first()
    if human is None:
        return None
    critic = _critic_verdict(item=item, checkpoint=checkpoint)
    agrees = blind_agrees = None
    if critic is not None and critic.status == "done":
        agrees = verdicts_agree(human=human, critic=critic, dataset=item.dataset)
        blind_agrees = verdicts_agree(human=human, critic=critic, dataset=item.dataset, blind=True)
    return Reveal(human=human, critic=critic, agrees=agrees, blind_agrees=blind_agrees)


def _critic_verdict(*, item: Item, checkpoint: CriticCheckpoint | None) -> CriticVerdict | None:
    """The checkpoint's verdict on the item (the active checkpoint's, by default), never a swap check's."""
    with connection.cursor() as cursor:
        if checkpoint is not None:
            cursor.execute(CRITIC_OF_CHECKPOINT, [item.pk, checkpoint.pk])
        else:
            cursor.execute(CRITIC_OF_ACTIVE, [item.pk])
        row = cursor.fetchone()
    if row is None:
        return None
    critic = CriticVerdict.from_db("default", CRITIC_FIELDS, row[:-1])
    critic.checkpoint = checkpoint or CriticCheckpoint.from_db(
        "default", ("id", "is_demo"), (critic.checkpoint_id, row[-1])
    )
    return critic


@dataclass(frozen=True)
class ReviewProgress:
    mine: int
    items: int
    complete: int  # items with all k verdicts

    @property
    def coverage(self) -> int:
        return round(100 * self.complete / self.items) if self.items else 0


PROGRESS_TTL = 10  # seconds: the dataset's counts on every desk page are allowed to be this old
MINE_TTL = 3600  # a reviewer's own count is kept exact: counted once, then moved by each verdict they commit


def _coverage_key(dataset_id: int) -> str:
    return f"review-coverage:{dataset_id}"


def _mine_key(reviewer_id: int, dataset_id: int) -> str:
    return f"review-mine:{dataset_id}:{reviewer_id}"


def review_progress(*, reviewer: User, dataset: Dataset) -> ReviewProgress:
    """This reviewer's count and the dataset's coverage, from the cache (one round trip): counting a large
    dataset, or a busy reviewer's verdicts, on every next-item request would cost more than the rest of it."""
    coverage_key, mine_key = _coverage_key(dataset.pk), _mine_key(reviewer.pk, dataset.pk)
    cached = cache.get_many([coverage_key, mine_key])
    coverage = cached.get(coverage_key)
    if coverage is None:
        coverage = (dataset.items.count(), dataset.items.filter(review_complete=True).count())
        cache.set(coverage_key, coverage, PROGRESS_TTL)
    mine = cached.get(mine_key)
    if mine is None:
        mine = HumanVerdict.objects.filter(reviewer=reviewer, item__dataset=dataset, source="desk").count()
        cache.set(mine_key, mine, MINE_TTL)
    items, complete = coverage
    return ReviewProgress(mine=mine, items=items, complete=complete)


def review_progress_counted(*, reviewer: User, dataset_id: int) -> None:
    """One more desk verdict by this reviewer (called once it is committed)."""
    with suppress(ValueError):  # not cached: the next page counts it
        cache.incr(_mine_key(reviewer.pk, dataset_id))


def review_progress_forget(*, dataset: Dataset) -> None:
    cache.delete(_coverage_key(dataset.pk))


def review_history(*, reviewer: User) -> QuerySet[HumanVerdict]:
    return HumanVerdict.objects.filter(reviewer=reviewer).select_related("item__dataset").order_by("-committed_at")


def informative_order(*, checkpoint_id: int) -> tuple[str, list[Any]]:
    """ORDER BY for the desk's "most informative first" (annotations/trust/planning.py: active inference by
    priority sampling): (the critic's uncertainty as a fraction of the profile's range + FLOOR) / U(item id),
    largest first, items without a finished verdict last. It reads only the critic's own verdict distribution,
    never a reviewer's verdict, so a reviewer may use it before judging."""
    case, case_params = score_span_sql("c.profile", otherwise="1")
    uniform = f"(((i.id * {HASH_MULTIPLIER}) %% {HASH_PRIME} + 1) / {HASH_PRIME + 1}.0)"
    # Only numbers from the code are formatted in; the profiles and the checkpoint travel as parameters.
    sql = (
        f"((SELECT c.uncertainty / {case} FROM annotations_criticverdict c WHERE c.item_id = i.id"  # noqa: S608
        f" AND c.checkpoint_id = %s AND c.status = 'done' AND c.probe = '') + {FLOOR}) / {uniform}"
        " DESC NULLS LAST, i.id"
    )
    return sql, [*case_params, checkpoint_id]
