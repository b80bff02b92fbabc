"""Reads of datasets and items, each checked against who is asking. Every active account sees every dataset
(a team tool, as Label Studio's organisations are); access still goes through here, so narrowing it later
is a change in one place."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, QuerySet
from django.shortcuts import get_object_or_404

from annotations.models import CriticVerdict, Dataset, HumanVerdict, Image, Item, Kind
from annotations.permissions import is_admin

User = AbstractBaseUser | AnonymousUser


def _require_active(user: User) -> None:
    if not (user.is_authenticated and user.is_active):
        raise PermissionDenied("Log in to see Critic Desk data.")


def dataset_list(*, user: User) -> QuerySet[Dataset]:
    _require_active(user)
    return Dataset.objects.annotate(
        n_items=Count("items", distinct=True),
        n_pairwise=Count("items", filter=Q(items__kind=Kind.PAIRWISE), distinct=True),
        n_gold=Count("items", filter=Q(items__split="gold"), distinct=True),
    ).order_by("name")


def dataset_get(*, user: User, pk: int) -> Dataset:
    _require_active(user)
    return get_object_or_404(Dataset, pk=pk)


def item_list(*, user: User, dataset: Dataset, kind: str = "", split: str = "", search: str = "") -> QuerySet[Item]:
    _require_active(user)
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
    _require_active(user)
    return get_object_or_404(Item.objects.select_related("dataset", "image"), pk=pk)


def item_verdicts_visible(*, user: User, item: Item) -> tuple[list[HumanVerdict], list[CriticVerdict]]:
    """The verdicts this user may see on this item. Reviewers judge blind: until they have committed their own
    verdict they see none, neither the critic's nor other reviewers'. Administrators see all."""
    _require_active(user)
    humans = list(item.human_verdicts.select_related("reviewer").order_by("committed_at"))
    if not is_admin(user) and not any(v.reviewer_id == user.pk for v in humans):
        return [], []
    critics = list(item.critic_verdicts.select_related("checkpoint").order_by("checkpoint__name"))
    return humans, critics


def image_get(*, user: User, sha256: str) -> Image:
    """An image the user may see: one shown by an item of a dataset they can see."""
    _require_active(user)
    return get_object_or_404(Image.objects.filter(items__isnull=False).distinct(), sha256=sha256)
