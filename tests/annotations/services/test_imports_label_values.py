"""Labels and judges' verdicts as benchmark files give them, checked against the item's profile before anything is
written: a score off the profile's step or a tie the profile does not allow is named with its row and field (not
taken for another import racing this one), and a preference is read in the spellings such files use (MLLM-as-a-Judge's
A / B / C with C a tie, Chatbot Arena's model_a / model_b / tie (bothbad), any case, and a team profile's own value
map)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from annotations.models import CriticVerdict, HumanVerdict, Item
from annotations.services.imports import items_import
from annotations.services.profiles import prompt_profile_create
from tests.annotations.services.import_files import image_folder, write_jsonl
from tests.factories import DatasetFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def profiles() -> None:
    prompt_profile_create(
        name="mllm-score",
        kind="pointwise",
        template="Rate from 1 to 5.\n{question}\n{response}",
        score_min=1,
        score_max=5,
        score_step=1,
        reader="pointwise",
    )
    prompt_profile_create(
        name="mllm-pair",
        kind="pairwise",
        template="{question}\nA: {response_a}\nB: {response_b}",
        verdict_pattern=r"\[\[(?P<preference>[ABC])\]\]",
        value_map={"A": "A", "B": "B", "C": "tie"},
        verdict_line="[[{preference}]]",
    )
    prompt_profile_create(
        name="one-or-two",
        kind="pairwise",
        template="{question}\n1: {response_a}\n2: {response_b}",
        allow_tie=False,
        verdict_pattern=r"Better:\s*(?P<preference>[12])",
        value_map={"1": "A", "2": "B"},
        verdict_line="Better: {preference}",
    )


def pair(i: int, **fields: Any) -> dict[str, Any]:
    return {"id": f"w{i}", "image": "imgs/0.png", "question": f"Q{i}?", "response_a": "x", "response_b": "y", **fields}


def point(i: int, **fields: Any) -> dict[str, Any]:
    return {"id": f"p{i}", "image": "imgs/0.png", "question": f"Q{i}?", "response": "x", **fields}


def run(tmp_path: Path, rows: list[dict[str, Any]], profile: str = "") -> Any:
    return items_import(
        dataset=DatasetFactory(),
        path=write_jsonl(tmp_path / "rows.jsonl", rows),
        images=image_folder(tmp_path, 1),
        profile=profile,
    )


def test_scores_off_the_step_and_ties_not_allowed_are_named_by_row_and_field(profiles: None, tmp_path: Path) -> None:
    off_step = run(
        tmp_path,
        [
            point(0, human_score=2.5, reviewer="ann"),
            point(1, human_labels=[{"reviewer": "ann", "score": 3.5}]),
            point(2, judge="gpt-4v", judge_score=4.5),
            point(3, judges=[{"name": "gpt-4v", "score": 1.5}]),
        ],
        profile="mllm-score",
    )
    assert not off_step.ok
    assert [(p.row, p.field) for p in off_step.problems] == [
        (1, "human_score"),
        (2, "human_labels"),
        (3, "judge"),
        (4, "judges[1]"),
    ]
    assert all("step of 1" in p.message for p in off_step.problems), off_step.problems

    no_tie = run(
        tmp_path,
        [pair(0, human_preference="tie", reviewer="ann"), pair(1, judge="gpt-4v", judge_preference="tie")],
        profile="one-or-two",
    )
    assert not no_tie.ok
    assert [(p.row, p.field) for p in no_tie.problems] == [(1, "human_preference"), (2, "judge")]
    assert all("does not allow a tie" in p.message for p in no_tie.problems), no_tie.problems
    assert not Item.objects.exists()
    assert not HumanVerdict.objects.exists()
    assert not CriticVerdict.objects.exists()


@pytest.mark.parametrize(
    ("profile", "given", "stored"),
    [
        ("mllm-pair", ["A", "B", "C"], ["A", "B", "tie"]),  # MLLM-as-a-Judge's pair labels, through the value map
        ("pairwise", ["A", "B", "C"], ["A", "B", "tie"]),  # read as the built-in reader reads [[C]]
        ("pairwise", ["a", "b", "Tie"], ["A", "B", "tie"]),
        ("pairwise", ["model_a", "model_b", "tie (bothbad)"], ["A", "B", "tie"]),  # Chatbot Arena's winner column
        ("one-or-two", ["1", "2", "A"], ["A", "B", "A"]),  # the profile's own value map
    ],
)
def test_preferences_are_read_as_benchmark_files_spell_them(
    profiles: None, tmp_path: Path, profile: str, given: list[str], stored: list[str]
) -> None:
    rows = [
        pair(i, human_preference=value, reviewer="ann", judge="gpt-4v", judge_preference=value)
        for i, value in enumerate(given)
    ]
    report = run(tmp_path, rows, profile=profile)
    assert report.ok, report.problems
    humans = dict(HumanVerdict.objects.values_list("item__external_id", "preference"))
    judged = dict(CriticVerdict.objects.values_list("item__external_id", "preference"))
    assert [humans[f"w{i}"] for i in range(len(given))] == stored
    assert [judged[f"w{i}"] for i in range(len(given))] == stored


def test_a_preference_no_spelling_reads_is_named_with_its_value(profiles: None, tmp_path: Path) -> None:
    report = run(
        tmp_path,
        [pair(0, human_preference="D", reviewer="ann"), pair(1, judge="gpt-4v", judge_preference="both")],
        profile="mllm-pair",
    )
    assert not report.ok
    assert [(p.row, p.field) for p in report.problems] == [(1, "human_preference"), (2, "judge")]
    assert "'D'" in report.problems[0].message
    assert "'both'" in report.problems[1].message


def test_a_score_that_is_not_a_number_is_one_problem(profiles: None, tmp_path: Path) -> None:
    report = run(tmp_path, [point(0, human_score="2,5x", reviewer="ann")], profile="mllm-score")
    found = [(p.row, p.field, p.message) for p in report.problems]
    assert found == [(1, "human_score", "must be a number, not '2,5x'")]
