"""Reads of datasets and items, each checked against who is asking. Every active account sees every dataset
(a team tool, as Label Studio's organisations are); access still goes through here, so narrowing it later
is a change in one place."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db.models import BooleanField, Count, Exists, OuterRef, Q, QuerySet, Value
from django.db.models.query import ModelIterable
from django.shortcuts import get_object_or_404

from annotations.models import CriticVerdict, Dataset, HumanVerdict, Image, ImportJob, Item, Kind
from annotations.permissions import is_admin

User = AbstractBaseUser | AnonymousUser


def require_active(user: User) -> None:
    if not (user.is_authenticated and user.is_active):
        raise PermissionDenied("Log in to see Critic Desk data.")


def dataset_list(*, user: User) -> QuerySet[Dataset]:
    require_active(user)
    return Dataset.objects.annotate(
        n_items=Count("items", distinct=True),
        n_pairwise=Count("items", filter=Q(items__kind=Kind.PAIRWISE), distinct=True),
        n_gold=Count("items", filter=Q(items__split="gold"), distinct=True),
    ).order_by("name")


def dataset_get(*, user: User, pk: int) -> Dataset:
    require_active(user)
    return get_object_or_404(Dataset, pk=pk)


class _ItemsAsSeen(ModelIterable):
    """Items as the asking user may see them: on an item they have not judged (annotation `seen`), a reviewer is not
    told which models wrote the responses, as the desk does not tell them before their verdict is in."""

    def __iter__(self) -> Iterator[Item]:
        for item in super().__iter__():
            item.models_hidden = not item.seen
            if item.models_hidden:
                item.model_a = item.model_b = ""
            yield item


def _items_seen_by(user: User) -> QuerySet[Item]:
    """Items with `seen`: True for an administrator, else whether this user has given a verdict on the item."""
    items = Item.objects.all()
    if is_admin(user):
        items = items.annotate(seen=Value(True, output_field=BooleanField()))
    else:
        items = items.annotate(seen=Exists(HumanVerdict.objects.filter(item=OuterRef("pk"), reviewer_id=user.pk)))
    items._iterable_class = _ItemsAsSeen
    return items


def item_list(*, user: User, dataset: Dataset, kind: str = "", split: str = "", search: str = "") -> QuerySet[Item]:
    """The dataset's items as this user may see them (see _ItemsAsSeen); the search matches the response models'
    names only on items whose names the user may see."""
    require_active(user)
    items = _items_seen_by(user).filter(dataset=dataset).select_related("image").order_by("id")
    if kind in Kind.values:
        items = items.filter(kind=kind)
    if split:
        items = items.filter(split=split)
    if search:
        models = Q(model_a__icontains=search) | Q(model_b__icontains=search)
        items = items.filter(Q(external_id__icontains=search) | Q(question__icontains=search) | (Q(seen=True) & models))
    return items


def item_get(*, user: User, pk: int) -> Item:
    require_active(user)
    return get_object_or_404(_items_seen_by(user).select_related("dataset", "image"), pk=pk)


@dataclass(frozen=True)
class SplitCounts:
    items: int
    gold: int

    @property
    def gold_share(self) -> float:
        return self.gold / self.items if self.items else 0.0


def dataset_split_counts(*, dataset: Dataset) -> SplitCounts:
    """How many items the dataset holds and how many of them are in the gold split (what is there, whatever the
    policy that put them there)."""
    counts = Item.objects.filter(dataset=dataset).aggregate(items=Count("pk"), gold=Count("pk", filter=Q(split="gold")))
    return SplitCounts(items=counts["items"], gold=counts["gold"])


def item_verdicts_visible(*, user: User, item: Item) -> tuple[list[HumanVerdict], list[CriticVerdict]]:
    """The verdicts this user may see on this item. Reviewers judge blind: until they have committed their own
    verdict they see none, neither the critic's nor other reviewers'. Administrators see all."""
    return item_verdicts_visible_many(user=user, items=[item])[item.pk]


def item_verdicts_visible_many(
    *, user: User, items: list[Item]
) -> dict[int, tuple[list[HumanVerdict], list[CriticVerdict]]]:
    """item_verdicts_visible for a page of items, in three queries whatever the page size."""
    require_active(user)
    ids = [item.pk for item in items]
    humans: dict[int, list[HumanVerdict]] = {pk: [] for pk in ids}
    critics: dict[int, list[CriticVerdict]] = {pk: [] for pk in ids}
    for h in HumanVerdict.objects.filter(item_id__in=ids).select_related("reviewer").order_by("committed_at"):
        humans[h.item_id].append(h)
    for c in (
        CriticVerdict.objects.filter(item_id__in=ids, probe="")
        .select_related("checkpoint")
        .order_by("checkpoint__name")
    ):
        critics[c.item_id].append(c)
    admin = is_admin(user)
    return {
        pk: (humans[pk], critics[pk]) if admin or any(h.reviewer_id == user.pk for h in humans[pk]) else ([], [])
        for pk in ids
    }


def image_get(*, user: User, sha256: str) -> Image:
    """An image the user may see: one shown by an item of a dataset they can see."""
    require_active(user)
    return get_object_or_404(Image.objects.filter(items__isnull=False).distinct(), sha256=sha256)


def import_job_get(*, user: User, pk: int) -> ImportJob:
    require_active(user)
    return get_object_or_404(ImportJob.objects.select_related("dataset", "created_by"), pk=pk)
