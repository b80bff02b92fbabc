"""The Profiles pages: administrators list every profile with where it is used, define one on a form that the API's
service checks (same errors, nothing saved on error), start one from another ("New from this one"), edit or delete
one only while nothing uses it, and read a critic's text with a profile's reader as parse_verdict does. Reviewers
get 403 everywhere."""

from __future__ import annotations

import json
import time
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from annotations.models import PromptProfile
from annotations.services.datasets import dataset_create
from annotations.services.profiles import prompt_profile_create
from annotations.services.tokens import api_token_create
from critic_worker.profile_specs import READ_TIME_LIMIT_S, too_slow
from critic_worker.profiles import PROFILES, get_profile
from tests.annotations.test_defined_profiles import LIKERT, NO_TIE
from tests.factories import DatasetFactory, ItemFactory

pytestmark = pytest.mark.django_db


def form_data(fields: dict[str, Any]) -> dict[str, str]:
    """The profile's fields as the page's form posts them: the value map as its lines, a checkbox only when on."""
    data = {"reader": "pattern", "system": "", "title": "", "value_map": "", "score_min": "", "score_max": ""}
    data |= {"score_step": "", "verdict_pattern": "", "verdict_line": ""}
    for name, value in fields.items():
        if name == "value_map":
            data[name] = "\n".join(f"{k} = {v}" for k, v in value.items())
        elif name != "allow_tie":
            data[name] = str(value)
    if fields.get("allow_tie", True):
        data["allow_tie"] = "on"
    return data


def api_post(user: Any, body: dict[str, Any]) -> Any:
    client = Client(HTTP_AUTHORIZATION=f"Bearer {api_token_create(user=user)}")
    return client.post("/api/profiles", data=json.dumps(body), content_type="application/json")


def stored() -> list[dict[str, Any]]:
    return list(PromptProfile.objects.order_by("name").values())


# -- who may -------------------------------------------------------------------------------------------------------


def test_reviewers_get_403_on_every_profile_page_and_change_nothing(reviewer_client: Client) -> None:
    prompt_profile_create(**LIKERT)
    before = stored()
    for name in ("profile-list", "profile-new"):
        assert reviewer_client.get(reverse(name)).status_code == 403
    assert reviewer_client.post(reverse("profile-new"), form_data({**LIKERT, "name": "mine"})).status_code == 403
    for name in ("profile-detail", "profile-edit"):
        assert reviewer_client.get(reverse(name, args=["likert-5"])).status_code == 403
    assert reviewer_client.post(reverse("profile-edit", args=["likert-5"]), form_data(LIKERT)).status_code == 403
    assert reviewer_client.post(reverse("profile-delete", args=["likert-5"])).status_code == 403
    read = reviewer_client.post(reverse("profile-read", args=["likert-5"]), {"text": "Rating: 4"})
    assert read.status_code == 403
    assert "Rating" not in read.content.decode()
    assert stored() == before
    assert reverse("profile-list") not in reviewer_client.get(reverse("dataset-list")).content.decode()


def test_administrators_find_the_page_in_the_nav_and_from_the_dataset_form(admin_client: Client) -> None:
    assert f'href="{reverse("profile-list")}"' in admin_client.get(reverse("dataset-list")).content.decode()
    assert f'href="{reverse("profile-list")}"' in admin_client.get(reverse("dataset-new")).content.decode()


# -- the list and the detail page ----------------------------------------------------------------------------------


def test_the_list_shows_built_ins_and_defined_profiles_and_their_uses(admin: Any, admin_client: Client) -> None:
    prompt_profile_create(**LIKERT)
    prompt_profile_create(**NO_TIE)
    dataset = dataset_create(created_by=admin, name="rubric", pointwise_profile="likert-5")
    ItemFactory.create_batch(3, dataset=dataset, profile="likert-5")
    page = admin_client.get(reverse("profile-list"))
    assert page.status_code == 200
    html = page.content.decode()
    for name in [*PROFILES, "likert-5", "a-or-b"]:
        assert f'id="profile-{name}"' in html
    row = html[html.index('id="profile-likert-5"') :].split("</tr>")[0]
    assert "1-5 in steps of 1" in row
    assert '<td class="num">1</td>' in row  # one dataset names it
    assert '<td class="num">3</td>' in row  # three items are judged with it
    unused = html[html.index('id="profile-a-or-b"') :].split("</tr>")[0]
    assert "A / B (no tie)" in unused
    assert "unused" in unused
    assert f"{reverse('profile-new')}?from=a-or-b" in unused


def test_the_detail_page_shows_everything_and_where_it_is_used(admin: Any, admin_client: Client) -> None:
    prompt_profile_create(created_by=admin, system="You grade answers.", **LIKERT)
    dataset = dataset_create(created_by=admin, name="rubric", pointwise_profile="likert-5")
    ItemFactory.create_batch(2, dataset=dataset, profile="likert-5")
    html = admin_client.get(reverse("profile-detail", args=["likert-5"])).content.decode()
    assert "Rate the answer to {question} from 1 to 5.\nAnswer: {response}" in html  # the template as stored
    assert "You grade answers." in html
    assert "Rating:\\s*(?P&lt;score&gt;\\d+(?:\\.\\d+)?)" in html  # the pattern, escaped
    assert "<code>Rating: 1</code>" in html
    assert "<code>Rating: 5</code>" in html
    assert "2 items, 1 dataset" in html
    assert reverse("dataset-detail", args=[dataset.pk]) in html
    assert reverse("profile-edit", args=["likert-5"]) not in html  # in use: no edit, no delete
    assert reverse("profile-delete", args=["likert-5"]) not in html


def test_a_built_in_profile_has_a_page_but_no_edit(admin_client: Client) -> None:
    page = admin_client.get(reverse("profile-detail", args=["wildvision"]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "My final verdict is: [[A&gt;&gt;B]]" in html
    assert reverse("profile-edit", args=["wildvision"]) not in html
    assert admin_client.get(reverse("profile-edit", args=["wildvision"])).status_code == 404
    assert admin_client.post(reverse("profile-delete", args=["wildvision"])).status_code == 404
    assert admin_client.get(reverse("profile-detail", args=["nope"])).status_code == 404


# -- defining one --------------------------------------------------------------------------------------------------


def test_a_profile_defined_on_the_page_is_the_one_the_api_would_define(admin: Any, admin_client: Client) -> None:
    form = form_data({**LIKERT, "title": "Likert, 1-5", "system": "You grade answers."})
    form["template"] = LIKERT["template"].replace("\n", "\r\n") + " "  # as a browser posts a textarea
    response = admin_client.post(reverse("profile-new"), form)
    assert response.status_code == 302
    assert response["Location"] == reverse("profile-detail", args=["likert-5"])
    profile = PromptProfile.objects.get()
    assert profile.template == LIKERT["template"] + " "  # line ends as the critic's prompts write them
    assert profile.created_by == admin
    listed = Client(HTTP_AUTHORIZATION=f"Bearer {api_token_create(user=admin)}").get("/api/profiles").json()
    mine = next(p for p in listed if p["name"] == "likert-5")
    assert (mine["score_min"], mine["score_max"], mine["score_step"], mine["title"]) == (1, 5, 1, "Likert, 1-5")
    assert get_profile("likert-5").parse("Mostly right.\nRating: 4").score == 4  # type: ignore[union-attr]


def test_a_pairwise_profile_takes_its_value_map_as_lines(admin_client: Client) -> None:
    response = admin_client.post(reverse("profile-new"), form_data({**NO_TIE, "score_min": 1, "score_max": 5}))
    assert response.status_code == 302, response.content.decode()[:3000]
    profile = PromptProfile.objects.get()
    assert profile.value_map == {"1": "A", "2": "B"}
    assert (profile.score_min, profile.score_max, profile.allow_tie) == (None, None, False)  # no scale for pairwise


@pytest.mark.parametrize(
    "changes",
    [
        {"name": "pointwise"},
        {"template": "Rate {answer}."},
        {"template": "Rate {response} only."},
        {"verdict_pattern": r"Rating: (\d+)"},
        {"verdict_pattern": r"Rating: (?P<score>\d+"},
        {"verdict_line": "Rating: N"},
        {"score_step": 0.3},
        {"score_max": 0.5},
        {"reader": "pairwise"},
    ],
)
def test_a_bad_profile_gets_the_apis_error_on_the_page_and_nothing_is_saved(
    admin: Any, admin_client: Client, changes: dict[str, Any]
) -> None:
    refused = api_post(admin, {**LIKERT, **changes})
    assert refused.status_code == 422
    detail = refused.json()["detail"]
    response = admin_client.post(reverse("profile-new"), form_data({**LIKERT, **changes}))
    assert response.status_code == 400
    html = response.content.decode()
    for messages in detail.values():
        for message in messages if isinstance(messages, list) else [messages]:
            assert escape(message) in html
    assert not PromptProfile.objects.exists()


def test_a_taken_name_and_a_bad_value_map_are_refused_and_nothing_changes(admin_client: Client) -> None:
    prompt_profile_create(**LIKERT)
    before = stored()
    taken = admin_client.post(reverse("profile-new"), form_data({**LIKERT, "title": "another"}))
    assert taken.status_code == 400
    assert "a profile named &#x27;likert-5&#x27; exists" in taken.content.decode()
    bad_map = admin_client.post(reverse("profile-new"), {**form_data(NO_TIE), "value_map": "1 = A\n2 -> B"})
    assert bad_map.status_code == 400
    assert "Line 2 (&#x27;2 -&gt; B&#x27;): write it as" in bad_map.content.decode()
    assert stored() == before


def test_the_new_form_starts_from_sensible_defaults(admin_client: Client) -> None:
    form = admin_client.get(reverse("profile-new")).context["form"]
    assert (form["kind"].value(), form["score_min"].value(), form["score_max"].value()) == ("pointwise", 1, 5)
    assert form["system"].value() == PROFILES["pointwise"].system
    pairwise = admin_client.get(reverse("profile-new"), {"kind": "pairwise"}).context["form"]
    assert pairwise["kind"].value() == "pairwise"
    assert pairwise["score_min"].value() is None
    assert "(?P<preference>" in pairwise["verdict_pattern"].value()


def test_new_from_this_one_copies_a_profile_under_a_free_name(admin_client: Client) -> None:
    prompt_profile_create(**NO_TIE)
    form = admin_client.get(reverse("profile-new"), {"from": "a-or-b"}).context["form"]
    assert form["name"].value() == "a-or-b-2"
    assert form["template"].value() == NO_TIE["template"]
    assert form["value_map"].value() == "1 = A\n2 = B"
    assert form["allow_tie"].value() is False
    # A built-in's copy keeps its template byte for byte (trailing space included) and reads with its family.
    page = admin_client.get(reverse("profile-new"), {"from": "pointwise"})
    copy = page.context["form"]
    assert (copy["name"].value(), copy["reader"].value()) == ("pointwise-2", "pointwise")
    data = {name: copy[name].value() for name in copy.fields}
    data = {k: ("on" if v is True else "" if v is None or v is False else str(v)) for k, v in data.items()}
    data["template"] = data["template"].replace("\n", "\r\n")
    data |= {"name": "pointwise-1to10", "score_min": "1", "score_max": "10"}
    saved = admin_client.post(f"{reverse('profile-new')}?from=pointwise", data)
    assert saved.status_code == 302, saved.content.decode()[:3000]
    made = get_profile("pointwise-1to10")
    assert made.template == PROFILES["pointwise"].template
    assert (made.score_min, made.score_max) == (1, 10)
    assert made.parse("Clear and right. Score: 8/10").score == 8  # type: ignore[union-attr]
    assert admin_client.get(reverse("profile-new"), {"from": "nope"}).status_code == 404


# -- a profile in use ------------------------------------------------------------------------------------------------


def test_a_profile_in_use_cannot_be_edited_or_deleted_from_the_pages(admin: Any, admin_client: Client) -> None:
    prompt_profile_create(**LIKERT)
    DatasetFactory(name="rubric", pointwise_profile="likert-5")
    before = stored()
    page = admin_client.get(reverse("profile-edit", args=["likert-5"]))
    assert page.status_code == 409
    html = page.content.decode()
    assert "is in use (1 dataset)" in html
    assert f"{reverse('profile-new')}?from=likert-5" in html
    refused = admin_client.post(reverse("profile-edit", args=["likert-5"]), form_data({**LIKERT, "score_max": 7}))
    assert refused.status_code == 400
    said = "&#x27;likert-5&#x27; is in use (1 dataset): create a new profile for a changed rubric"
    assert said in refused.content.decode()
    deleted = admin_client.post(reverse("profile-delete", args=["likert-5"]), follow=True)
    assert "is in use (1 dataset)" in deleted.content.decode()
    assert stored() == before


def test_an_unused_profile_is_edited_and_deleted(admin_client: Client) -> None:
    prompt_profile_create(**LIKERT)
    prompt_profile_create(**{**LIKERT, "name": "other"})
    page = admin_client.get(reverse("profile-edit", args=["likert-5"]))
    assert page.status_code == 200
    assert page.context["form"]["template"].value() == LIKERT["template"]
    taken = admin_client.post(reverse("profile-edit", args=["likert-5"]), form_data({**LIKERT, "name": "other"}))
    assert taken.status_code == 400
    assert "a profile named &#x27;other&#x27; exists" in taken.content.decode()
    changed = admin_client.post(
        reverse("profile-edit", args=["likert-5"]), form_data({**LIKERT, "name": "likert-7", "score_max": 7})
    )
    assert changed.status_code == 302
    assert changed["Location"] == reverse("profile-detail", args=["likert-7"])
    assert get_profile("likert-7").score_max == 7
    assert not PromptProfile.objects.filter(name="likert-5").exists()
    gone = admin_client.post(reverse("profile-delete", args=["likert-7"]))
    assert gone["Location"] == reverse("profile-list")
    assert list(PromptProfile.objects.values_list("name", flat=True)) == ["other"]


# -- trying the reader ---------------------------------------------------------------------------------------------


def _parse_verdict(name: str, text: str) -> dict[str, Any]:
    out = StringIO()
    call_command("parse_verdict", profile=name, stdin=StringIO(text), stdout=out)
    return json.loads(out.getvalue())


@pytest.mark.parametrize(
    ("name", "text", "shown"),
    [
        ("likert-5", "The dog is missed.\nRating: 2", "score 2"),
        ("likert-5", "A fine answer. Rating: 9", "Unreadable."),
        ("likert-5", "No verdict here.", "Unreadable."),
        ("a-or-b", "Both fine. Better: 2", "B is better"),
        ("pairwise", "Both responses are equally good.", "a tie"),
        ("pointwise", "Accurate and complete. I would rate it 8.5/10.", "score 85"),
    ],
)
def test_the_reader_box_reads_as_parse_verdict_does(admin_client: Client, name: str, text: str, shown: str) -> None:
    prompt_profile_create(**LIKERT)
    prompt_profile_create(**NO_TIE)
    expected = _parse_verdict(name, text)
    page = admin_client.post(reverse("profile-read", args=[name]), {"text": text})
    assert page.status_code == 200
    assert page.context["reading"] == expected
    html = page.content.decode()
    assert shown in html
    assert escape(expected["reason"]) in html
    assert text in html  # the text stays in the box
    fragment = admin_client.post(reverse("profile-read", args=[name]), {"text": text}, headers={"HX-Request": "true"})
    assert fragment.content.decode().lstrip().startswith('<section id="reading"')
    assert shown in fragment.content.decode()


def test_the_reader_box_refuses_a_text_too_long_and_escapes_what_it_shows(admin_client: Client, settings: Any) -> None:
    from annotations.services.items import MAX_TEXT_CHARS

    long = admin_client.post(reverse("profile-read", args=["pointwise"]), {"text": "x" * (MAX_TEXT_CHARS + 1)})
    assert long.status_code == 400
    assert "the box reads at most" in long.content.decode()
    hostile = admin_client.post(reverse("profile-read", args=["pointwise"]), {"text": "<script>alert(1)</script>"})
    assert "<script>alert(1)</script>" not in hostile.content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in hostile.content.decode()


def test_the_reader_box_stops_a_pattern_that_backtracks_and_says_so(admin_client: Client) -> None:
    # A row stored before patterns were checked for backtracking (or by hand): the web worker is not held.
    PromptProfile.objects.create(**{**LIKERT, "verdict_pattern": r"Rating:\s*(?P<score>\d)|(a+)+$"})
    text = "Rating: 4 " + "a" * 50_000 + "!"
    started = time.monotonic()
    page = admin_client.post(reverse("profile-read", args=["likert-5"]), {"text": text})
    assert time.monotonic() - started < 10 * READ_TIME_LIMIT_S
    assert page.status_code == 200
    assert page.context["reading"]["readable"] is False
    assert "Unreadable." in page.content.decode()
    assert escape(too_slow(text)) in page.content.decode()


def test_a_pattern_that_backtracks_is_refused_on_the_form_and_nothing_is_saved(admin_client: Client) -> None:
    refused = admin_client.post(
        reverse("profile-new"), form_data({**LIKERT, "verdict_pattern": r"Rating:\s*(?P<score>\d)|(a|aa)+$"})
    )
    assert refused.status_code == 400
    assert "backtracks too much" in refused.context["form"].errors["verdict_pattern"][0]
    assert not PromptProfile.objects.exists()
