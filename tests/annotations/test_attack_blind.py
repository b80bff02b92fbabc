"""The blind rule and the role rules, attacked as a hostile reviewer would: not by reading a hidden value off a page
(tests/annotations/test_blind_rule.py walks every page for those) but through side channels, where a filter's
result, a count or an order differs by a value the reviewer may not see yet. Each probe compares what a reviewer who
has judged nothing gets for a hidden value that is there against one that is not: any difference is a leak."""

from __future__ import annotations

import base64
import json
import re

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from annotations.models import CriticCheckpoint, CriticVerdict, HumanVerdict, ImportJob, Item
from annotations.selectors.item_table import CRITIC, MINE, SORTS
from annotations.services.import_jobs import import_job_run
from annotations.services.tokens import api_token_create
from tests.annotations.test_blind_rule import N_ITEMS, World, everything_seen, world  # noqa: F401  (the fixture)
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


# -- every hidden value changed: nothing a reviewer who has judged nothing can reach may change with it -------------

_VARYING = [
    (r'name="csrfmiddlewaretoken" value="[^"]*"', ""),  # a new token per request
    (r'"X-CSRFToken": "[^"]*"', ""),
    (r"\d{4}-\d\d-\d\d[T ][\d:.]+(\+00:00|Z)?", "<time>"),
]


def _stable(body: str) -> str:
    for pattern, replacement in _VARYING:
        body = re.sub(pattern, replacement, body)
    return body


def _hide_other_values(world: World) -> None:  # noqa: F811
    """Every value of every verdict on the items the newcomer has not judged, changed: scores, preferences,
    revisions, rationales, flags and corrections of people; scores, preferences, confidences, probabilities, the
    forced reading and the texts of the critic (its swap check's and an external judge's too)."""
    judged = HumanVerdict.objects.filter(reviewer=world.newcomer).values("item_id")
    for verdict in HumanVerdict.objects.exclude(item_id__in=judged):
        if verdict.score is not None:
            verdict.score, verdict.revised_score = 1.0, 99.0
        else:
            verdict.preference, verdict.revised_preference = "A", "tie"
        verdict.rationale, verdict.revised_at = "changed-rationale", timezone.now()
        verdict.justification_flagged, verdict.corrected_justification = True, "changed-correction"
        verdict.save()
    for critic in CriticVerdict.objects.exclude(item_id__in=judged):
        if critic.score is not None:
            critic.score, critic.expected_score = 99.0, 98.5
        else:
            critic.preference = "B" if critic.preference == "A" else "A"
        critic.confidence, critic.uncertainty, critic.probabilities = 0.11, 0.9, {"1": 0.11}
        critic.forced, critic.justification, critic.raw_output = True, "changed-justification", "changed-output"
        critic.save()
    cache.clear()


def _more_hidden_verdicts(world: World) -> None:  # noqa: F811
    """A swap check and an external judge's verdicts beside the critic's."""
    judge = CriticCheckpoint.objects.create(name="external-judge", is_external=True)
    for n, item in enumerate(world.items):
        pairwise = item.kind == "pairwise"
        CriticVerdict.objects.create(
            item=item,
            checkpoint=judge,
            profile=item.profile,
            status="done",
            score=None if pairwise else 44.0 + n,
            preference="tie" if pairwise else None,
            confidence=0.5,
        )
        if pairwise:
            CriticVerdict.objects.create(
                item=item, checkpoint=world.critic, profile=item.profile, status="done", preference="B", probe="swap"
            )


@pytest.mark.parametrize("judged", [0, 1], ids=["judged-nothing", "judged-one-item"])
def test_nothing_a_reviewer_sees_changes_when_every_hidden_value_changes(  # type: ignore[no-untyped-def]
    world: World,  # noqa: F811
    monkeypatch,
    judged: int,
) -> None:
    """The differential attack: a side channel (a count, an order, a filter's result, an aggregate) shows a hidden
    value by changing with it, even where no single value is printed. Every page, fragment and API read with every
    query is answered twice, before and after every hidden value changes (on the items the reviewer has not
    judged: none, or all but the first); the answers must be the same."""
    _more_hidden_verdicts(world)
    if judged:
        first = world.items[0]
        assert _client(world.newcomer).get(reverse("review-next", args=[world.dataset.pk])).status_code == 200
        submitted = _client(world.newcomer).post(reverse("review-submit", args=[first.pk]), {"score": "12"})
        assert submitted.status_code == 302
        cache.clear()  # the desk's counts, refreshed after the commit (which a test's transaction never makes)
    from tests.annotations import test_blind_rule

    empty = test_blind_rule._empty_metrics()  # made once: each call makes a dataset, which the list would show
    monkeypatch.setattr(test_blind_rule, "_empty_metrics", lambda: empty)
    key = api_token_create(user=world.newcomer)  # one token: each new one would show on the account page
    monkeypatch.setattr(test_blind_rule, "api_token_create", lambda user: key)
    before = {asked: _stable(body) for asked, _, body in everything_seen(world, world.newcomer)}
    _hide_other_values(world)
    changed = [
        asked
        for asked, _, body in everything_seen(world, world.newcomer)
        if before[asked] != _stable(body) and not asked.startswith("GET /account/")  # its token's "last used"
    ]
    assert not changed, "\n".join(changed[:20])


def test_a_reviewer_follows_only_their_own_imports(world: World) -> None:  # noqa: F811
    """Another person's import report can say what their file held (label and judge counts, problems quoting a
    row's values): a reviewer gets 404 for it on the page and the API, and the import page lists only theirs."""
    report = {"summary": "secret-summary-zq", "problems": ["row 2, human_score: 93.5 is not in 0..10"]}
    theirs = ImportJob.objects.create(
        dataset=world.dataset, created_by=world.other, data_file="t.jsonl", status="failed", report=report
    )
    mine = ImportJob.objects.create(dataset=world.dataset, created_by=world.newcomer, data_file="m.jsonl")
    client = _client(world.newcomer)
    auth = {"Authorization": f"Bearer {api_token_create(user=world.newcomer)}"}
    for job in (theirs, world.job):  # another reviewer's, an administrator's
        assert client.get(reverse("import-detail", args=[job.pk])).status_code == 404
        assert Client().get(f"/api/imports/{job.pk}", headers=auth).status_code == 404
    assert client.get(reverse("import-detail", args=[mine.pk])).status_code == 200
    assert Client().get(f"/api/imports/{mine.pk}", headers=auth).json()["id"] == mine.pk
    page = client.get(reverse("dataset-import", args=[world.dataset.pk])).content.decode()
    assert reverse("import-detail", args=[mine.pk]) in page
    assert "secret-summary-zq" not in page
    assert reverse("import-detail", args=[theirs.pk]) not in page
    admin = _client(User.objects.get(username="ada"))
    assert "93.5 is not in 0..10" in admin.get(reverse("import-detail", args=[theirs.pk])).content.decode()


ADMIN_OPERATIONS = [
    ("POST", "/api/datasets"),
    ("POST", "/api/datasets/{dataset}/exports"),
    ("GET", "/api/exports/1"),
    ("GET", "/api/exports/1/file"),
    ("POST", "/api/datasets/{dataset}/swap-check"),
    ("POST", "/api/profiles"),
]


@pytest.mark.parametrize(("method", "path"), ADMIN_OPERATIONS)
def test_administrators_api_operations_refuse_a_reviewer_before_reading_the_request(
    world: World,  # noqa: F811
    method: str,
    path: str,
) -> None:
    """The role comes first: whatever the body or parameters (none, malformed, wrongly typed, a path id that is not
    a number), a reviewer's token gets 403, never a 422 that teaches the body's shape or a 404 that says what
    exists."""
    auth = {"Authorization": f"Bearer {api_token_create(user=world.newcomer)}"}
    url = path.format(dataset=world.dataset.pk)
    bodies = ["", "{", '{"name": 5, "format": "nope", "kind": []}', '{"name": "x"}', "[]"]
    too_big = "9" * 30  # a path id past every integer type: a 422 from the parameters' validation, if it came first
    urls = [url, re.sub(r"/\d+", "/" + too_big, url), url + "?checkpoint=" + "c" * 999 + "&name=" + "n" * 999]
    for target in urls:
        for body in bodies:
            response = Client().generic(method, target, body, content_type="application/json", headers=auth)
            assert response.status_code == 403, (target, body, response.content)
            assert response.json() == {"detail": "Only administrators can do this."}
    assert Client().generic(method, url, "", content_type="application/json").status_code == 401
