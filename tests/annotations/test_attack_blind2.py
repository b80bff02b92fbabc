"""The blind rule and the role rules attacked where tests/annotations/test_attack_blind.py does not go: the states of
the critic's work rather than its values, the forms that POST (the desk's, the item table's bulk actions, the
probes), whole numbers written strangely, names that end up in a download's header, cross-site requests and
redirects. A test that passes documents an attack that held; those that failed came with their fix."""

from __future__ import annotations

import io
import zipfile
from email.message import Message
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from annotations.models import CriticCheckpoint, CriticVerdict, Dataset, HumanVerdict, Item
from annotations.services.tokens import api_token_create
from tests.annotations import test_blind_rule
from tests.annotations.services.test_import_rights import imported
from tests.annotations.services.test_imports import rows
from tests.annotations.test_attack_blind import _stable
from tests.annotations.test_blind_rule import World, everything_seen, world  # noqa: F401  (the fixture)
from tests.factories import DatasetFactory, ItemFactory, UserFactory

pytestmark = pytest.mark.django_db


def _client(user: User, **options: bool) -> Client:
    client = Client(**options)
    client.force_login(user)
    return client


def _admin(world: World, **options: bool) -> Client:  # noqa: F811
    return _client(User.objects.get(username="ada"), **options)


def _messages(response) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(m) for m in response.wsgi_request._messages]


def _judge_first(world: World) -> Client:  # noqa: F811
    """The newcomer's client, after their blind verdict on the first item (the desk serves it first)."""
    client = _client(world.newcomer)
    assert client.get(reverse("review-next", args=[world.dataset.pk])).status_code == 200
    assert client.post(reverse("review-submit", args=[world.items[0].pk]), {"score": "12"}).status_code == 302
    cache.clear()  # the desk's counts, refreshed after the commit (which a test's transaction never makes)
    return client


# -- the critic's work on an item: its state, not only its values ---------------------------------------------------

# The work's progress (how many verdicts are queued, done, failed) is the same for everyone, by design
# (annotations/selectors/judging.py critic_progress); nothing else may move with another item's critic state.
PUBLIC_PROGRESS = ("GET /datasets/{pk}/ ", "GET /datasets/{pk}/critic/ ", "GET /api/datasets/{pk}/progress ")


def test_a_critic_verdict_failing_or_missing_on_unjudged_items_changes_nothing_a_reviewer_sees(
    world: World,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """test_attack_blind's differential attack changes every hidden value; this one changes what exists: the critic
    failed on one unjudged item and never judged another. A filter (`critic=failed|missing`), an empty cell, a
    count or an order that moved with it would tell the reviewer which."""
    empty = test_blind_rule._empty_metrics()
    monkeypatch.setattr(test_blind_rule, "_empty_metrics", lambda: empty)
    key = api_token_create(user=world.newcomer)
    monkeypatch.setattr(test_blind_rule, "api_token_create", lambda user: key)
    _judge_first(world)
    before = {asked: _stable(body) for asked, _, body in everything_seen(world, world.newcomer)}
    CriticVerdict.objects.filter(item=world.items[1]).update(status="failed", score=None, confidence=None)
    CriticVerdict.objects.filter(item=world.items[2]).delete()
    cache.clear()
    public = tuple(p.format(pk=world.dataset.pk) for p in PUBLIC_PROGRESS)
    changed = [
        asked
        for asked, _, body in everything_seen(world, world.newcomer)
        if before[asked] != _stable(body) and not asked.startswith(("GET /account/", *public))
    ]
    assert not changed, "\n".join(changed[:20])


# -- the metrics' checkpoint filter -----------------------------------------------------------------------------------


def _external_judge(world: World) -> None:  # noqa: F811
    """An external judge (its verdicts imported by an administrator) on every item: its name is seen, as its
    verdicts are, only on items one has judged (the dashboard's list of critics says so)."""
    judge = CriticCheckpoint.objects.create(name="judge-hidden-zq", is_external=True)
    for item in world.items:
        pairwise = item.kind == "pairwise"
        CriticVerdict.objects.create(
            item=item,
            checkpoint=judge,
            profile=item.profile,
            status="done",
            score=None if pairwise else 50.0,
            preference="A" if pairwise else None,
        )


def _metrics_answers(world: World, name: str) -> list[tuple[int, str]]:  # noqa: F811
    """What the reviewer gets naming `name` as the checkpoint: the dashboard, its fragment, its JSON, the API's."""
    client = _client(world.newcomer)
    url = reverse("dataset-metrics", args=[world.dataset.pk])
    auth = {"Authorization": f"Bearer {api_token_create(user=world.newcomer)}"}
    answers = [
        client.get(url, {"checkpoint": name}),
        client.get(url, {"checkpoint": name}, headers={"HX-Request": "true"}),
        client.get(url, {"checkpoint": name, "format": "json"}),
        client.get(url, {"checkpoint": name, "table": "statistics", "format": "csv"}),
        Client().get(f"/api/datasets/{world.dataset.pk}/metrics", {"checkpoint": name}, headers=auth),
    ]
    return [(r.status_code, _stable(r.content.decode()).replace(name, "<asked>")) for r in answers]


def test_a_checkpoint_filter_tells_a_reviewer_no_judge_they_have_not_met(world: World) -> None:  # noqa: F811
    """The dashboard lists, to a reviewer, the critics with a verdict on an item they judged; naming another
    answered with an error listing every checkpoint (an external judge's name among them), and naming the hidden
    judge answered differently from naming no judge at all."""
    _external_judge(world)
    unknown = _metrics_answers(world, "no-such-judge")
    assert [status for status, _ in unknown] == [400, 400, 400, 400, 404]
    assert not [body for _, body in unknown if "judge-hidden-zq" in body]
    assert all("the-critic" in body for _, body in unknown)  # the active critic: every page names it
    assert _metrics_answers(world, "judge-hidden-zq") == unknown
    assert [status for status, _ in _metrics_answers(world, "the-critic")] == [200] * 5

    _judge_first(world)  # the judge has a verdict on the first item: now it is one of theirs to choose
    assert [status for status, _ in _metrics_answers(world, "judge-hidden-zq")] == [200] * 5
    admin = _admin(world).get(reverse("dataset-metrics", args=[world.dataset.pk]), {"checkpoint": "nope"})
    assert "judge-hidden-zq" in admin.content.decode()  # administrators are told of every checkpoint


# -- the desk's forms ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
def test_the_desks_forms_refuse_bad_verdicts_on_any_item_without_showing_what_it_hides(
    world: World,  # noqa: F811
    htmx: bool,
) -> None:
    """Bad verdicts (out of range, not a number, infinite, no choice) posted on every item, the one the desk serves
    and those it does not, with revise and correct on items not judged: each answer says what is wrong, none shows
    a verdict or model of the item, and nothing is stored."""
    client = _client(world.newcomer)
    headers = {"HX-Request": "true"} if htmx else {}
    assert client.get(reverse("review-next", args=[world.dataset.pk])).status_code == 200
    secrets = world.all_secrets()
    for item in world.items:
        for data in ({}, {"score": "500"}, {"score": "nan"}, {"score": "-1e999"}, {"preference": "Z"}):
            response = client.post(reverse("review-submit", args=[item.pk]), data, headers=headers)
            body = response.content.decode()
            assert response.status_code == (200 if htmx else 400), (item.external_id, data)
            said = ("Give a score", "must be from", "is above the highest score", "is below the lowest", "Choose A")
            assert any(words in body for words in said), (item.external_id, data)
            assert not [s for s in secrets if s in body], (item.external_id, data)
        for name in ("review-revise", "review-correct"):
            refused = client.post(reverse(name, args=[item.pk]), {"score": "5", "corrected_justification": "x"})
            assert refused.status_code == 404  # no verdict of theirs to revise
    assert not HumanVerdict.objects.filter(reviewer=world.newcomer).exists()


# -- whole numbers written strangely ---------------------------------------------------------------------------------

# Superscripts (²), other scripts' digits (Arabic-Indic three, a full-width one) pass str.isdigit(), and int()
# refuses some; thousands of digits pass it too, and int() refuses them past Python's limit. Signs, decimals and
# spaces inside do not pass it.
NOT_PLAIN_NUMBERS = ["\u00b2", "\u0663", "\uff11", "-1", "+1", "1.0", "1 2", "0x10"]
HUGE = "9" * 5000


def _short(value: str) -> str:
    return ascii(value[:8]) + (f"x{len(value)}" if len(value) > 8 else "")


@pytest.mark.parametrize("value", [*NOT_PLAIN_NUMBERS, HUGE], ids=_short)
def test_the_desks_previous_item_takes_any_before_value(world: World, value: str) -> None:  # noqa: F811
    """`?before=` that is not a plain number is no limit, nor is one past every id: the previous item is the
    reviewer's last verdict."""
    client = _judge_first(world)
    response = client.get(reverse("review-previous", args=[world.dataset.pk]), {"before": value})
    assert response.status_code == 302
    assert response["Location"] == reverse("review-reveal", args=[world.items[0].pk])


def test_the_desks_previous_item_with_a_number_past_every_id(world: World) -> None:  # noqa: F811
    client = _judge_first(world)
    for value in ("9" * 25, str(2**63), str(2**63 - 1)):
        response = client.get(reverse("review-previous", args=[world.dataset.pk]), {"before": value})
        assert response["Location"] == reverse("review-reveal", args=[world.items[0].pk])
    mine = HumanVerdict.objects.get(reviewer=world.newcomer)
    response = client.get(reverse("review-previous", args=[world.dataset.pk]), {"before": str(mine.pk)})
    assert response["Location"] == reverse("review-next", args=[world.dataset.pk])  # none before the first


@pytest.mark.parametrize("value", [*NOT_PLAIN_NUMBERS, HUGE, "9" * 25], ids=_short)
def test_bulk_ids_that_are_not_plain_numbers_select_nothing(world: World, value: str) -> None:  # noqa: F811
    admin = _admin(world)
    url = reverse("item-bulk", args=[world.dataset.pk])
    response = admin.post(url, {"ids": [value], "action": "to-gold"}, follow=True)
    assert response.status_code == 200
    assert "No item is selected: tick rows, or choose every matching item." in _messages(response)
    assert not Item.objects.filter(split="gold").exists()


@pytest.mark.parametrize("value", NOT_PLAIN_NUMBERS, ids=_short)
def test_a_probe_sample_that_is_not_a_plain_number_is_refused_with_the_reason(world: World, value: str) -> None:  # noqa: F811
    admin = _admin(world)
    before = CriticVerdict.objects.count()
    response = admin.post(reverse("dataset-probe", args=[world.dataset.pk]), {"kind": "swap", "sample": value})
    assert response.status_code == 302
    said = _messages(response)
    assert len(said) == 1
    assert said[0].startswith("The sample must be a whole number of items, not ")
    assert CriticVerdict.objects.count() == before


def test_a_probe_sample_larger_than_the_dataset_takes_every_item(world: World) -> None:  # noqa: F811
    """However many digits: a sample of more items than there are is all of them (one pairwise item here)."""
    admin = _admin(world)
    response = admin.post(reverse("dataset-probe", args=[world.dataset.pk]), {"kind": "swap", "sample": HUGE})
    assert response.status_code == 302
    queued = "Queued the swap probe (Responses swapped (A and B exchanged)) of 1 item for the-critic."
    assert _messages(response) == [queued]


# -- a name in a download's header -----------------------------------------------------------------------------------


def test_a_dataset_named_with_quotes_line_breaks_and_accents_still_exports_its_items(world: World) -> None:  # noqa: F811
    """An administrator may name a dataset anything the form takes, a line break and a quote included; the
    selection's export put the name raw into its Content-Disposition header (a server error for the line break, a
    broken file name for the quote)."""
    admin = _admin(world)
    name = 'Rätsel "B"\r\nzweite Zeile'
    fields = {"name": name, "review_overlap": "1", "disagreement_threshold": "0.1", "gold_fraction": "0"}
    fields |= {"pointwise_profile": "pointwise", "pairwise_profile": "pairwise", "alt_test_epsilon": "0.1"}
    assert admin.post(reverse("dataset-new"), fields).status_code == 302
    dataset = Dataset.objects.get(name=name)
    ItemFactory(dataset=dataset, external_id="only-item")
    response = admin.post(reverse("item-bulk", args=[dataset.pk]), {"all": "1", "action": "export"})
    assert response.status_code == 200
    header = Message()
    header["Content-Disposition"] = response["Content-Disposition"]
    assert header.get_content_disposition() == "attachment"
    assert header.get_filename() == "Rätsel B zweite Zeile-items.zip"  # what a file name cannot hold, left out
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        assert '"id": "only-item"' in archive.read("items.jsonl").decode()


# -- requests from elsewhere -----------------------------------------------------------------------------------------


def test_a_cross_site_post_without_the_csrf_token_changes_nothing(world: World) -> None:  # noqa: F811
    """An administrator's session, a form posted from another site: the bulk delete is refused before it runs."""
    ItemFactory(dataset=world.dataset, external_id="unjudged")
    admin = _admin(world, enforce_csrf_checks=True)
    before = Item.objects.count()
    response = admin.post(reverse("item-bulk", args=[world.dataset.pk]), {"all": "1", "action": "delete"})
    assert response.status_code == 403
    assert Item.objects.count() == before


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/", "//evil.example/", "/\\evil.example/", "\\\\evil.example", "https:/evil.example"],
)
def test_logging_in_never_sends_anyone_to_another_site(world: World, target: str) -> None:  # noqa: F811
    world.newcomer.set_password("a-long-passphrase-42")
    world.newcomer.save()
    for start in (reverse("login"), "/admin/login/"):
        landed = Client().get(start, {"next": target}, follow=True)
        url = landed.redirect_chain[-1][0] if landed.redirect_chain else start
        assert "evil" not in url.split("?")[0]
        answer = Client().post(
            reverse("login") + "?next=" + target, {"username": "newcomer", "password": "a-long-passphrase-42"}
        )
        assert answer.status_code == 302
        assert answer["Location"] == "/"


def test_bulk_actions_never_reach_another_datasets_items(world: World) -> None:  # noqa: F811
    """Ids of another dataset's items posted to this dataset's bulk form: not one of them moves."""
    elsewhere = ItemFactory(external_id="elsewhere")
    admin = _admin(world)
    response = admin.post(reverse("item-bulk", args=[world.dataset.pk]), {"ids": [elsewhere.pk], "action": "to-gold"})
    assert response.status_code == 302
    elsewhere.refresh_from_db()
    assert elsewhere.split == "pool"


# -- a careless administrator in the Django admin --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"profile": "no-such-profile"}, "Unknown profile &#x27;no-such-profile&#x27;; pointwise ones: "),
        ({"profile": "pairwise"}, "Profile &#x27;pairwise&#x27; judges pairwise items, but this item is pointwise."),
        ({"kind": "pairwise"}, "An item with one response is pointwise."),
        ({"model_b": "second-model"}, "A second model is named, but there is no second response."),
        ({"context": '"earlier"'}, "must be a list of {&quot;role&quot;: &quot;user&quot;"),
        ({"context": "[1, 2]"}, "turn 1 must be {&quot;role&quot;: ..., &quot;text&quot;: ...}"),
        ({"context": '[{"role": "narrator", "text": "x"}]'}, "turn 1: role must be one of user, assistant, context"),
    ],
    ids=["unknown-profile", "profile-of-the-other-kind", "kind", "model-b", "context-text", "context-numbers", "role"],
)
def test_an_items_admin_form_refuses_what_uploads_and_imports_refuse(admin: User, change: dict, said: str) -> None:  # type: ignore[type-arg]
    """An unjudged item, edited in the Django admin: a profile the database does not know (or of the other kind)
    was a server error from its trigger; a context that is not a list of turns was saved, and then broke the API's
    item, the desk and the critic's prompt for the item. Now each is a message on its field and nothing changes."""
    item = ItemFactory(external_id="edited")
    client = _client(admin)
    url = reverse("admin:annotations_item_change", args=[item.pk])
    form = {
        "dataset": item.dataset_id, "external_id": item.external_id, "image": item.image_id, "question": "Q?",
        "kind": item.kind, "profile": item.profile, "response_a": "R", "split": "pool", "context": "[]",
        **{f"more_images-{n}_FORMS": v for n, v in (("TOTAL", 0), ("INITIAL", 0), ("MIN_NUM", 0), ("MAX_NUM", 16))},
    }  # fmt: skip
    response = client.post(url, {**form, **change})
    assert response.status_code == 200
    assert said in response.content.decode()
    assert Item.objects.filter(pk=item.pk).values_list("profile", "kind", "model_b", "context").get() == (
        item.profile, item.kind, "", []
    )  # fmt: skip
    saved = client.post(url, {**form, "question": "A better question?"})  # the same form, nothing wrong: saved
    assert saved.status_code == 302
    assert Item.objects.get(pk=item.pk).question == "A better question?"


def test_a_judged_items_earlier_conversation_is_its_content_too(tmp_path: Path, admin: User) -> None:
    """The desk shows an item's earlier turns (its context) above the question, and the critic's prompt carries
    them: verdicts were given on them. An administrator's import update and the admin's item form both changed
    them on a judged item, where every other part of what it shows was locked."""
    dataset = DatasetFactory()
    before = [{"role": "user", "text": "Look at the left side."}]
    first = rows(1)
    first[0]["context"] = before
    assert imported(tmp_path, first, by=admin, dataset=dataset).ok
    item = Item.objects.get(external_id="q0")
    HumanVerdict.objects.create(item=item, reviewer=UserFactory(), profile=item.profile, score=50)
    changed = rows(1)
    changed[0]["context"] = [{"role": "user", "text": "Look at the right side."}]
    report = imported(tmp_path, changed, by=admin, update=True, dataset=dataset)
    assert not report.ok
    assert "item 'q0' has verdicts, so its context cannot change" in str(report.problems[0])
    dropped = rows(1)  # no context at all: a change too
    assert not imported(tmp_path, dropped, by=admin, update=True, dataset=dataset).ok
    same = rows(1)
    same[0] |= {"context": before, "split": "gold"}  # the same turns, another split: goes through
    assert imported(tmp_path, same, by=admin, update=True, dataset=dataset).ok
    item.refresh_from_db()
    assert (item.context, item.split) == (before, "gold")
    page = _client(admin).get(reverse("admin:annotations_item_change", args=[item.pk])).content.decode()
    assert 'name="context"' not in page
    assert "Look at the left side." in page  # shown, read-only


def test_an_item_stays_in_its_dataset(admin: User) -> None:
    """The admin's item form offered the dataset as a choice: a judged item moved to another dataset took its
    verdicts into that dataset's metrics and out of the reviewers' progress in its own. The dataset is shown, not
    offered, and a posted one is ignored."""
    item = ItemFactory(external_id="stays")
    home = item.dataset_id
    HumanVerdict.objects.create(item=item, reviewer=UserFactory(), profile=item.profile, score=50)
    elsewhere = DatasetFactory()
    client = _client(admin)
    url = reverse("admin:annotations_item_change", args=[item.pk])
    assert 'name="dataset"' not in client.get(url).content.decode()
    form = {
        "dataset": elsewhere.pk, "external_id": item.external_id, "split": "gold",
        **{f"more_images-{n}_FORMS": v for n, v in (("TOTAL", 0), ("INITIAL", 0), ("MIN_NUM", 0), ("MAX_NUM", 16))},
    }  # fmt: skip
    assert client.post(url, form).status_code == 302
    item.refresh_from_db()
    assert (item.dataset_id, item.split) == (home, "gold")  # the rest of the form is saved
