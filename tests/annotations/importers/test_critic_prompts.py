"""Critic prompts read back: any text is read without raising, and a prompt filled with any parts (responses with
newlines, colons and the labels themselves at the start of a line) gives those parts back."""

from __future__ import annotations

import pytest
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


# Judge prompts in shapes the importer cannot split, as teams and papers write them: each must be known for a critic
# prompt, so that a LLaVA JSON row holding one is refused (or kept whole) rather than taken for a plain question.
UNFAMILIAR_JUDGE_PROMPTS = [
    # A pairwise critic prompt with unbracketed "Response 1:" blocks under a task header.
    "You are a visual language model evaluation assistant. Please compare the two responses to the same question "
    "based on the following four aspects, determine which one is better, and explain why:\n\n1. Accuracy\n2. "
    "Usefulness\n\nOutput in the following format:\nThe better response: [1]. Because...\n\n[Task Content]\n"
    "Image and Question:\nHow many cups?\n\nResponse 1:\nTwo.\n\nResponse 2:\nThree.\n",
    # MT-Bench's single-answer grading prompt.
    "[Instruction]\nPlease act as an impartial judge and evaluate the quality of the response provided by an AI "
    "assistant to the user question displayed below. After providing your explanation, you must rate the response on "
    'a scale of 1 to 10 by strictly following this format: "[[rating]]", for example: "Rating: [[5]]".\n\n'
    "[Question]\nWhat is shown?\n\n[The Start of Assistant's Answer]\nA cat.\n[The End of Assistant's Answer]",
    # MLLM-as-a-Judge's pair prompt.
    "Please serve as an unbiased judge in assessing the quality of the responses from AI assistants regarding the "
    "user's instruction and a figure. Indicate your decision in the key 'Judgement', use \"[[A]]\" if assistant A "
    'prevails, "[[B]]" if assistant B does, and "[[C]]" for a tie.\n[Assistant A]\nA cat.\n[Assistant B]\nA dog.',
    # A reward-benchmark prompt: answers to evaluate, labelled one per line.
    "You are a highly capable multimodal AI assistant tasked with evaluating answers to visual questions.\n"
    "Question: What colour is the bus?\nAnswer 1: Red.\nAnswer 2: Yellow.\nWhich answer is better?",
    # Rows in shapes of their own: two labelled responses, a verdict asked for.
    "Here is a question about the image and two responses.\nQ: What breed?\nResponse A: A corgi.\nResponse B: A "
    "beagle.\nReply with the letter of the better one.",
    "###Task Description:\nAn instruction, a response to evaluate, a reference answer that gets a score of 5, and a "
    "score rubric are given.\n###The instruction to evaluate:\nDescribe the image.\n###Response to evaluate:\nA dog.",
]
PLAIN = [
    "Question: what is shown?\nAnswer: a short phrase please.",
    "What is the final score on the scoreboard?",
    "Evaluate the quality of this photo and rate its sharpness.",
    "Question: What score did the team get?\nAnswer: Give the number.",
    "Compare the two cars in the image: which one is faster?",
    "Which answer on the exam sheet is correct?\nAnswer A: 12\nAnswer B: 14",
    "Rate this picture from 1 to 10 for composition.",
    "What does the judge in the photo hold?",
]


@pytest.mark.parametrize("prompt", UNFAMILIAR_JUDGE_PROMPTS)
def test_judge_prompts_in_unfamiliar_shapes_are_known_for_critic_prompts(prompt: str) -> None:
    assert looks_like_critic_prompt(prompt)
    # Not split either: where the last response ends cannot be told from the instructions after it.
    assert parse_critic_prompt(prompt) is None


@pytest.mark.parametrize("question", PLAIN)
def test_plain_questions_are_not_taken_for_critic_prompts(question: str) -> None:
    assert not looks_like_critic_prompt(question)
    assert parse_critic_prompt(question) is None
