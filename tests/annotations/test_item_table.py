"""The item table: filters, sorts and pages, the blind rule on every column and filter, and the bulk actions."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from annotations.models import CriticVerdict, HumanVerdict, Item
from annotations.services.imports import items_import
from tests.factories import CheckpointFactory, DatasetFactory, ItemFactory, PairwiseItemFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(reviewer):  # type: ignore[no-untyped-def]
    """Four items judged by another reviewer and a critic; `reviewer` (rita) has judged only `mine`."""
    critic = CheckpointFactory(is_active=True)
    other = UserFactory(username="otto")
    dataset = DatasetFactory(name="table")
    items = {
        "agree": ItemFactory(dataset=dataset, external_id="agree", model_a="SECRET-MODEL-1"),
        "disagree": ItemFactory(dataset=dataset, external_id="disagree", model_a="SECRET-MODEL-2"),
        "forced": ItemFactory(dataset=dataset, external_id="forced", model_a="SECRET-MODEL-3", split="gold"),
        "mine": PairwiseItemFactory(dataset=dataset, external_id="mine", model_a="OPEN-A", model_b="OPEN-B"),
    }
    for name, score in (("agree", 80), ("disagree", 10), ("forced", 85)):
        HumanVerdict.objects.create(item=items[name], reviewer=other, profile="pointwise", score=score)
        CriticVerdict.objects.create(
            item=items[name], checkpoint=critic, profile="pointwise", status="done", score=82, forced=name == "forced"
        )
    HumanVerdict.objects.create(item=items["mine"], reviewer=reviewer, profile="pairwise", preference="A")
    CriticVerdict.objects.create(
        item=items["mine"], checkpoint=critic, profile="pairwise", status="done", preference="B", confidence=0.9
    )
    return dataset, items


def ids(page: str) -> list[str]:
    return [cell.split('">')[1].split("<")[0] for cell in page.split('<td><a href="/items/')[1:]]


def get(client: Client, dataset, **params: str) -> str:  # type: ignore[no-untyped-def]
    return client.get(reverse("item-table", args=[dataset.pk]), params).content.decode()


def test_a_reviewer_sees_nothing_hidden_on_items_they_have_not_judged(reviewer_client: Client, world) -> None:  # type: ignore[no-untyped-def]
    dataset, _ = world
    page = get(reviewer_client, dataset)
    assert ids(page) == ["agree", "disagree", "forced", "mine"]
    assert "SECRET-MODEL" not in page
    assert page.count("hidden until you judge it") == 3
    assert "OPEN-A / OPEN-B" in page  # judged: revealed
    assert "0.90" in page
    # Filters that read hidden values look only at the items the reviewer has judged.
    for params in ({"model": "SECRET-MODEL-2"}, {"critic": "forced"}, {"critic": "disagree"}, {"sort": "confidence"}):
        narrowed = get(reviewer_client, dataset, **params)
        assert "SECRET-MODEL-1" not in narrowed  # (the filter's own value is echoed back, nothing else)
        assert "SECRET-MODEL-3" not in narrowed
        assert set(ids(narrowed)) <= {"mine", "agree", "disagree", "forced"}
        if "sort" not in params:
            assert set(ids(narrowed)) <= {"mine"}, params
    assert ids(get(reviewer_client, dataset, critic="disagree")) == ["mine"]  # their own verdict against the critic
    assert "SECRET-MODEL" not in get(reviewer_client, dataset)  # not even in the model filter's options


def test_administrators_filter_by_every_column(admin_client: Client, world) -> None:  # type: ignore[no-untyped-def]
    dataset, _ = world
    page = get(admin_client, dataset)
    assert "SECRET-MODEL-1" in page
    assert "hidden until you judge it" not in page
    assert ids(get(admin_client, dataset, critic="disagree")) == ["disagree", "mine"]
    assert ids(get(admin_client, dataset, critic="forced")) == ["forced"]
    assert ids(get(admin_client, dataset, split="gold")) == ["forced"]
    assert ids(get(admin_client, dataset, model="OPEN-B")) == ["mine"]
    assert ids(get(admin_client, dataset, profile="pairwise")) == ["mine"]
    assert ids(get(admin_client, dataset, q="disag")) == ["disagree"]
    assert ids(get(admin_client, dataset, mine="unjudged")) == ["agree", "disagree", "forced", "mine"]
    assert ids(get(admin_client, dataset, sort="-id"))[0] == "mine"
    assert ids(get(admin_client, dataset, sort="bogus", split="nowhere")) == ["agree", "disagree", "forced", "mine"]
    fragment = admin_client.get(reverse("item-table", args=[dataset.pk]), headers={"HX-Request": "true"})
    assert fragment.content.decode().lstrip().startswith('<section id="table">')


def test_a_page_costs_the_same_queries_at_any_size(admin_client: Client, django_assert_max_num_queries) -> None:  # type: ignore[no-untyped-def]
    small, large = DatasetFactory(), DatasetFactory()
    image = ItemFactory(dataset=small).image
    Item.objects.bulk_create(
        [
            Item(
                dataset=large,
                external_id=f"x{i}",
                image=image,
                question="Q",
                response_a="A",
                kind="pointwise",
                profile="pointwise",
            )
            for i in range(300)
        ]
    )
    CheckpointFactory(is_active=True)
    with django_assert_max_num_queries(12):
        get(admin_client, small, critic="disagree", sort="verdicts")
    with django_assert_max_num_queries(12):
        get(admin_client, large, critic="disagree", sort="verdicts")


def test_bulk_actions_are_for_administrators_and_do_what_they_say(
    admin_client: Client, reviewer_client: Client, world, tmp_path: Path, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    dataset, items = world
    url = reverse("item-bulk", args=[dataset.pk])
    assert reviewer_client.post(url, {"action": "delete", "all": "1"}).status_code == 403
    assert Item.objects.filter(dataset=dataset).count() == 4

    admin_client.post(url, {"action": "to-gold", "ids": [items["agree"].pk]})
    assert Item.objects.get(pk=items["agree"].pk).split == "gold"
    fresh = ItemFactory(dataset=dataset, external_id="fresh")
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(url, {"action": "judge", "ids": [fresh.pk]})
    assert fresh.critic_verdicts.get().status == "queued"
    response = admin_client.post(url, {"action": "delete", "all": "1"}, follow=True)
    assert "Deleted 1 item; kept 4 items: people have judged them." in response.content.decode()
    assert not Item.objects.filter(pk=fresh.pk).exists()

    # Export what the filter matches; the zip imports into another dataset as the same items.
    zipped = admin_client.post(url, {"action": "export", "all": "1", "split": "gold"})
    assert zipped["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(zipped.content))
    (tmp_path / "x").mkdir()
    archive.extractall(tmp_path / "x")
    copy = DatasetFactory()
    report = items_import(dataset=copy, path=tmp_path / "x" / "items.jsonl", images=tmp_path / "x")
    assert report.ok, report.problems
    assert sorted(copy.items.values_list("external_id", "split")) == [("agree", "gold"), ("forced", "gold")]
    assert copy.items.get(external_id="agree").image.normalized_sha256 == items["agree"].image.normalized_sha256


def test_bulk_without_a_selection_or_an_action_says_what_is_missing(admin_client: Client, world) -> None:  # type: ignore[no-untyped-def]
    dataset, _ = world
    url = reverse("item-bulk", args=[dataset.pk])
    assert "No item is selected" in admin_client.post(url, {"action": "to-gold"}, follow=True).content.decode()
    assert "Choose an action" in admin_client.post(url, {"all": "1"}, follow=True).content.decode()
    assert not Item.objects.filter(split="gold").exclude(external_id="forced").exists()


def test_review_these_serves_the_filtered_items_until_cleared(reviewer_client: Client) -> None:
    dataset = DatasetFactory()
    ItemFactory(dataset=dataset, external_id="pool-1")
    gold = ItemFactory(dataset=dataset, external_id="gold_1%", split="gold")
    url = reverse("review-next", args=[dataset.pk])
    page = reviewer_client.get(url, {"split": "gold", "q": "_1%", "scope": "table"}).content.decode()
    assert f'action="{reverse("review-submit", args=[gold.pk])}"' in page
    assert "Reviewing part of the dataset" in page
    reviewer_client.post(reverse("review-submit", args=[gold.pk]), {"score": "5"})
    assert HumanVerdict.objects.filter(item=gold).exists()
    assert "Nothing left for you to review in this part" in reviewer_client.get(url).content.decode()  # kept
    assert "pool-1" not in reviewer_client.get(url, {"q": "pool", "scope": "table", "split": "gold"}).content.decode()
    everything = reviewer_client.get(url, {"scope": "all"}).content.decode()
    assert "Reviewing part of the dataset" not in everything
    assert "Nothing left" not in everything
