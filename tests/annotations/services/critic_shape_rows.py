"""Critic rows in the public shapes (shared/reference/llava-critic.md 2 and 2b) as real data writes them: the
model-card and five-factor prompts, the caption, WildVision and LLaVA-Bench judges, with the variations of real rows.
Each row: (conversations, number of images, expected (question, a, b, reference) or None when it must be refused,
profile, the judge's verdict). The other rows and the test are in test_imports_critic_shapes.py."""

from __future__ import annotations

from typing import Any

Row = tuple[list[dict[str, str]], int, tuple[str, str, str, str] | None, str, Any]
CARD_PAIR = (
    "Given an image and a corresponding question, please serve as an unbiased and fair judge to evaluate the quality "
    "of the answers provided by a Large Multimodal Model (LMM). Determine which answer is better and explain your "
    "reasoning with specific details. Your task is provided as follows:\nQuestion: [{q}]\nThe first response: [{a}]\n"
    "The second response: [{b}]\nASSISTANT:\n"
)
CARD_POINT = (
    "Given an image and a corresponding question, please serve as an unbiased and fair judge to evaluate the quality "
    "of answer answers provided by a Large Multimodal Model (LMM). Score the response out of 100 and explain your "
    "reasoning with specific details. Your task is provided as follows:\nQuestion: [{q}]\nThe LMM response: [{a}]\n"
    "ASSISTANT:\n "
)
FACTORS = (
    "You are provided with an image and a question for this image. Please review the corresponding response{s} based "
    "on the following 5 factors: 1. Accuracy in Object Description: ... 2. Accuracy in Depicting Relationships: ... "
    "3. Accuracy in Describing Attributes: ... 4. Helpfulness: ... 5. Ethical Considerations: ...\n"
)
FIVE_POINT = (
    FACTORS.format(s="")
    + "For each factor, provide specific examples from the response to support your evaluation. After your "
    'evaluation, please include the rate number at last after "Final Score:".\nYour task is provided as follows:\n'
    "Question: [{q}]\nResponse: [{a}]\n"
)
FIVE_PAIR = (
    FACTORS.format(s="s") + "You need to choose which response is better for the given question and provide a "
    'clear conclusion such as "Response 1 is better." or "Response 2 is better.".\nYour task is provided as '
    "follows:\nQuestion: [{q}]\nResponse 1: [{a}]\nResponse 2: [{b}]\n"
)
CAPTION = (
    "Text Caption: {a}\nFrom 0 to 100, how much do you rate for this Text Caption in terms of the correct and "
    "comprehensive description of the image?\nProvide a few lines for explanation and the rate number at last after "
    '"Final Score:".'
)
WV_SYSTEM = (
    "Please act as an impartial judge and evaluate the quality of the responses provided by two AI assistants to the "
    "user prompt displayed below. You will be given assistant A's answer and assistant B's answer.\n\nAfter providing "
    "your explanation, you must output only one of the following choices as your final verdict with a label:\n\n"
    "1. Assistant A is significantly better: [[A>>B]]\n2. Assistant A is slightly better: [[A>B]]\n3. Tie, relatively "
    "the same: [[A=B]]\n4. Assistant B is slightly better: [[B>A]]\n5. Assistant B is significantly better: [[B>>A]]"
    '\n\nExample output: "My final verdict is tie: [[A=B]]".'
)
WV_USER = (
    "<|User Prompt|>\n{q}\n\n<|The Start of Assistant A's Answer|>\n{a}\n<|The End of Assistant A's Answer|>\n\n"
    "<|The Start of Assistant B's Answer|>\n{b}\n<|The End of Assistant B's Answer|>"
)
BENCH = (
    "[Context]\n{note}\n\n[Question]\n{q}\n\n[Assistant 1]\n{ref}\n\n[End of Assistant 1]\n\n[Assistant 2]\n{a}\n\n"
    "[End of Assistant 2]\n\n[System]\nWe would like to request your feedback on the performance of two AI assistants "
    "in response to the user question displayed above. The user asks the question on observing an image. For your "
    "reference, the visual content in the image is represented with a few sentences describing the image.\nPlease "
    "rate the helpfulness, relevance, accuracy, level of details of their responses. Each assistant receives an "
    "overall score on a scale of 1 to 10, where a higher score indicates better overall performance.\nPlease first "
    "output a single line containing only two values indicating the scores for Assistant 1 and 2, respectively. The "
    "two scores are separated by a space.\n\n"
)


def turns(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"from": role, "value": text} for role, text in pairs]


def hg(human: str, gpt: str, *, user: str = "human", bot: str = "gpt") -> list[dict[str, str]]:
    return turns((user, human), (bot, gpt))


# Model-card and five-factor prompts: whitespace, image tokens, brackets in parts, roles, verdict shapes.
LABELLED_ROWS: dict[str, Row] = {
    "card pair, image token after": (
        hg(CARD_PAIR.format(q="How many dogs?", a="Two.", b="Three.") + "<image>", "Response 1 is better. Two dogs."),
        1,
        ("How many dogs?", "Two.", "Three.", ""),
        "pairwise",
        "A",
    ),
    "card point, CRLF": (
        hg("<image>\r\n" + CARD_POINT.format(q="What fruit?", a="An apple.").replace("\n", "\r\n"), "Score: 80\nOk."),
        1,
        ("What fruit?", "An apple.", "", ""),
        "pointwise",
        80.0,
    ),
    "card pair, two images": (
        hg(
            "<image>\n<image>\n" + CARD_PAIR.format(q="Which is bigger?", a="The left.", b="The right."),
            "The second response is better.",
        ),
        2,
        ("Which is bigger?", "The left.", "The right.", ""),
        "pairwise",
        "B",
    ),
    "card pair, citation brackets": (
        hg(
            "<image>\n" + CARD_PAIR.format(q="What does [1] show?", a="A map [1].", b="A chart [2] and [3]."),
            "The first response is better because [1] is a map.",
        ),
        1,
        ("What does [1] show?", "A map [1].", "A chart [2] and [3].", ""),
        "pairwise",
        "A",
    ),
    "card pair, [Assistant 1] in a response": (
        hg(
            "<image>\n" + CARD_PAIR.format(q="Who speaks?", a="[Assistant 1] says hi.", b="Nobody."),
            "Response 2 is better than Response 1 because no one speaks.",
        ),
        1,
        ("Who speaks?", "[Assistant 1] says hi.", "Nobody.", ""),
        "pairwise",
        "B",
    ),
    "card pair, tie": (
        hg("<image>\n" + CARD_PAIR.format(q="Colour?", a="Red.", b="Crimson."), "Both responses are equally good."),
        1,
        ("Colour?", "Red.", "Crimson.", ""),
        "pairwise",
        "tie",
    ),
    "card pair, better response [first]": (
        hg("<image>\n" + CARD_PAIR.format(q="Colour?", a="Red.", b="Blue."), "The better response: [first]\nRed."),
        1,
        ("Colour?", "Red.", "Blue.", ""),
        "pairwise",
        "A",
    ),
    "card point, Final Score": (
        hg("<image>\n" + CARD_POINT.format(q="Count?", a="Four birds."), "It counts right.\nFinal Score: 85"),
        1,
        ("Count?", "Four birds.", "", ""),
        "pointwise",
        85.0,
    ),
    "card pair, user/assistant roles": (
        hg(
            "<image>\n" + CARD_PAIR.format(q="Q?", a="Yes.", b="No."),
            "Response 2 is better.",
            user="user",
            bot="assistant",
        ),
        1,
        ("Q?", "Yes.", "No.", ""),
        "pairwise",
        "B",
    ),
    "card point, empty response": (
        hg("<image>\n" + CARD_POINT.format(q="Count?", a=""), "Score: 0"),
        1,
        None,
        "",
        None,
    ),
    "card pair, empty second": (
        hg("<image>\n" + CARD_PAIR.format(q="Count?", a="Two.", b=""), "Response 1 is better."),
        1,
        None,
        "",
        None,
    ),
    "five pair, Response 2: inside response 1": (
        hg(
            "<image>\n" + FIVE_PAIR.format(q="Summarise.", a="Quote:\nResponse 2: wrong\nend", b="A park."),
            "Response 2 is better.",
        ),
        1,
        ("Summarise.", "Quote:\nResponse 2: wrong\nend", "A park.", ""),
        "pairwise",
        "B",
    ),
    "five point, Final Score inside response": (
        hg(
            "<image>\n" + FIVE_POINT.format(q="What is the board?", a="A scoreboard.\nFinal Score: 3-1"),
            "1. Accuracy in Object Description: 9/10\n2. Relationships: 8/10\n3. Attributes: 7/10\n4. Helpfulness: "
            "8/10\n5. Ethics: 10/10\nFinal Score: 78",
        ),
        1,
        ("What is the board?", "A scoreboard.\nFinal Score: 3-1", "", ""),
        "caption",
        78.0,
    ),
    "five point, per-factor scores": (
        hg(
            "<image>\n" + FIVE_POINT.format(q="Describe.", a="A cat on a mat."),
            "Accuracy in Object Description: 90\nHelpfulness: 60\nOverall the response is fine.\nFinal Score: 72",
        ),
        1,
        ("Describe.", "A cat on a mat.", "", ""),
        "caption",
        72.0,
    ),
    "five pair, verdict last": (
        hg(
            FIVE_PAIR.format(q="What sport?", a="Tennis.", b="Golf.") + "\n<image>",
            "Response 1 names the racket.\nResponse 2 misses it.\nTherefore, Response 1 is better.",
        ),
        1,
        ("What sport?", "Tennis.", "Golf.", ""),
        "pairwise",
        "A",
    ),
    "five pair, system turn": (
        turns(
            ("system", "You are a helpful assistant."),
            ("human", "<image>\n" + FIVE_PAIR.format(q="Sky?", a="Blue.", b="Green.")),
            ("gpt", "Response 1 is better."),
        ),
        1,
        ("Sky?", "Blue.", "Green.", ""),
        "pairwise",
        "A",
    ),
}
