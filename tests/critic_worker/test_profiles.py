"""Profiles: the published prompts byte for byte, parsers that read real output variations and never raise,
and renderers that the parsers read back exactly."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from critic_worker.profiles import PROFILES, PromptInput, Verdict, chat_prompt, get_profile

ITEM = PromptInput(question="What is shown?", response_a="A cat.", response_b="A dog.", reference="A cat on a mat.")


def test_model_card_prompts_byte_for_byte() -> None:
    pairwise = get_profile("pairwise").prompt(ITEM)
    assert pairwise == (
        "Given an image and a corresponding question, please serve as an unbiased and fair judge to evaluate the "
        "quality of the answers provided by a Large Multimodal Model (LMM). Determine which answer is better and "
        "explain your reasoning with specific details. Your task is provided as follows:\nQuestion: [What is shown?]\n"
        "The first response: [A cat.]\nThe second response: [A dog.]\nASSISTANT:\n"
    )
    pointwise = get_profile("pointwise").prompt(ITEM)
    assert "quality of answer answers provided" in pointwise  # the original's typo, kept
    assert pointwise.endswith("The LMM response: [A cat.]\nASSISTANT:\n ")  # and its trailing space


def test_chat_prompt_has_the_qwen_system_turn_and_the_image_first() -> None:
    text = chat_prompt(get_profile("pairwise"), ITEM)
    assert text.startswith("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n<image>\n")
    assert text.endswith("ASSISTANT:\n<|im_end|>\n<|im_start|>assistant\n")


def test_llava_bench_puts_the_reference_as_assistant_1() -> None:
    text = get_profile("llava-bench").prompt(ITEM)
    assert text.index("A cat on a mat.") < text.index("[Assistant 2]\nA cat.")


@pytest.mark.parametrize(
    ("profile", "text", "expected"),
    [
        ("pairwise", "Response 2 is better than Response 1 because it names the dog.", "B"),
        ("pairwise", "The first response is better. It is accurate.", "A"),
        ("pairwise", "The better response: [second]\nIt is more detailed.", "B"),
        ("pairwise", "Response A is better, since B invents a cat.", "A"),
        ("pairwise", "Both responses are equally good: each names the animal.", "tie"),
        ("pairwise", "The two answers are equally accurate.", "tie"),
        ("pairwise", "I prefer the second answer.", "B"),
        ("wildvision", "A is vague; B is right.\n\nMy final verdict is: [[B>A]]", "B"),
        ("wildvision", "Both fine. [[A=B]]", "tie"),
        ("wildvision", "Assistant A nails it [[A>>B]]", "A"),
        ("pointwise", "Accurate but brief. Score: 72/100", 72),
        ("pointwise", "I would rate this response 64 out of 100.", 64),
        ("pointwise", "The response mentions 3 cats. Overall: 40/100", 40),
        ("caption", "Mostly accurate, one invented object.\nFinal Score: 81", 81),
        ("caption", "Final Score: **66**", 66),
        ("llava-bench", "10 7\nAssistant 2 misses the mat.", 7),
        ("llava-bench", "10 6.5\nClose.", 6.5),
        ("llava-bench", "Assistant 1: 10, Assistant 2: 4. The second is wrong.", 4),
    ],
)
def test_parsers_read_the_variations_the_critic_writes(profile: str, text: str, expected: object) -> None:
    verdict = get_profile(profile).parse(text)
    assert verdict is not None
    assert verdict.label == str(expected)


@pytest.mark.parametrize(
    ("profile", "text"),
    [
        ("pairwise", "Both have merits and flaws."),
        ("pointwise", "Score: 250/100"),  # outside the profile's range
        ("pointwise", "A thoughtful answer."),
        ("llava-bench", "10 14\nout of range"),
        ("caption", ""),
        ("wildvision", "[[C>A]]"),
    ],
)
def test_unreadable_outputs_give_no_verdict(profile: str, text: str) -> None:
    assert get_profile(profile).parse(text) is None


def verdicts_for(name: str) -> st.SearchStrategy[Verdict]:
    profile = PROFILES[name]
    justification = st.text(max_size=300)
    if profile.kind == "pairwise":
        strong = st.booleans() if name == "wildvision" else st.just(False)
        return st.builds(
            lambda p, s, j: Verdict(preference=p, strong=s and p != "tie", justification=j),
            st.sampled_from(["A", "B", "tie"]),
            strong,
            justification,
        )
    lo, hi = int(profile.score_min or 0), int(profile.score_max or 0)
    scores = st.integers(lo * 100, hi * 100).map(lambda n: n / 100)
    return st.builds(lambda s, j: Verdict(score=s, justification=j), scores, justification)


@pytest.mark.parametrize("name", list(PROFILES))
@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_parse_reads_back_what_render_wrote(name: str, data: st.DataObject) -> None:
    profile = PROFILES[name]
    verdict = data.draw(verdicts_for(name))
    assert profile.parse(profile.render(verdict)) == verdict


@pytest.mark.parametrize("name", list(PROFILES))
@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=500))
def test_parsing_any_text_never_raises_and_stays_in_range(name: str, text: str) -> None:
    profile = PROFILES[name]
    verdict = profile.parse(text)
    if verdict is not None and verdict.score is not None:
        assert profile.in_range(verdict.score)


@pytest.mark.parametrize("name", list(PROFILES))
def test_every_verdict_has_its_own_line(name: str) -> None:
    profile = PROFILES[name]
    lines = [profile.verdict_line(v) for v in profile.verdicts()]
    assert len(set(lines)) == len(lines)
    assert all(profile.parse(line) == v for line, v in zip(lines, profile.verdicts(), strict=True))


FRAGMENTS = [
    "Score:", "Final Score:", "**", "###", "- ", "Rating:", "Overall,", "[[", "]]", "A>B", "B>>A", "A=B", "/10", "/5",
    "/100", " out of ", "%", "Response 1", "Response 2", "Assistant B", "the first response", " is better", " is not ",
    " more accurate", "equally good", "if ", "would ", "although ", "no, ", "...", ". ", "; ", ", ", "\n", "\n\n",
    "a perfect score of", " on a scale of 1 to 10", "7", "85", "8.5", "250", "-3", "10 7\n", "tie", "[[C]]",
]  # fmt: skip


@pytest.mark.parametrize("name", list(PROFILES))
@settings(max_examples=300, deadline=None)
@given(parts=st.lists(st.sampled_from(FRAGMENTS), max_size=40))
def test_reading_verdict_shaped_soup_never_raises_and_stays_in_range(name: str, parts: list[str]) -> None:
    """Texts made of verdict fragments reach every branch of the readers: a reading always has a reason, and a
    score it gives is on the profile's range (converted, never clamped or stored out of range)."""
    profile = PROFILES[name]
    reading = profile.read("".join(parts))
    assert reading.reason
    assert reading.readable == (reading.verdict is not None)
    if reading.verdict is not None and reading.verdict.score is not None:
        assert profile.in_range(reading.verdict.score)


def test_a_reading_says_why() -> None:
    reading = get_profile("pointwise").read("Score: 8.5/10")
    assert reading.as_json() == {"readable": True, "score": 85.0, "preference": None, "reason": reading.reason}
    assert "8.5/10" in reading.reason
    refused = get_profile("pointwise").read("Score: 250")
    assert refused.as_json()["readable"] is False
    assert "outside the profile's range 0-100" in refused.reason
