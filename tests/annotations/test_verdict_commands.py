"""manage.py parse_verdict and reread_verdicts, as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from annotations.models import CriticVerdict, JobStatus, VerdictReread
from tests.factories import CheckpointFactory, DatasetFactory, ItemFactory

ROOT = Path(__file__).resolve().parents[2]


def _parse(profile: str, text: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "webapp.settings.test"}
    return subprocess.run(
        [sys.executable, "manage.py", "parse_verdict", "--profile", profile],
        input=text, capture_output=True, text=True, cwd=ROOT, env=env, check=False, timeout=120,
    )  # fmt: skip


def test_parse_verdict_prints_one_json_object_from_stdin() -> None:
    done = _parse("pointwise", "**Accuracy:** 9/10\n\n**Overall score: 8.5/10**\n")
    assert done.returncode == 0, done.stderr
    reading = json.loads(done.stdout)  # exactly one object: anything else around it would not parse
    assert reading["readable"] is True
    assert reading["score"] == 85
    assert reading["preference"] is None
    assert "8.5/10" in reading["reason"]


@pytest.mark.parametrize(
    ("profile", "text", "expected"),
    [
        ("pairwise", "I cannot say Response 1 is better; in fact Response 2 is better.", (True, None, "B")),
        ("wildvision", "My final verdict is tie: [[A=B]]", (True, None, "tie")),
        ("pointwise", "Score: 250", (False, None, None)),
        ("pairwise", "Both have merits.", (False, None, None)),
    ],
)
def test_parse_verdict_in_process(profile: str, text: str, expected: tuple[bool, float | None, str | None]) -> None:
    out = StringIO()
    call_command("parse_verdict", "--profile", profile, stdin=StringIO(text), stdout=out)
    reading = json.loads(out.getvalue())
    assert (reading["readable"], reading["score"], reading["preference"]) == expected
    assert reading["reason"]


@pytest.mark.django_db
def test_parse_verdict_refuses_an_unknown_profile() -> None:
    with pytest.raises(CommandError, match="unknown profile 'nope'; known: pointwise, caption"):
        call_command("parse_verdict", "--profile", "nope", stdin=StringIO("Score: 8"))


@pytest.mark.django_db
def test_reread_verdicts_reports_then_applies() -> None:
    dataset = DatasetFactory(name="arena")
    critic = CheckpointFactory(name="critic-7b")
    item = ItemFactory(dataset=dataset)
    verdict = CriticVerdict.objects.create(
        item=item, checkpoint=critic, profile="pointwise", status=JobStatus.DONE, score=8.5, raw_output="Score: 8.5/10"
    )
    out = StringIO()
    call_command("reread_verdicts", "--dataset", "arena", "--json", stdout=out)
    report = json.loads(out.getvalue())
    assert report["applied"] is False
    assert report["by_profile_and_checkpoint"] == [
        {"profile": "pointwise", "checkpoint": "critic-7b", "changed": 1, "unreadable": 0, "readable": 0}
    ]
    verdict.refresh_from_db()
    assert verdict.score == 8.5

    out = StringIO()
    call_command("reread_verdicts", "--dataset", "arena", "--checkpoint", "critic-7b", "--apply", stdout=out)
    assert "Applied (re-read #" in out.getvalue()
    assert "1 read as another value" in out.getvalue()
    verdict.refresh_from_db()
    assert verdict.score == 85
    assert VerdictReread.objects.get().changes.get().previous["score"] == 8.5


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [(["--dataset", "nope"], "No dataset named 'nope'"), (["--checkpoint", "ghost"], "No checkpoint named 'ghost'")],
)
def test_reread_verdicts_explains_what_is_wrong(args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        call_command("reread_verdicts", *args)
    assert not VerdictReread.objects.exists()
