"""Critic prompts read back: any text is read without raising, and a prompt filled with any parts (responses with
newlines, colons and the labels themselves at the start of a line) gives those parts back."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from annotations.importers.critic_prompts import looks_like_critic_prompt, parse_critic_prompt
from critic_worker.profiles import PromptInput, get_profile, user_turn

PIECES = ["cat", "two", "Answer:", "Question:", "Response 2:", "The second response:", "score", "\n", " ", ":", "7"]
part = st.lists(st.sampled_from(PIECES), min_size=1, max_size=12).map(lambda p: "".join(p).strip()).filter(bool)


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=400))
def test_any_text_is_read_without_raising(text: str) -> None:
    parse_critic_prompt(text)
    looks_like_critic_prompt(text)


@settings(max_examples=200, deadline=None)
@given(question=part, a=part, b=part, reference=part)
def test_every_profiles_prompt_gives_its_parts_back(question: str, a: str, b: str, reference: str) -> None:
    for name in ("pointwise", "pairwise", "wildvision", "llava-bench"):
        profile = get_profile(name)
        second = b if not profile.is_pointwise else ""
        prompt = user_turn(profile, PromptInput(question, a, second, reference if profile.needs_reference else ""))
        parsed = parse_critic_prompt(prompt)
        assert parsed is not None, (name, prompt)
        got = (parsed.question, parsed.response_a, parsed.response_b)
        assert got == (question, a, second), name
        if profile.needs_reference:
            assert parsed.reference == reference
