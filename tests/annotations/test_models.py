"""The database itself keeps the data right: these writes bypass every service and must still fail."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from annotations.models import CriticCheckpoint, CriticVerdict, HumanVerdict, Image, Item
from tests.factories import CheckpointFactory, DatasetFactory, ItemFactory, PairwiseItemFactory, UserFactory

pytestmark = pytest.mark.django_db


def refused(model_class: type, **fields: Any) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        model_class.objects.create(**fields)


def test_item_ids_are_unique_per_dataset_only() -> None:
    item = ItemFactory(external_id="q1")
    refused(
        Item,
        dataset=item.dataset,
        external_id="q1",
        image=item.image,
        question="?",
        response_a="r",
        kind="pointwise",
        profile="pointwise",
    )
    other = ItemFactory(external_id="q1", image=item.image)
    assert other.dataset != item.dataset


@pytest.mark.parametrize(
    ("kind", "profile", "response_b", "model_b"),
    [
        ("pointwise", "pointwise", "a second response", ""),  # one-response item carrying two
        ("pointwise", "pointwise", "", "model-b"),  # a second model without a second response
        ("pairwise", "pairwise", "", ""),  # pairwise with one response
        ("pointwise", "pairwise", "", ""),  # a pairwise profile on a pointwise item
        ("pairwise", "llava-bench", "b", "m"),  # a score profile on a pairwise item
        ("pointwise", "no-such-profile", "", ""),
    ],
)
def test_item_responses_must_fit_its_kind_and_profile(kind: str, profile: str, response_b: str, model_b: str) -> None:
    item = ItemFactory()
    refused(
        Item,
        dataset=item.dataset,
        external_id="x",
        image=item.image,
        question="?",
        response_a="r",
        kind=kind,
        profile=profile,
        response_b=response_b,
        model_b=model_b,
    )


def test_item_needs_a_question_and_a_response() -> None:
    item = ItemFactory()
    refused(
        Item,
        dataset=item.dataset,
        external_id="x",
        image=item.image,
        question="",
        response_a="r",
        kind="pointwise",
        profile="pointwise",
    )
    refused(
        Item,
        dataset=item.dataset,
        external_id="y",
        image=item.image,
        question="?",
        response_a="",
        kind="pointwise",
        profile="pointwise",
    )


def test_images_are_stored_once_by_sha256() -> None:
    image = ItemFactory().image
    refused(Image, sha256=image.sha256, file="x", thumbnail="y", width=1, height=1, format="PNG", size_bytes=1)
    refused(Image, sha256="not-a-sha", file="x", thumbnail="y", width=1, height=1, format="PNG", size_bytes=1)


def test_one_human_verdict_per_item_and_reviewer() -> None:
    item, reviewer = ItemFactory(), UserFactory()
    HumanVerdict.objects.create(item=item, reviewer=reviewer, profile="pointwise", score=70)
    refused(HumanVerdict, item=item, reviewer=reviewer, profile="pointwise", score=40)
    HumanVerdict.objects.create(item=item, reviewer=UserFactory(), profile="pointwise", score=40)


@pytest.mark.parametrize(
    ("profile", "score", "preference", "ok"),
    [
        ("pointwise", 0, None, True),
        ("pointwise", 100, None, True),
        ("pointwise", 100.5, None, False),
        ("pointwise", -1, None, False),
        ("llava-bench", 10, None, True),
        ("llava-bench", 11, None, False),
        ("llava-bench", 0, None, False),
        ("pointwise", None, "A", False),  # a preference on a score profile
        ("pointwise", None, None, False),  # no verdict at all
        ("pairwise", None, "tie", True),
        ("pairwise", None, "C", False),
        ("pairwise", 50, "A", False),  # a score on a preference profile
        ("wildvision", None, "B", True),
    ],
)
def test_human_verdict_fits_its_profile(profile: str, score: float | None, preference: str | None, ok: bool) -> None:
    item = (
        PairwiseItemFactory()
        if profile in {"pairwise", "wildvision"}
        else ItemFactory(profile=profile, reference="ref")
    )
    fields = dict(item=item, reviewer=UserFactory(), profile=profile, score=score, preference=preference)
    if ok:
        HumanVerdict.objects.create(**fields)
    else:
        refused(HumanVerdict, **fields)


def test_a_revision_is_kept_beside_the_blind_verdict() -> None:
    verdict = HumanVerdict.objects.create(item=ItemFactory(), reviewer=UserFactory(), profile="pointwise", score=30)
    HumanVerdict.objects.filter(pk=verdict.pk).update(revised_score=80, revised_at=timezone.now())
    verdict.refresh_from_db()
    assert (verdict.score, verdict.revised_score) == (30, 80)
    with pytest.raises(IntegrityError), transaction.atomic():
        HumanVerdict.objects.filter(pk=verdict.pk).update(revised_score=180)
    with pytest.raises(IntegrityError), transaction.atomic():  # an undated revision
        HumanVerdict.objects.filter(pk=verdict.pk).update(revised_at=None)


def test_one_critic_verdict_per_item_and_checkpoint() -> None:
    item, checkpoint = ItemFactory(), CheckpointFactory()
    CriticVerdict.objects.create(item=item, checkpoint=checkpoint, profile="pointwise")
    refused(CriticVerdict, item=item, checkpoint=checkpoint, profile="pointwise")
    CriticVerdict.objects.create(item=item, checkpoint=CheckpointFactory(), profile="pointwise")


def test_critic_verdict_shape() -> None:
    item, checkpoint = ItemFactory(), CheckpointFactory()
    refused(CriticVerdict, item=item, checkpoint=checkpoint, profile="pointwise", status="done")  # done, no verdict
    refused(CriticVerdict, item=item, checkpoint=checkpoint, profile="pointwise", status="done", score=101)
    refused(
        CriticVerdict, item=item, checkpoint=checkpoint, profile="pointwise", status="done", score=50, confidence=1.5
    )
    refused(CriticVerdict, item=item, checkpoint=checkpoint, profile="pointwise", status="lost")
    CriticVerdict.objects.create(
        item=item, checkpoint=checkpoint, profile="pointwise", status="done", score=50, confidence=0.4
    )


def test_only_one_active_checkpoint() -> None:
    CheckpointFactory(is_active=True)
    refused(CriticCheckpoint, name="second", model="/m", is_active=True)
    refused(CriticCheckpoint, name="no-model", model="")  # only external judges have no model
    CriticCheckpoint.objects.create(name="gpt-4o", is_external=True)


def test_dataset_settings_are_checked() -> None:
    from annotations.models import Dataset

    refused(Dataset, name="a", review_overlap=0)
    refused(Dataset, name="b", disagreement_threshold=1.5)
    refused(Dataset, name="c", pointwise_profile="pairwise")
    DatasetFactory(review_overlap=3)
