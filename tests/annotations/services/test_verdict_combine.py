"""Several reviewers on one item: the exported verdict is a value the profile can produce (median on its scale,
strict majority of preferences), and the manifest says how it was combined."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from annotations.models import JobStatus
from annotations.services.exports import training_export_create, training_export_run
from annotations.services.verdict_combine import preferences_combine, scores_combine
from critic_worker.profile_specs import ProfileSpec, profile_from_spec
from critic_worker.profiles import PROFILES, Profile, Verdict
from tests.export_world import critic, human
from tests.factories import (
    AdminFactory,
    CheckpointFactory,
    DatasetFactory,
    ItemFactory,
    PairwiseItemFactory,
    UserFactory,
)

POINTWISE = [p for p in PROFILES.values() if p.is_pointwise]


@given(st.sampled_from(POINTWISE), st.data())
def test_combined_scores_are_scores_the_profile_can_produce(profile, data) -> None:  # type: ignore[no-untyped-def]
    assert profile.score_min is not None
    assert profile.score_max is not None
    scores = data.draw(
        st.lists(st.floats(profile.score_min, profile.score_max, allow_nan=False), min_size=1, max_size=7)
    )
    combined = scores_combine(scores=scores, profile=profile)
    assert Verdict(score=combined) in profile.verdicts()
    # numpy's median, rounded half up: never more than half a point from it
    median = float(np.median(scores))
    assert abs(combined - median) <= 0.5 + 1e-9
    assert combined == math.floor(median + 0.5)


def _team_scale(lo: float, hi: float, step: float) -> Profile:
    return profile_from_spec(
        ProfileSpec(
            name=f"scale-{lo}-{hi}-{step}",
            kind="pointwise",
            template="{question} {response}",
            score_min=lo,
            score_max=hi,
            score_step=step,
            verdict_pattern=r"Rating: (?P<score>-?\d+(?:\.\d+)?)",
            verdict_line="Rating: {score}",
        )
    )


# Team-defined scales whose step is not one point: halves, hundredths, hundreds, and one below zero.
TEAM_SCALES = [
    _team_scale(1, 5, 0.5),
    _team_scale(0, 1, 0.01),
    _team_scale(0, 10000, 100),
    _team_scale(-2.5, 2.5, 0.25),
]


@given(st.sampled_from(TEAM_SCALES), st.data())
def test_combined_scores_on_a_teams_scale_are_on_its_step(profile, data) -> None:  # type: ignore[no-untyped-def]
    assert profile.score_min is not None
    assert profile.score_max is not None
    assert profile.score_step is not None
    given_ = data.draw(st.lists(st.sampled_from(profile.verdicts()), min_size=1, max_size=7))
    scores = [v.score for v in given_]
    combined = scores_combine(scores=scores, profile=profile)
    assert Verdict(score=combined) in profile.verdicts()
    assert abs(combined - float(np.median(scores))) <= profile.score_step / 2 + 1e-9
    if len(scores) == 1:
        assert combined == scores[0]  # one reviewer's verdict is exported as given


@pytest.mark.parametrize(
    ("scores", "combined"),
    [([85, 90], 88), ([85, 90, 88], 88), ([3, 3.5], 3), ([3, 4], 4), ([7.5], 8), ([0, 100, 99], 99)],
)
def test_the_median_is_rounded_half_up_to_the_profile_step(scores: list[float], combined: float) -> None:
    profile = PROFILES["pointwise"] if max(scores) > 10 else PROFILES["llava-bench"]
    assert scores_combine(scores=scores, profile=profile) == combined


@given(st.lists(st.sampled_from(["A", "B", "tie"]), min_size=1, max_size=9))
def test_a_preference_is_combined_only_by_a_strict_majority(preferences: list[str]) -> None:
    counts = Counter(preferences)
    majority = [p for p, n in counts.items() if n > len(preferences) / 2]
    assert preferences_combine(preferences=preferences) == (majority[0] if majority else None)


@pytest.mark.django_db
def test_an_export_writes_combined_verdicts_and_says_how(media_root: Path) -> None:
    dataset = DatasetFactory(name="panel", review_overlap=3, disagreement_threshold=0.1)
    checkpoint = CheckpointFactory(is_active=True)
    ann, bob, cy = (UserFactory(username=name) for name in ("ann", "bob", "cy"))

    scored = ItemFactory(dataset=dataset, external_id="s1")
    critic(scored, checkpoint, score=40)
    human(scored, ann, score=85, rationale="Mostly right.")
    human(scored, bob, score=90)

    majority = PairwiseItemFactory(dataset=dataset, external_id="m2")
    critic(majority, checkpoint, preference="B")
    human(majority, ann, preference="A")
    human(majority, bob, preference="B", rationale="B reads better.")
    human(majority, cy, preference="A", rationale="A counts right.")

    for external_id, votes in (("t3", ["A", "B"]), ("t4", ["A", "B", "tie"])):
        split = PairwiseItemFactory(dataset=dataset, external_id=external_id)
        critic(split, checkpoint, preference="tie" if len(votes) == 2 else "A")
        for reviewer, vote in zip((ann, bob, cy), votes, strict=False):
            human(split, reviewer, preference=vote)

    export = training_export_create(dataset=dataset, fmt="llava-json", user=AdminFactory())
    done = training_export_run(export_id=export.pk)
    assert done is not None
    assert done.status == JobStatus.DONE, done.error
    folder = media_root / done.path
    rows = {row["id"]: row["conversations"][1]["value"] for row in json.loads((folder / "train.json").read_text())}
    assert set(rows) == {"s1__pointwise", "m2__pairwise"}
    assert PROFILES["pointwise"].parse(rows["s1__pointwise"]) == Verdict(score=88, justification="Mostly right.")
    # the justification comes from a reviewer in the majority
    assert PROFILES["pairwise"].parse(rows["m2__pairwise"]) == Verdict(preference="A", justification="A counts right.")
    assert done.manifest["left_out"]["reviewers_disagree"] == 2
    rule = done.manifest["reviewers_combined"]
    assert "median" in rule["scores"]
    assert "rounded half up" in rule["scores"]
    assert "strict majority" in rule["preferences"]
