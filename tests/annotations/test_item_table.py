"""The item table: filters, sorts and pages, the blind rule on every column and filter, and the bulk actions."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from annotations.models import CriticVerdict, HumanVerdict, Item
from annotations.selectors import item_table
from annotations.selectors.item_table import ADMIN_SORTS, SORTS
from annotations.services.imports import items_import
from annotations.services.verdict_summary import critic_disagreement_refresh, items_recount
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
    summarized(dataset)
    return dataset, items


def summarized(dataset) -> None:  # type: ignore[no-untyped-def]
    """What the services that write verdicts keep on the rows, for verdicts written here straight to the database."""
    items_recount(dataset=dataset)
    critic_disagreement_refresh(dataset=dataset)


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
    assert "4 items" in page  # fewer than a page: counted from the page's own rows
    assert "1 item<" in get(admin_client, dataset, q="disag")
    assert "0 items" in get(admin_client, dataset, q="zz")
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


# Each item's critic verdict (a confidence; None: done without one; "failed"; "-": none) and its human verdicts: most
# items rated, or few (the confidence order's two parts met from either end).
MOSTLY_RATED = ([0.3, 0.3, None, "failed", 0.9, 0.1, 0.2, 0.5, 0.6, 0.8, 0.4], [2, 0, 1, 2, 0, 1, 0, 1, 2, 0, 1])
FEW_RATED = ([0.3, None, "failed", "-", "-", 0.7, "-", None, "failed", "-", "-"], [1, 0, 2, 0, 1, 0, 0, 2, 1, 0, 2])


@pytest.mark.parametrize("fetch_all", [0, 10_000])
@pytest.mark.parametrize(("critics", "humans"), [MOSTLY_RATED, FEW_RATED])
def test_every_sort_pages_through_one_order_from_either_end(
    admin_client: Client, monkeypatch: pytest.MonkeyPatch, fetch_all: int, critics: list[object], humans: list[int]
) -> None:
    """Pages are read from the nearer end and the confidence order in two parts (a verdict with a confidence, then
    the rest): every page, first to last, still lists the order that sorting every row gives, ties by id."""
    monkeypatch.setattr(item_table, "PAGE_SIZE", 2)
    monkeypatch.setattr(item_table._ByConfidence, "FETCH_ALL", fetch_all)
    critic, dataset, reviewers = CheckpointFactory(is_active=True), DatasetFactory(), UserFactory.create_batch(2)
    n = len(critics)
    image = ItemFactory(dataset=dataset, external_id="x0").image
    made = [Item.objects.get(dataset=dataset)] + [
        ItemFactory(dataset=dataset, image=image, external_id=f"x{(3 * k) % n}") for k in range(1, n)
    ]
    for item, confidence, count in zip(made, critics, humans, strict=True):
        for reviewer in reviewers[:count]:
            HumanVerdict.objects.create(item=item, reviewer=reviewer, profile="pointwise", score=50)
        if confidence == "failed":
            CriticVerdict.objects.create(item=item, checkpoint=critic, profile="pointwise", status="failed")
        elif confidence != "-":
            CriticVerdict.objects.create(
                item=item, checkpoint=critic, profile="pointwise", status="done", score=50, confidence=confidence
            )
    summarized(dataset)
    rated = [(c, i.pk, i.external_id) for i, c in zip(made, critics, strict=True) if isinstance(c, float)]
    others = [(i.pk, i.external_id) for i, c in zip(made, critics, strict=True) if not isinstance(c, float)]
    counts = {i.external_id: count for i, count in zip(made, humans, strict=True)}
    by_id = [i.external_id for i in sorted(made, key=lambda i: i.pk)]
    expected = {
        "id": by_id,
        "-id": by_id[::-1],
        "external_id": sorted(by_id),
        "verdicts": sorted(by_id, key=lambda x: (counts[x], by_id.index(x))),
        "-verdicts": sorted(by_id, key=lambda x: (counts[x], by_id.index(x)), reverse=True),
        "confidence": [x for *_, x in sorted(rated)] + [x for _, x in sorted(others)],
        "-confidence": [x for *_, x in sorted(rated, reverse=True)] + [x for _, x in sorted(others, reverse=True)],
    }
    assert set(expected) == set(SORTS) | set(ADMIN_SORTS)
    for sort, order in expected.items():
        pages = [ids(get(admin_client, dataset, sort=sort, page=str(k))) for k in range(1, (n + 3) // 2)]
        assert [x for page in pages for x in page] == order, sort


def test_a_reviewers_disagreement_filter_reads_only_their_own_verdict(
    reviewer_client: Client, admin_client: Client, reviewer
) -> None:  # type: ignore[no-untyped-def]
    """People's disagreement with the critic is kept on its verdict for administrators' filter: the reviewer's
    filter must not read it, or an item they agree on would be listed because someone else disagrees."""
    critic, dataset = CheckpointFactory(is_active=True), DatasetFactory()
    shared = ItemFactory(dataset=dataset, external_id="shared")
    CriticVerdict.objects.create(item=shared, checkpoint=critic, profile="pointwise", status="done", score=80)
    HumanVerdict.objects.create(item=shared, reviewer=reviewer, profile="pointwise", score=78)
    HumanVerdict.objects.create(item=shared, reviewer=UserFactory(), profile="pointwise", score=5)
    summarized(dataset)
    assert ids(get(admin_client, dataset, critic="disagree")) == ["shared"]
    mine = get(reviewer_client, dataset, critic="disagree")
    assert ids(mine) == []
    assert "0 items" in mine
