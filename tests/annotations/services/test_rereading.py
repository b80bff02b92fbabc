"""Re-reading stored verdicts: a report changes nothing; applying changes exactly the misread ones, keeps every
previous value in a record, forgets the cached metrics, and a second run finds nothing more to change."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from django.urls import reverse

from annotations.models import CriticVerdict, JobStatus, VerdictReread, VerdictRereadChange
from annotations.services.profiles import prompt_profile_create
from annotations.services.rereading import FIELDS, verdicts_for_reread, verdicts_reread
from tests.factories import CheckpointFactory, DatasetFactory, ItemFactory, PairwiseItemFactory

pytestmark = pytest.mark.django_db

POINT_100 = "The answer deserves a score of 85. A perfect score of 100 would require the dog's breed."
CONCEDED = "Although Response 1 is more accurate about the colours, Response 2 is better overall."
NEGATED = "I cannot say Response 1 is better; in fact Response 2 is better."


@pytest.fixture
def world() -> dict[str, Any]:
    """Verdicts as the old regex reader stored them, one per case the re-read must handle."""
    dataset = DatasetFactory(name="arena")
    critic = CheckpointFactory(name="critic-7b")
    judge = CheckpointFactory(name="gpt-4o", is_external=True)

    def verdict(key: str, *, pairwise: bool = False, checkpoint: Any = critic, **fields: Any) -> CriticVerdict:
        item = (PairwiseItemFactory if pairwise else ItemFactory)(dataset=dataset, external_id=key)
        defaults = {"status": JobStatus.DONE, "profile": item.profile}
        return CriticVerdict.objects.create(item=item, checkpoint=checkpoint, **{**defaults, **fields})

    return {
        "dataset": dataset,
        # imported judge text misread as 8.5 on 0-100: read as 85, the judge's own confidence kept
        "scale": verdict("scale", checkpoint=judge, score=8.5, raw_output="Score: 8.5/10", confidence=0.9),
        # the engine's verdict, misread as 100: read as 85 and its confidence re-taken from its probabilities
        "perfect": verdict("perfect", score=100, raw_output=POINT_100, probabilities={"85": 0.7, "100": 0.3}),
        "conceded": verdict("conceded", pairwise=True, preference="A", raw_output=CONCEDED),
        # a swap check: the critic's "Response 2" is the item's A; it was stored as B
        "swapped": verdict("swapped", pairwise=True, preference="B", raw_output=NEGATED, probe="swap"),
        # a hedge stored as 7 by an imported judge: now unreadable, failed with the reason, 7 kept in the record
        "hedge": verdict("hedge", checkpoint=judge, score=7, raw_output="I would rate it 7 or 8 out of 10."),
        # a hedge from the engine: forced from its stored probabilities, as the worker does
        "range": verdict("range", score=70, raw_output="Score: 70-80", probabilities={"70": 0.2, "75": 0.8}),
        # forced by the worker because the old reader could not read bold labels: now read
        "bold": verdict(
            "bold", score=40, forced=True, raw_output="**Score**: 85", probabilities={"40": 0.6, "85": 0.4}
        ),
        # an imported judge text the old reader refused, kept as failed: now read
        "failed": verdict(
            "failed", checkpoint=judge, status=JobStatus.FAILED, raw_output="### Final Score\n\n**72**", error="x"
        ),
        "fine": verdict("fine", score=72, raw_output="Accurate but brief. Score: 72/100"),
        "queued": verdict("queued", status=JobStatus.QUEUED),
    }


def _state(verdict: CriticVerdict) -> dict[str, Any]:
    verdict.refresh_from_db()
    return {name: getattr(verdict, name) for name in FIELDS}


def test_a_report_counts_by_profile_and_checkpoint_and_writes_nothing(world: dict[str, Any]) -> None:
    before = {key: _state(v) for key, v in world.items() if key != "dataset"}
    report = verdicts_reread(verdicts=verdicts_for_reread(dataset=world["dataset"]))
    assert report.run is None
    assert report.examined == 9  # every finished verdict, and the failed one that kept its text; not the queued
    assert report.as_json()["totals"] == {"changed": 4, "unreadable": 2, "readable": 2}
    groups = {(row["profile"], row["checkpoint"]): row for row in report.as_json()["by_profile_and_checkpoint"]}
    assert groups["pointwise", "gpt-4o"] == {
        "profile": "pointwise", "checkpoint": "gpt-4o", "changed": 1, "unreadable": 1, "readable": 1
    }  # fmt: skip
    assert groups["pairwise", "critic-7b"]["changed"] == 2
    assert {key: _state(v) for key, v in world.items() if key != "dataset"} == before
    assert not VerdictReread.objects.exists()


def test_applying_changes_the_misread_verdicts_and_keeps_what_they_were(
    world: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    generation = cache.get(f"metrics-generation:{world['dataset'].pk}")
    before = {key: _state(v) for key, v in world.items() if key != "dataset"}
    with django_capture_on_commit_callbacks(execute=True):
        report = verdicts_reread(verdicts=verdicts_for_reread(dataset=world["dataset"]), apply=True, scope="test")
    after = {key: _state(v) for key, v in world.items() if key != "dataset"}

    assert after["scale"]["score"] == 85
    assert after["scale"]["confidence"] == 0.9
    assert (after["perfect"]["score"], after["perfect"]["confidence"]) == (85, 0.7)
    assert after["conceded"]["preference"] == "B"
    assert after["swapped"]["preference"] == "A"
    assert after["hedge"]["status"] == JobStatus.FAILED
    assert after["hedge"]["score"] is None
    assert "unreadable" in after["hedge"]["error"]
    assert "range" in after["hedge"]["error"]
    assert after["range"] | {"justification": ""} == {
        "status": "done", "score": 75, "preference": None, "forced": True, "confidence": 0.8, "error": "",
        "justification": "",
    }  # fmt: skip
    assert (after["bold"]["score"], after["bold"]["forced"], after["bold"]["confidence"]) == (85, False, 0.4)
    assert (after["failed"]["status"], after["failed"]["score"], after["failed"]["error"]) == ("done", 72, "")
    assert after["fine"] == before["fine"]
    assert after["queued"] == before["queued"]

    run = VerdictReread.objects.get()
    assert run == report.run
    assert (run.examined, run.changed, run.now_unreadable, run.newly_readable) == (9, 4, 2, 2)
    records = {c.verdict.item.external_id: c for c in VerdictRereadChange.objects.select_related("verdict__item")}
    assert set(records) == {"scale", "perfect", "conceded", "swapped", "hedge", "range", "bold", "failed"}
    for key, record in records.items():
        assert record.previous == pytest.approx(before[key]), key  # nothing that was stored is lost
        assert record.current["score"] == after[key]["score"]
        assert record.reason
    assert records["hedge"].change == "unreadable"
    assert records["bold"].change == "readable"
    assert cache.get(f"metrics-generation:{world['dataset'].pk}") != generation

    again = verdicts_reread(verdicts=verdicts_for_reread(dataset=world["dataset"]), apply=True)
    assert again.changes == []
    assert again.examined == 9
    assert VerdictRereadChange.objects.count() == 8


def test_the_admin_action_reports_then_applies(world: dict[str, Any], admin_client: Any) -> None:
    url = reverse("admin:annotations_criticverdict_changelist")
    chosen = [world["perfect"].pk, world["fine"].pk]
    report = admin_client.post(url, {"action": "reread_report", "_selected_action": chosen}, follow=True)
    assert "Re-read 2 verdicts. Would change (nothing written): 1 read as another value" in report.content.decode()
    assert _state(world["perfect"])["score"] == 100
    applied = admin_client.post(url, {"action": "reread_apply", "_selected_action": chosen}, follow=True)
    assert "Applied as re-read #" in applied.content.decode()
    assert _state(world["perfect"])["score"] == 85
    assert VerdictRereadChange.objects.get().previous["score"] == 100


def test_a_judges_verdict_given_as_a_value_has_no_text_to_reread_and_stays() -> None:
    """A file's judge_score / judge_preference carries no text: re-reading must not make it unreadable."""
    dataset = DatasetFactory(name="mllm")
    judge = CheckpointFactory(name="gpt-4v", is_external=True)
    scored = CriticVerdict.objects.create(
        item=ItemFactory(dataset=dataset), checkpoint=judge, status=JobStatus.DONE, profile="pointwise", score=80
    )
    preferred = CriticVerdict.objects.create(
        item=PairwiseItemFactory(dataset=dataset),
        checkpoint=judge,
        status=JobStatus.DONE,
        profile="pairwise",
        preference="A",
    )
    report = verdicts_reread(verdicts=verdicts_for_reread(dataset=dataset), apply=True)
    assert report.as_json()["totals"] == {"changed": 0, "unreadable": 0, "readable": 0}
    assert (_state(scored)["status"], _state(scored)["score"]) == (JobStatus.DONE, 80)
    assert (_state(preferred)["status"], _state(preferred)["preference"]) == (JobStatus.DONE, "A")


def test_a_reread_score_on_a_teams_step_takes_its_own_probability() -> None:
    prompt_profile_create(
        name="halves",
        kind="pointwise",
        template="Rate {question}: {response}",
        score_min=1,
        score_max=5,
        score_step=0.5,
        verdict_pattern=r"Rating:\s*(?P<score>\d+(?:\.\d+)?)",
        verdict_line="Rating: {score}",
    )
    dataset = DatasetFactory(name="halves", pointwise_profile="halves")
    item = ItemFactory(dataset=dataset, profile="halves")
    # forced to 4 by the worker, whose reader then could not read the text; 4.5 is what it says, at 0.7
    verdict = CriticVerdict.objects.create(
        item=item,
        checkpoint=CheckpointFactory(),
        profile="halves",
        status=JobStatus.DONE,
        score=4,
        forced=True,
        raw_output="Close to right. Rating: 4.5",
        probabilities={"4": 0.3, "4.5": 0.7},
        confidence=0.3,
    )
    verdicts_reread(verdicts=verdicts_for_reread(dataset=dataset), apply=True)
    verdict.refresh_from_db()
    assert (verdict.score, verdict.forced, verdict.confidence) == (4.5, False, 0.7)
