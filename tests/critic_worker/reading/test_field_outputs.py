"""Judge outputs as they sit in the field's files, read as a careful person reads them: MLLM-as-a-Judge's own judge
files (CogVLM's "Judgement: 4</s>", a bare "1</s>", "Judgement: 4Explanation: ..."), outputs that end in a model's
end-of-turn token, and answers that are only the verdict ("4", "B.") or end with it alone after an analysis."""

from __future__ import annotations

import pytest

from critic_worker.profile_specs import ProfileSpec, profile_from_spec
from critic_worker.profiles import Profile, get_profile
from tests.critic_worker.verdict_texts import ALL, profile_for

# The end-of-sequence and end-of-turn markers of the models judges run on (LLaMA/Vicuna/CogVLM, Qwen's ChatML,
# GPT-2 style, Llama 3, Gemma, DeepSeek, Phi), as a decode that keeps special tokens leaves them.
END_TOKENS = [
    "</s>",
    "<|im_end|>",
    "<|endoftext|>",
    "<|eot_id|>",
    "<eos>",
    "<end_of_turn>",
    "<\uff5cend\u2581of\u2581sentence\uff5c>",  # DeepSeek's, with its full-width bars
    "<|end|>",
]


def one_to_five(reader: str = "pointwise") -> Profile:
    """MLLM-as-a-Judge's 1-5 rubric as a team defines it, read by the careful reader on its own range."""
    return profile_from_spec(
        ProfileSpec(
            name="mllm-judge-score",
            kind="pointwise",
            template="Rate from 1 to 5.\n{question}\n{response}",
            score_min=1,
            score_max=5,
            score_step=1,
            reader=reader,
        )
    )


def pair_with_tie() -> Profile:
    return profile_from_spec(
        ProfileSpec(
            name="mllm-judge-pair",
            kind="pairwise",
            template="{question}\nA: {response_a}\nB: {response_b}",
            reader="pairwise",
        )
    )


def verdict_of(profile: Profile, text: str) -> float | str | None:
    reading = profile.read(text)
    if reading.verdict is None:
        return None
    return reading.verdict.preference or reading.verdict.score


@pytest.mark.parametrize("token", END_TOKENS)
def test_an_end_of_turn_token_after_the_verdict_changes_no_reading(token: str) -> None:
    for profile_name, text, _ in ALL:
        profile = profile_for(profile_name)
        plain = profile.read(text)
        for ended in (text + token, text + token + "\n", text + " " + token):
            glued = profile.read(ended)
            assert (glued.verdict is None) == (plain.verdict is None), (ended, glued.reason)
            if plain.verdict is not None and glued.verdict is not None:
                got, want = glued.verdict, plain.verdict
                assert (got.score, got.preference) == (want.score, want.preference), (ended, glued.reason)


# CogVLM's and GPT-4V's outputs in MLLM-as-a-Judge's judge files (step3/Score), as they stand there.
MLLM_JUDGE_SCORES = [
    ("Judgement: 4</s>", 4),
    ("Judgement: 3</s>", 3),
    ("1</s>", 1),
    ("4</s>", 4),
    ("\nJudgement: 4</s>", 4),
    ("Judgement: 4\nExplanation: The response is well-aligned with the user's instruction.</s>", 4),
    ("Judgement: 4Explanation: The response is well-aligned with the user's instruction.</s>", 4),
    ('```json\n{"Analysis": "The answer names the lime.", "Judgement": "[[3]]"}\n```', 3),
    ("Judgement: [[2]]</s>", 2),
]


@pytest.mark.parametrize(("text", "expected"), MLLM_JUDGE_SCORES)
def test_mllm_as_a_judge_score_outputs_are_read_on_its_1_to_5_scale(text: str, expected: int) -> None:
    assert verdict_of(one_to_five(), text) == expected, one_to_five().read(text).reason


@pytest.mark.parametrize(
    ("profile_name", "text", "expected"),
    [
        ("caption", "The caption misses the second car.\nFinal Score: 62<|im_end|>", 62),
        ("llava-bench", "9 7</s>", 7),
        ("llava-bench", "9 7<|im_end|>\nAssistant 2 misses the sign.", 7),
        ("pairwise", "The better response: [second]<|eot_id|>", "B"),
        ("wildvision", "My final verdict is: [[B>A]]<|im_end|>", "B"),
        ("pointwise", "Score: 85</s>", 85),
        # WildVision's verdict said after a verdict word, then reasons: the five-way label, not its first letter.
        ("wildvision", "My final verdict is: [[A=B]] since both read the sign.", "tie"),
        ("wildvision", "Verdict: [[A<B]], B names the breed.", "B"),
    ],
)
def test_built_in_families_read_through_end_tokens(profile_name: str, text: str, expected: float | str) -> None:
    assert verdict_of(get_profile(profile_name), text) == expected, get_profile(profile_name).read(text).reason


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("4", 4),
        ("4.", 4),
        (" 3 \n", 3),
        ("[4]", 4),
        ("The response names the lime and the tray correctly. 4", 4),
        ("The answer is accurate.\n\n5", 5),
        ("Judgement: 3Reason: it misses the tray.", 3),
    ],
)
def test_an_answer_that_is_only_the_score_is_that_score(text: str, expected: int) -> None:
    assert verdict_of(one_to_five(), text) == expected, one_to_five().read(text).reason


@pytest.mark.parametrize(
    "text",
    [
        "The image shows 2 dogs and 3 cats.",  # counts in prose, no verdict
        "The answer lists:\n1. a cup\n2. a pen\n3",  # a numbered list cut short, not a score
        "The answer is wrong.\n9",  # a lone number outside 1-5 with no scale: never clamped
        "Judgement: 3\n\nThe image shows 2 dogs.",
    ],
)
def test_numbers_that_are_not_a_lone_answer_stay_as_they_were(text: str) -> None:
    reading = one_to_five().read(text)
    if text.startswith("Judgement: 3"):
        assert verdict_of(one_to_five(), text) == 3
    else:
        assert not reading.readable, reading.reason
        assert reading.reason


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("A", "A"),
        ("B.", "B"),
        ("[B]", "B"),
        ("C", "tie"),  # MLLM-as-a-Judge's tie, as [[C]] is
        ("B</s>", "B"),
        ("Assistant B.", "B"),
        ("Response 2", "B"),
        ("Assistant A provides more detail, while assistant B is wrong about the dining table. A", "A"),
        ("Both answers name the umbrellas; the second also notes the wet pavement.\nB", "B"),
    ],
)
def test_an_answer_that_is_only_the_preference_is_that_preference(text: str, expected: str) -> None:
    assert verdict_of(pair_with_tie(), text) == expected, pair_with_tie().read(text).reason


@pytest.mark.parametrize(
    "text",
    ["Option A is shown in the image.", "A cat sits on the mat.", "Both are fine, I think. D"],
)
def test_a_letter_inside_prose_is_no_preference(text: str) -> None:
    assert not pair_with_tie().read(text).readable


def test_the_reason_quotes_a_bracketed_verdict_whole() -> None:
    """MT-Bench's "[[3]]" was quoted as '[[3' in the reason parse_verdict and the profile page show."""
    reading = get_profile("pointwise").read("Rating: [[85]]")
    assert reading.verdict is not None
    assert reading.verdict.score == 85
    assert "'[[85]]'" in reading.reason
