"""Profiles a team defines: checked field by field, turned into the same Profile as the built-ins, and every verdict
they can give is written and read back as itself."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from critic_worker.profile_specs import (
    CHECK_TIME_LIMIT_S,
    READ_TIME_LIMIT_S,
    ProfileError,
    ProfileSpec,
    profile_from_spec,
    too_slow,
)
from critic_worker.profiles import PromptInput, Verdict, chat_prompt

ROOT = Path(__file__).resolve().parents[2]
ITEM = PromptInput(question="What is shown?", response_a="A cat.", response_b="A dog.")
RUBRIC = "Rate the answer to {question} from 1 to 5.\nAnswer: {response}\nReply 'Judgement: N'."


def mllm_judge_score(**changes: object) -> ProfileSpec:
    fields: dict[str, object] = {
        "name": "mllm-judge-1to5",
        "kind": "pointwise",
        "template": RUBRIC,
        "system": "You are a strict grader.",
        "score_min": 1,
        "score_max": 5,
        "score_step": 1,
        "verdict_pattern": r"Judgement:\s*(?P<score>\d+(?:\.\d+)?)",
        "verdict_line": "Judgement: {score}",
    }
    return ProfileSpec(**{**fields, **changes})  # type: ignore[arg-type]


def test_a_pattern_profile_reads_its_judges_outputs_and_writes_them_back() -> None:
    profile = profile_from_spec(mllm_judge_score())
    assert [v.score for v in profile.verdicts()] == [1, 2, 3, 4, 5]
    assert profile.parse("The answer misses the dog.\nJudgement: 2").score == 2  # type: ignore[union-attr]
    assert profile.render(Verdict(score=4, justification="Good.")) == "Good.\nJudgement: 4"
    assert not profile.read("Judgement: 7").readable  # outside 1-5: never clamped
    assert "outside the profile's range 1-5" in profile.read("Judgement: 7").reason
    assert not profile.read("Judgement: 3.5").readable  # off the step of 1
    assert profile.prompt(ITEM).startswith("Rate the answer to What is shown? from 1 to 5.\nAnswer: A cat.")
    assert chat_prompt(profile, ITEM).startswith("<|im_start|>system\nYou are a strict grader.<|im_end|>")


def test_a_pairwise_pattern_maps_its_letters_and_may_refuse_ties() -> None:
    spec = ProfileSpec(
        name="mllm-judge-pair",
        kind="pairwise",
        template="Q: {question}\nA: {response_a}\nB: {response_b}\nAnswer [[A]], [[B]] or [[C]] for a tie.",
        verdict_pattern=r"\[\[(?P<preference>[ABC])\]\]",
        value_map={"A": "A", "B": "B", "C": "tie"},
        verdict_line="[[{preference}]]",
    )
    profile = profile_from_spec(spec)
    assert profile.parse("B invents a cat. [[A]]").preference == "A"  # type: ignore[union-attr]
    assert profile.parse("Equal. [[C]]").preference == "tie"  # type: ignore[union-attr]
    assert profile.render(Verdict(preference="tie")) == "[[C]]"
    no_ties = profile_from_spec(ProfileSpec(**{**spec.__dict__, "allow_tie": False, "value_map": {"A": "A", "B": "B"}}))
    assert [v.preference for v in no_ties.verdicts()] == ["A", "B"]
    assert not no_ties.read("[[C]]").readable


def test_a_built_in_familys_reader_on_a_teams_own_range() -> None:
    profile = profile_from_spec(mllm_judge_score(reader="pointwise", verdict_pattern="", verdict_line=""))
    assert profile.render(Verdict(score=4)) == "Score: 4/5"
    assert profile.parse("**Overall score: 4/5**").score == 4  # type: ignore[union-attr]
    assert profile.parse("I would rate it 10 out of 10.").score == 5  # type: ignore[union-attr]
    off_step = profile.read("Score: 8/10")  # 8/10 on 1-5 is 4.2: not a score this rubric gives
    assert not off_step.readable
    assert "not on the profile's step" in off_step.reason


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"name": "Bad Name!"}, "name", "lower-case"),
        ({"template": "Rate {response}."}, "template", "{question}"),
        ({"template": "Rate {question} {answer}."}, "template", "unknown placeholder(s) answer"),
        ({"template": "Rate {question} {response:>3}."}, "template", "nothing more"),
        ({"template": "Rate {question {response}."}, "template", "literal brace"),
        ({"template": "{question} {response} {response_b}"}, "template", "no {response_b}"),
        ({"score_max": 1}, "score_max", "above score_min"),
        ({"score_step": 0.3}, "score_step", "whole steps"),
        ({"score_max": 100000}, "score_step", "at most"),
        ({"verdict_pattern": "Judgement: ("}, "verdict_pattern", "not a regular expression"),
        ({"verdict_pattern": r"Judgement: (\d+)"}, "verdict_pattern", "(?P<score>"),
        ({"verdict_line": "Judgement"}, "verdict_line", "{score}"),
        ({"verdict_line": "Score {score}"}, "verdict_pattern", "reads back"),
        ({"reader": "pairwise"}, "reader", "reads pairwise verdicts"),
        ({"reader": "nope"}, "reader", "built-in family"),
        # What a hostile or careless administrator may send: each refused on its field, never an exception.
        ({"name": "likert\n"}, "name", "lower-case"),
        ({"name": "Pointwise"}, "name", "lower-case"),
        ({"name": " pointwise"}, "name", "lower-case"),
        ({"name": "p\u043eintwise"}, "name", "lower-case"),  # a Cyrillic o: not the built-in, not a name either
        ({"verdict_pattern": r"(?P<score>\d*)"}, "verdict_pattern", "reads back"),  # its last match is empty
        ({"template": "Rate {question.__class__} {response}."}, "template", "write the placeholder as {question}"),
        ({"template": "Rate {0} {question} {response}."}, "template", "{0} is not a placeholder"),
        ({"template": "{question}{response}" * 6}, "template", "at most 10 placeholders"),
        ({"template": RUBRIC + " " * 20_000}, "template", "at most 20,000 characters"),
        ({"system": "Be strict. " * 2_001}, "system", "at most 20,000 characters"),
        ({"title": "t" * 201}, "title", "at most 200 characters"),
        ({"title": "a\x00b"}, "title", "NUL"),
        ({"verdict_line": "Judgement: {score}" + "!" * 400}, "verdict_line", "at most 400 characters"),
        ({"verdict_pattern": r"Judgement:\s*(?P<score>\d+)" + "(?:x)?" * 200}, "verdict_pattern", "at most 1,000"),
        ({"score_max": float("inf")}, "score_max", "a number from -1,000,000,000 to 1,000,000,000"),
        ({"score_min": float("nan")}, "score_min", "a number from"),
        ({"score_step": float("nan")}, "score_step", "a number from"),
        ({"score_min": -1e308, "score_max": 1e308, "score_step": 1e306}, "score_max", "a number from"),
    ],
)
def test_a_spec_that_cannot_be_a_profile_says_which_field_and_why(changes: dict, field: str, message: str) -> None:
    with pytest.raises(ProfileError) as caught:
        profile_from_spec(mllm_judge_score(**changes))
    assert message in caught.value.errors[field]


# A team's pattern must not hang a web or critic worker. Each of these reads its verdict lines back at once, but
# backtracks on a run of letters or digits that fails at its end, the first two without end (in Python's re: hours at
# 40 characters), the others for seconds on a long critic output.
BACKTRACKING = [
    (r"Judgement:\s*(?P<score>\d)|(a+)+$", "Judgement: 4 " + "a" * 5000 + "!"),
    (r"Judgement:\s*(?P<score>\d)|(?:a|aa)+$", "Judgement: 4 " + "a" * 5000 + "!"),
    (r"Judgement:\s*(?P<score>\d)|^(?:\w+\s?)+$", "a" * 20000 + "!"),
    (r"(?:\d|\d\d)+!|Judgement:\s*(?P<score>\d)", "Judgement: 4 " + "1" * 5000 + "?"),
]


@pytest.mark.parametrize(("pattern", "slow_text"), BACKTRACKING)
def test_a_pattern_that_backtracks_is_refused_when_saved(pattern: str, slow_text: str) -> None:
    started = time.monotonic()
    with pytest.raises(ProfileError) as refused:
        profile_from_spec(mllm_judge_score(verdict_pattern=pattern))
    assert "backtracks too much" in refused.value.errors["verdict_pattern"]
    assert "nested or overlapping repeats" in refused.value.errors["verdict_pattern"]
    assert time.monotonic() - started < 4 * CHECK_TIME_LIMIT_S


@pytest.mark.parametrize(("pattern", "slow_text"), BACKTRACKING)
def test_a_stored_pattern_that_backtracks_is_stopped_at_the_time_limit(pattern: str, slow_text: str) -> None:
    # Stored before the check above (or written to the table by hand): every reader stops it, never hangs.
    profile = profile_from_spec(mllm_judge_score(verdict_pattern=pattern), being_saved=False)
    assert profile.parse("Fine.\nJudgement: 4") == Verdict(score=4, justification="Fine.")  # the verdict line
    started = time.monotonic()
    reading = profile.read(slow_text)
    assert time.monotonic() - started < 10 * READ_TIME_LIMIT_S
    assert not reading.readable
    assert reading.reason == too_slow(slow_text)
    assert f"stopped after {READ_TIME_LIMIT_S:g} s on this text ({len(slow_text):,} characters)" in reading.reason


def test_a_pattern_that_does_not_backtrack_reads_a_long_text_at_once() -> None:
    profile = profile_from_spec(mllm_judge_score(verdict_pattern=r"(?s).*Judgement:\s*(?P<score>\d+)"))
    text = "The answer is fine. " * 5000 + "Judgement: 3"
    assert profile.parse(text).score == 3  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("value_map", "message"),
    [
        ({"A": "A", "B": "B", "C": "maybe"}, "map each matched value to A, B or tie"),
        ({"A": "A", "B": "B"}, "the value map must give A, B and tie"),
        ({"A": "A", "a": "B", "C": "tie"}, "reads back"),  # case is ignored: 'A' would read as B
        ({"": "A", "B": "B", "C": "tie"}, "not blank"),  # an empty [[]] read as A: the form refuses it too
    ],
)
def test_a_value_map_that_cannot_give_each_verdict_is_refused(value_map: dict[str, str], message: str) -> None:
    spec = ProfileSpec(
        name="pair",
        kind="pairwise",
        template="{question} {response_a} {response_b}",
        verdict_pattern=r"\[\[(?P<preference>\w*)\]\]",
        value_map=value_map,
        verdict_line="[[{preference}]]",
    )
    with pytest.raises(ProfileError) as refused:
        profile_from_spec(spec)
    assert message in " ".join(refused.value.errors.values())


@pytest.mark.parametrize(
    "pattern",
    [
        r"Judgement:\s*(?P<score>\d)a{10000000}",  # compiled by writing 'a' out ten million times: 2.6 GB
        r"Judgement:\s*(?P<score>\d)(?:(?:(?:x{100}){100}){100}){100}",
        r"Judgement:\s*(?P<score>\d)(?:x{0,4294967294})?",
    ],
)
def test_a_pattern_whose_counted_repeats_blow_up_is_refused_before_it_is_compiled(pattern: str) -> None:
    # In a process of its own: before this check, compiling the first held its process for seconds and gigabytes.
    code = (
        "import sys; from tests.critic_worker.test_profile_specs import mllm_judge_score\n"
        "from critic_worker.profile_specs import ProfileError, profile_from_spec\n"
        "for being_saved in (True, False):\n"
        "    try:\n"
        "        profile_from_spec(mllm_judge_score(verdict_pattern=sys.argv[1]), being_saved=being_saved)\n"
        "    except ProfileError as exc:\n"
        "        print(exc.errors['verdict_pattern'])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, pattern], capture_output=True, text=True, cwd=ROOT, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    said = done.stdout.splitlines()
    assert len(said) == 2  # refused when saved, and when a stored one is loaded
    assert all("counted repeats ({n}, {m,n}) multiply to more than 10,000" in line for line in said)


def test_counted_repeats_a_rubric_needs_are_kept() -> None:
    pattern = r"Judgement:\s*(?P<score>\d{1,3}(?:\.\d{1,2})?)/\d{1,3}\s{0,5}"
    profile = profile_from_spec(mllm_judge_score(verdict_pattern=pattern, verdict_line="Judgement: {score}/5"))
    assert profile.parse("Judgement: 4/5").score == 4  # type: ignore[union-attr]


def test_a_stored_profile_outside_todays_sizes_still_loads() -> None:
    # Stored before the limits on sizes (or under other limits): readable, its verdicts stay usable.
    big = mllm_judge_score(template=RUBRIC + " {question}" * 12, title="t" * 300)
    with pytest.raises(ProfileError):
        profile_from_spec(big)
    assert profile_from_spec(big, being_saved=False).parse("Judgement: 3").score == 3  # type: ignore[union-attr]
