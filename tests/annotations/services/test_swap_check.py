"""The swap check: pairwise items judged again with A and B exchanged. It measures position bias and must never
be taken for the critic's verdict anywhere a verdict is read."""

from __future__ import annotations

import pytest
import redis
from django.conf import settings
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from annotations.models import CriticCheckpoint, CriticVerdict, HumanVerdict
from annotations.selectors.datasets import item_verdicts_visible
from annotations.selectors.judging import critic_progress
from annotations.selectors.review import review_reveal
from annotations.services import judging, review
from tests.factories import (
    AdminFactory,
    CheckpointFactory,
    DatasetFactory,
    ItemFactory,
    PairwiseItemFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def broker():  # type: ignore[no-untyped-def]
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.flushdb()
    yield client
    client.flushdb()


def test_a_swap_check_queues_each_pairwise_item_once() -> None:
    dataset = DatasetFactory()
    checkpoint = CheckpointFactory(is_active=True)
    pairs = [PairwiseItemFactory(dataset=dataset) for _ in range(3)]
    ItemFactory(dataset=dataset)  # pointwise: nothing to swap
    result = judging.swap_checks_queue(dataset=dataset, checkpoint=checkpoint)
    assert result.queued == 3
    checks = CriticVerdict.objects.filter(probe="swap")
    assert sorted(checks.values_list("item_id", flat=True)) == sorted(p.pk for p in pairs)
    assert set(checks.values_list("status", flat=True)) == {"queued"}
    assert judging.swap_checks_queue(dataset=dataset, checkpoint=checkpoint).queued == 0
    checks.filter(item=pairs[0]).update(status="failed", error="boom")
    assert judging.swap_checks_queue(dataset=dataset, checkpoint=checkpoint).queued == 1  # failed ones again


def test_a_dataset_without_pairwise_items_has_nothing_to_swap() -> None:
    dataset = DatasetFactory()
    ItemFactory(dataset=dataset)
    assert judging.swap_checks_queue(dataset=dataset, checkpoint=CheckpointFactory(is_active=True)).queued == 0
    assert not CriticVerdict.objects.exists()


def test_an_external_judge_cannot_be_asked_again() -> None:
    dataset = DatasetFactory()
    PairwiseItemFactory(dataset=dataset)
    gpt = CriticCheckpoint.objects.create(name="gpt-4o", is_external=True)
    with pytest.raises(ValidationError, match="external judge"):
        judging.swap_checks_queue(dataset=dataset, checkpoint=gpt)
    assert not CriticVerdict.objects.exists()


def test_a_swapped_verdict_never_shows_as_the_critics_verdict() -> None:
    dataset = DatasetFactory()
    checkpoint = CheckpointFactory(is_active=True)
    item = PairwiseItemFactory(dataset=dataset)
    CriticVerdict.objects.create(
        item=item, checkpoint=checkpoint, profile="pairwise", status="done", preference="B", probe="swap"
    )
    rita = UserFactory()
    admin = UserFactory(is_staff=True)
    HumanVerdict.objects.create(item=item, reviewer=rita, profile="pairwise", preference="A")
    # Only the swap check exists: no critic verdict yet, anywhere.
    assert item_verdicts_visible(user=admin, item=item)[1] == []
    reveal = review_reveal(reviewer=rita, item=item, checkpoint=checkpoint)
    assert reveal is not None
    assert reveal.critic is None
    progress = critic_progress(dataset=dataset, checkpoint=checkpoint)
    assert (progress.done, progress.missing) == (0, 1)
    # Judging the dataset still queues the item (the swap check is not its verdict).
    assert judging.verdicts_queue(dataset=dataset, checkpoint=checkpoint, only_missing=True).queued == 1
    CriticVerdict.objects.filter(probe="").update(status="done", preference="A")
    visible = item_verdicts_visible(user=admin, item=item)[1]
    assert [(v.preference, v.swapped) for v in visible] == [("A", False)]
    reveal = review_reveal(reviewer=rita, item=item, checkpoint=checkpoint)
    assert reveal is not None
    assert reveal.critic is not None
    assert reveal.critic.preference == "A"
    assert reveal.agrees is True


def test_a_swapped_verdict_does_not_count_in_the_disagreement_order() -> None:
    dataset = DatasetFactory(review_overlap=2)
    checkpoint = CheckpointFactory()
    agreed, other = PairwiseItemFactory(dataset=dataset), PairwiseItemFactory(dataset=dataset)
    voter = UserFactory()
    for item in (agreed, other):
        CriticVerdict.objects.create(
            item=item, checkpoint=checkpoint, profile="pairwise", status="done", preference="A"
        )
        HumanVerdict.objects.create(item=item, reviewer=voter, profile="pairwise", preference="A")
    # A flipped swap check on the first item: were it read as the verdict, that item would come first.
    CriticVerdict.objects.create(
        item=agreed, checkpoint=checkpoint, profile="pairwise", status="done", preference="B", probe="swap"
    )
    rita = AdminFactory()  # disagreement-first is for administrators
    first = review.review_next(
        reviewer=rita, dataset_id=dataset.pk, order="disagreement-first", checkpoint_id=checkpoint.pk
    )
    assert first == agreed  # no disagreement anywhere: plain order


def test_the_api_shows_no_swapped_verdict(reviewer_client: Client) -> None:
    from annotations.services.tokens import api_token_create

    admin = UserFactory(is_staff=True)
    token = api_token_create(user=admin)
    item = PairwiseItemFactory()
    checkpoint = CheckpointFactory()
    CriticVerdict.objects.create(item=item, checkpoint=checkpoint, profile="pairwise", status="done", preference="A")
    CriticVerdict.objects.create(
        item=item, checkpoint=checkpoint, profile="pairwise", status="done", preference="B", probe="swap"
    )
    data = Client().get(f"/api/items/{item.pk}", headers={"Authorization": f"Bearer {token}"}).json()
    assert [v["preference"] for v in data["critic_verdicts"]] == ["A"]


def test_admins_queue_it_from_the_dataset_page(admin_client: Client, reviewer_client: Client) -> None:
    dataset = DatasetFactory()
    PairwiseItemFactory(dataset=dataset)
    CheckpointFactory(is_active=True)
    url = reverse("dataset-swap-check", args=[dataset.pk])
    assert reviewer_client.post(url).status_code == 403
    assert not CriticVerdict.objects.exists()
    response = admin_client.post(url, follow=True)
    assert "Queued a swap check of 1 pairwise item for" in response.content.decode()
    assert CriticVerdict.objects.filter(probe="swap").count() == 1
