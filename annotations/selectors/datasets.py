"""Reads of datasets and items, each checked against who is asking. Every active account sees every dataset
(a team tool, as Label Studio's organisations are); access still goes through here, so narrowing it later
is a change in one place."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db.models import BooleanField, Count, Exists, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.db.models.query import ModelIterable
from django.shortcuts import get_object_or_404

from annotations.models import CriticVerdict, Dataset, HumanVerdict, Image, ImportJob, Item, ItemImage, Kind
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
    """Items with `seen` (the response models' names may be shown): True for an administrator, else whether this
    user has given a verdict on the item. The desk hides the names until then, so every page does, from the one
    who uploaded the item too (the names may come from a file someone else prepared)."""
    items = Item.objects.all()
    if is_admin(user):
        items = items.annotate(seen=Value(True, output_field=BooleanField()))
    else:
        items = items.annotate(seen=Exists(HumanVerdict.objects.filter(item=OuterRef("pk"), reviewer_id=user.pk)))
    items._iterable_class = _ItemsAsSeen
    return items


def item_list(*, user: User, dataset: Dataset, kind: str = "", split: str = "", search: str = "") -> QuerySet[Item]:
    """The dataset's items as this user may see them (see _ItemsAsSeen), each with its first image and the count of
    its others (`more_images_count`); the search matches the response models' names only on items whose names the
    user may see."""
    require_active(user)
    items = _items_seen_by(user).filter(dataset=dataset).select_related("image").order_by("id")
    items = items.annotate(more_images_count=more_images_count())
    if kind in Kind.values:
        items = items.filter(kind=kind)
    if split:
        items = items.filter(split=split)
    if search:
        models = Q(model_a__icontains=search) | Q(model_b__icontains=search)
        items = items.filter(Q(external_id__icontains=search) | Q(question__icontains=search) | (Q(seen=True) & models))
    return items


def more_images_count() -> Coalesce:
    """An item's images after its first, counted in a subquery (no grouping of the item's own query)."""
    counted = ItemImage.objects.filter(item=OuterRef("pk")).values("item").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted), 0)


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
    """An image the user may see: one shown by an item of a dataset they can see (as its first image or another)."""
    require_active(user)
    shown = Exists(Item.objects.filter(image=OuterRef("pk"))) | Exists(ItemImage.objects.filter(image=OuterRef("pk")))
    return get_object_or_404(Image.objects.filter(shown), sha256=sha256)


def import_jobs_visible(*, user: User) -> QuerySet[ImportJob]:
    """The import jobs this user may follow: their own; every one for an administrator. Another person's report can
    say what their file held (counts of labels and judges' verdicts, problems that quote a row's values), so a
    reviewer does not see it: 404, as for a job that does not exist."""
    require_active(user)
    jobs = ImportJob.objects.select_related("dataset", "created_by")
    return jobs if is_admin(user) else jobs.filter(created_by_id=user.pk)


def import_job_get(*, user: User, pk: int) -> ImportJob:
    return get_object_or_404(import_jobs_visible(user=user), pk=pk)
