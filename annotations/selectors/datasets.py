"""Reads of datasets and items, each checked against who is asking. Every active account sees every dataset
(a team tool, as Label Studio's organisations are); access still goes through here, so narrowing it later
is a change in one place."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, QuerySet
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


def item_list(*, user: User, dataset: Dataset, kind: str = "", split: str = "", search: str = "") -> QuerySet[Item]:
    require_active(user)
    items = Item.objects.filter(dataset=dataset).select_related("image").order_by("id")
    if kind in Kind.values:
        items = items.filter(kind=kind)
    if split:
        items = items.filter(split=split)
    if search:
        items = items.filter(
            Q(external_id__icontains=search)
            | Q(question__icontains=search)
            | Q(model_a__icontains=search)
            | Q(model_b__icontains=search)
        )
    return items


def item_get(*, user: User, pk: int) -> Item:
    require_active(user)
    return get_object_or_404(Item.objects.select_related("dataset", "image"), pk=pk)


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
        CriticVerdict.objects.filter(item_id__in=ids, swapped=False)
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
