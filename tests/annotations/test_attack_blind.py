"""The blind rule and the role rules, attacked as a hostile reviewer would: not by reading a hidden value off a page
(tests/annotations/test_blind_rule.py walks every page for those) but through side channels, where a filter's
result, a count or an order differs by a value the reviewer may not see yet. Each probe compares what a reviewer who
has judged nothing gets for a hidden value that is there against one that is not: any difference is a leak."""

from __future__ import annotations

import base64
import json

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from annotations.models import CriticVerdict, HumanVerdict, ImportJob, Item
from annotations.selectors.item_table import CRITIC, MINE, SORTS
from annotations.services.import_jobs import import_job_run
from annotations.services.tokens import api_token_create
from tests.annotations.test_blind_rule import N_ITEMS, World, world  # noqa: F401  (the fixture)
from tests.images import png_bytes

pytestmark = pytest.mark.django_db


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _table_ids(client: Client, seen: World, **params: str) -> list[str]:
    """The external ids the item table lists, in its order."""
    body = client.get(reverse("item-table", args=[seen.dataset.pk]), params).content.decode()
    return _in_order(body, [item.external_id for item in seen.items])


def _in_order(body: str, names: list[str]) -> list[str]:
    found = [(body.find(f">{name}<"), name) for name in names]
    return [name for at, name in sorted(found) if at >= 0]


@pytest.fixture
def varied(world: World) -> World:  # noqa: F811
    """The world with critic states that differ item by item: item-1's verdict was forced, item-2's failed, and
    the confidences run against the ids, so that an order by confidence would be the reverse of the default."""
    CriticVerdict.objects.filter(item=world.items[1]).update(forced=True, confidence=0.5)
    CriticVerdict.objects.filter(item=world.items[2]).update(status="failed", error="critic-error-2-zq")
    CriticVerdict.objects.filter(item=world.items[0]).update(confidence=0.99)
    return world


def test_item_table_filters_by_model_or_critic_tell_nothing_of_unjudged_items(varied: World) -> None:
    """`mine=unjudged` with a hidden model name or a critic state listed exactly the unjudged items that had it."""
    client = _client(varied.newcomer)
    hidden_models = ["model-alpha-0-zq", "model-alpha-1-zq", "model-alpha-2-zq", "model-beta-2-zq"]
    for mine in ["", *MINE]:
        baseline = _table_ids(client, varied, mine=mine, model="no-such-model")
        for model in hidden_models:
            assert _table_ids(client, varied, mine=mine, model=model) == baseline, (mine, model)
        for critic in CRITIC:
            # The reviewer has judged nothing, so a filter on the critic has nothing it may look at.
            assert _table_ids(client, varied, mine=mine, critic=critic) == [], (mine, critic)


def test_item_table_counts_and_orders_do_not_depend_on_hidden_values(varied: World) -> None:
    client = _client(varied.newcomer)
    in_id_order = [item.external_id for item in varied.items]
    for sort in ("confidence", "-confidence"):  # administrators' orders: a reviewer's fall back to the default
        assert _table_ids(client, varied, sort=sort) == in_id_order
    for sort in SORTS:
        assert sorted(_table_ids(client, varied, sort=sort)) == sorted(in_id_order)
    page = client.get(reverse("item-table", args=[varied.dataset.pk]), {"critic": "failed"}).content.decode()
    assert "critic-error-2-zq" not in page
    assert "0 items" in page


def test_the_desk_scoped_to_the_table_never_filters_by_hidden_values(varied: World) -> None:
    """ "Review these" carries the table's filters to the desk: model or critic there would serve only the items
    that match a hidden value (the first item served would say which)."""
    client = _client(varied.newcomer)
    url = reverse("review-next", args=[varied.dataset.pk])
    desk = client.get(url, {"scope": "table", "model": "model-alpha-2-zq", "critic": "failed", "mine": "judged"})
    body = desk.content.decode()
    first = varied.items[0]
    assert reverse("review-submit", args=[first.pk]) in body  # the default order, not the filtered one


def test_api_item_list_and_offsets_say_nothing_of_hidden_values(varied: World) -> None:
    token = api_token_create(user=varied.newcomer)
    auth = {"Authorization": f"Bearer {token}"}
    url = f"/api/datasets/{varied.dataset.pk}/items"
    for offset in range(N_ITEMS + 1):
        page = Client().get(url, {"offset": str(offset), "limit": "1"}, headers=auth).json()
        assert page["count"] == N_ITEMS
        text = json.dumps(page)
        assert "zq" not in text.replace("other-reviewer-zq", "")  # no model, justification or rationale
        for item in page["items"]:
            assert (item["critic_verdicts"], item["human_verdicts"]) == (None, None)


def _upload(name: str, content: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content.encode(), content_type="application/octet-stream")


def test_a_reviewers_import_cannot_carry_verdicts_update_items_or_reach_gold(world: World) -> None:  # noqa: F811
    """Through the API with a token: every way a file can carry a verdict is refused, and nothing changes."""
    token = api_token_create(user=world.newcomer)
    auth = {"Authorization": f"Bearer {token}"}
    url = f"/api/datasets/{world.dataset.pk}/imports"
    before = list(HumanVerdict.objects.order_by("pk").values_list("pk", "score", "preference", "rationale"))
    update = Client().post(url, {"data_file": _upload("x.jsonl", "{}\n"), "update": "true"}, headers=auth)
    assert update.status_code == 403
    uri = "data:image/png;base64," + base64.b64encode(png_bytes()).decode()
    rows = [
        {"id": "new-0", "human_labels": [{"reviewer": world.other.username, "score": 5}]},
        {"id": "new-1", "human_score": 5, "reviewer": world.newcomer.username},
        {"id": "new-2", "split": "gold"},
        {"id": "new-3", "response_a": "r", "response_b": "s", "human_preference": "A", "reviewer": "x"},
    ]
    for row in [*rows, {"id": "plain"}]:
        line = json.dumps({"image": uri, "question": "q?", "response": "r", **row})
        response = Client().post(url, {"data_file": _upload("x.jsonl", line + "\n")}, headers=auth)
        assert response.status_code == 202, response.content
        import_job_run(job_id=response.json()["id"])
        job = ImportJob.objects.get(pk=response.json()["id"])
        assert (job.status == "done") == (row == {"id": "plain"}), (row, job.report)  # the control row goes in
    assert list(HumanVerdict.objects.order_by("pk").values_list("pk", "score", "preference", "rationale")) == before
    assert not Item.objects.filter(split="gold").exists()
    assert list(Item.objects.filter(external_id__startswith="new-")) == []
