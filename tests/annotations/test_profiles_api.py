"""Profiles a team defines, through the API and the services: administrators create them, every account reads
them, a bad one changes nothing and says which field is wrong, a profile in use cannot change, and
parse_verdict reads with a defined profile."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client

from annotations.models import PromptProfile
from annotations.services.profiles import prompt_profile_create, prompt_profile_update
from annotations.services.tokens import api_token_create
from critic_worker.profiles import PROFILES, get_profile
from tests.factories import DatasetFactory

ROOT = Path(__file__).resolve().parents[2]
MLLM_JUDGE = {
    "name": "mllm-judge-1to5",
    "kind": "pointwise",
    "template": "Rate the answer to {question} from 1 to 5.\nAnswer: {response}\nEnd with 'Judgement: N'.",
    "score_min": 1,
    "score_max": 5,
    "score_step": 1,
    "verdict_pattern": r"Judgement:\s*(?P<score>\d+(?:\.\d+)?)",
    "verdict_line": "Judgement: {score}",
}


def call(method: str, path: str, user: Any = None, body: Any = None) -> Any:
    headers = {"HTTP_AUTHORIZATION": f"Bearer {api_token_create(user=user)}"} if user else {}
    client = Client()
    if method == "get":
        return client.get(f"/api{path}", **headers)
    return client.post(f"/api{path}", data=json.dumps(body), content_type="application/json", **headers)


@pytest.mark.django_db
def test_admins_create_profiles_and_everyone_reads_them(admin: Any, reviewer: Any) -> None:
    created = call("post", "/profiles", admin, MLLM_JUDGE)
    assert created.status_code == 201, created.content
    assert created.json()["builtin"] is False
    assert created.json()["score_step"] == 1
    listed = call("get", "/profiles", reviewer)
    assert listed.status_code == 200
    names = [p["name"] for p in listed.json()]
    assert names == [*PROFILES, "mllm-judge-1to5"]
    builtin = next(p for p in listed.json() if p["name"] == "pointwise")
    assert builtin["template"] == PROFILES["pointwise"].template  # the built-ins, byte for byte
    assert (builtin["score_min"], builtin["score_max"], builtin["builtin"]) == (0, 100, True)
    assert get_profile("mllm-judge-1to5").parse("Judgement: 4").score == 4  # type: ignore[union-attr]


@pytest.mark.django_db
def test_reviewers_and_strangers_cannot_create_profiles(reviewer: Any) -> None:
    assert call("post", "/profiles", reviewer, MLLM_JUDGE).status_code == 403
    assert call("post", "/profiles", None, MLLM_JUDGE).status_code == 401
    assert call("get", "/profiles", None).status_code == 401
    assert not PromptProfile.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": "pointwise"}, "name"),
        ({"template": "Rate {answer}."}, "template"),
        ({"verdict_pattern": r"Judgement: (\d+)"}, "verdict_pattern"),
        ({"score_step": 0.3}, "score_step"),
        ({"kind": "pairwise"}, "score_min"),
        ({"title": "t" * 201}, "title"),  # more than its column holds: a 422, not a database error
        ({"verdict_line": "Judgement: {score}" + "!" * 400}, "verdict_line"),
        ({"score_max": float("inf")}, "score_max"),  # JSON's Infinity, as Python's json writes it
        ({"score_step": float("nan")}, "score_step"),
        ({"value_map": {f"v{n}": "A" for n in range(51)}}, "value_map"),
    ],
)
def test_a_bad_profile_is_refused_by_field_and_nothing_is_stored(admin: Any, changes: dict, field: str) -> None:
    refused = call("post", "/profiles", admin, {**MLLM_JUDGE, **changes})
    assert refused.status_code == 422
    assert field in refused.json()["detail"]
    assert not PromptProfile.objects.exists()


@pytest.mark.django_db
def test_an_unused_profile_can_change_and_names_stay_unique() -> None:
    profile = prompt_profile_create(**MLLM_JUDGE)
    changed = prompt_profile_update(profile=profile, title="MLLM-as-a-Judge, 1-5")
    assert changed.title == "MLLM-as-a-Judge, 1-5"
    with pytest.raises(ValidationError, match="score_max"):
        prompt_profile_update(profile=profile, score_max=0.5)
    profile.refresh_from_db()
    assert profile.score_max == 5
    with pytest.raises(ValidationError, match="a profile named"):
        prompt_profile_create(**MLLM_JUDGE)


def _database_env() -> dict[str, str]:
    """The environment of a manage.py subprocess that uses this test's database."""
    name = connection.settings_dict["NAME"]
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "webapp.settings.test",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{name}",
    }


@pytest.mark.django_db(transaction=True)
def test_parse_verdict_reads_with_a_defined_profile() -> None:
    prompt_profile_create(**MLLM_JUDGE)
    done = subprocess.run(
        [sys.executable, "manage.py", "parse_verdict", "--profile", "mllm-judge-1to5"],
        input="The answer misses the dog.\nJudgement: 2\n", capture_output=True, text=True, cwd=ROOT,
        env=_database_env(), check=False, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) | {"reason": ""} == {"readable": True, "score": 2, "preference": None, "reason": ""}
    unknown = subprocess.run(
        [sys.executable, "manage.py", "parse_verdict", "--profile", "nope"],
        input="Judgement: 2", capture_output=True, text=True, cwd=ROOT, env=_database_env(), check=False, timeout=120,
    )  # fmt: skip
    assert unknown.returncode != 0
    assert len(unknown.stderr.strip().splitlines()) == 1
    assert "unknown profile 'nope'; known: pointwise" in unknown.stderr
    assert "mllm-judge-1to5" in unknown.stderr


@pytest.mark.django_db
def test_administrators_define_a_profile_on_the_admin_page(admin_client: Client) -> None:
    url = "/admin/annotations/promptprofile/add/"
    form = {**MLLM_JUDGE, "title": "", "system": "You grade.", "allow_tie": "on", "reader": "pattern"}
    form["value_map"] = "{}"
    bad = admin_client.post(url, {**form, "template": "Rate {answer}."})
    assert bad.status_code == 200
    assert "unknown placeholder(s) answer" in bad.content.decode()
    assert not PromptProfile.objects.exists()
    good = admin_client.post(url, {**form, "score_step": "", "score_min": "1"})
    assert "a pointwise profile needs score_min, score_max and score_step" in good.content.decode()
    saved = admin_client.post(url, form)
    assert saved.status_code == 302, saved.content.decode()[:2000]
    assert get_profile("mllm-judge-1to5").system == "You grade."


@pytest.mark.django_db
def test_the_admin_page_refuses_to_change_a_profile_in_use_and_says_why(admin_client: Client) -> None:
    profile = prompt_profile_create(**MLLM_JUDGE)
    DatasetFactory(pointwise_profile="mllm-judge-1to5")
    form = {**MLLM_JUDGE, "title": "", "system": "You grade.", "allow_tie": "on", "reader": "pattern"}
    form["value_map"] = "{}"
    refused = admin_client.post(f"/admin/annotations/promptprofile/{profile.pk}/change/", {**form, "score_max": 7})
    assert refused.status_code == 200
    assert "is in use (1 dataset): create a new profile for a changed rubric" in refused.content.decode()
    assert get_profile("mllm-judge-1to5").score_max == 5
