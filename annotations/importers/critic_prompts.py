"""Critic prompts read back into their parts: the question, the response(s), the reference, and the profile whose
verdict shape the prompt asks for.

The shapes recognised are the public ones critic data is written in (see shared/reference/llava-critic.md, 2 and 2b):
- LLaVA-Critic's model-card prompts and the VLFeedback five-factor prompts: bracketed, labelled parts
  (`Question: [..]`, then `The LMM response:` / `Response:` / `Answer:` for one response, or `The first response:` /
  `Response 1:` / `Answer 1:` / `Response A:` and their second for two);
- lmms-eval's detailed-caption judge (`Text Caption: ...` then "how much do you rate for this Text Caption", verdict
  `Final Score: N`);
- WildVision's judge (`<|User Prompt|>` and the `<|The Start of Assistant A's Answer|>` blocks);
- LLaVA-Bench / LLaVA-in-the-Wild (`[Context]`, `[Question]`, `[Assistant 1]` ... `[End of Assistant 2]`).
Anything else is not split: `looks_like_critic_prompt` tells a critic prompt that could not be read from a plain
question, so that a caller refuses it rather than taking the whole prompt for a question."""

from __future__ import annotations

import re
from dataclasses import dataclass

# The question of a caption-judging prompt, which has none of its own: the task the caption answers.
CAPTION_QUESTION = "Describe the image in detail."


@dataclass(frozen=True)
class CriticPrompt:
    """A critic prompt's parts. `profile` is the built-in profile whose verdict shape the prompt asks for, or ""
    when the shape leaves it open (then the id's prompt family or the kind decides)."""

    shape: str
    question: str
    response_a: str
    response_b: str = ""
    reference: str = ""
    note: str = ""  # what the original judge was also given (LLaVA-Bench's image captions)
    profile: str = ""

    @property
    def pairwise(self) -> bool:
        return bool(self.response_b)


_WILDVISION = re.compile(
    r"<\|User Prompt\|>\s*(?P<question>.*?)\s*<\|The Start of Assistant A's Answer\|>\s*(?P<a>.*?)\s*"
    r"<\|The End of Assistant A's Answer\|>\s*<\|The Start of Assistant B's Answer\|>\s*(?P<b>.*?)\s*"
    r"<\|The End of Assistant B's Answer\|>",
    re.S,
)
_LLAVA_BENCH = re.compile(
    r"(?:\[Context\]\s*(?P<note>.*?)\s*)?\[Question\]\s*(?P<question>.*?)\s*"
    r"\[(?P<role>\w+) 1\]\s*(?P<reference>.*?)\s*\[End of (?P=role) 1\]\s*"
    r"\[(?P=role) 2\]\s*(?P<a>.*?)\s*\[End of (?P=role) 2\]",
    re.S,
)
_QUESTION_LABELS = r"Question|Instruction|User question|User prompt|Query"
_CAPTION = re.compile(
    r"Text Caption:\s*(?P<a>.*?)\s*\n\s*From 0 to 100, how much do you rate for this Text Caption", re.S | re.I
)
_CAPTION_QUESTION = re.compile(rf"(?:^|\n)[ \t]*(?:{_QUESTION_LABELS})[ \t]*:[ \t]*(?P<question>.*?)\s*$", re.S | re.I)
_FINAL_SCORE = re.compile(r"final\s+score", re.I)

_QUESTION = _QUESTION_LABELS
_SECOND = r"The second response|Response 2|Response B|Answer 2|Answer B"
_FIRST = (
    r"The first response|Response 1|Response A|Answer 1|Answer A|The LMM response|The response|Response|Answer|"
    r"Description|Caption"
)
_REFERENCE = r"Reference answer|Reference|Ground truth answer|Ground truth"
_LABEL = re.compile(rf"(?:^|\n)[ \t]*(?P<label>{_QUESTION}|{_SECOND}|{_FIRST}|{_REFERENCE})[ \t]*:[ \t]*", re.I)
_KEYS = [("question", _QUESTION), ("b", _SECOND), ("a", _FIRST), ("reference", _REFERENCE)]
_END = re.compile(r"\n\s*ASSISTANT:\s*$", re.S)
_JUDGING = re.compile(
    r"\b(?:judge|evaluat\w*|rate|rating|score|assess\w*|review the corresponding|"
    r"which (?:response|answer) is better)\b",
    re.I,
)

# Phrases only critic prompts use (not "final score" or "evaluate the quality of" alone: plain questions ask those):
# a row holding one is never taken for a plain question. Beyond the public shapes' own phrases: a judge's role
# ("an unbiased judge", "evaluation assistant"), judging responses (plural, or an assistant's), a verdict format in
# the instructions ("The better response: [1]", "[[A]]", "[[rating]]").
_RESPONSES = r"(?:responses|answers|outputs|replies)"
_JUDGING_VERB = (
    r"(?:compare|comparing|evaluate|evaluating|assess|assessing|judge|judging|review|reviewing|rate|rating|score|"
    r"scoring|grade|grading)"
)
_PUBLIC_MARKERS = (
    r"unbiased and fair judge|impartial judge|please review the corresponding responses?\b|Score the response out of|"
    r"rate number at last after|how much do you rate for this|Text Caption:|\[\[A>B\]\]|<\|User Prompt\|>|"
    r"\[End of Assistant 1\]|^\s*The first response:|^\s*The LMM response:|^\s*(?:Response|Answer) [12AB]\s*:\s*\["
)
# The public shapes' own phrases: where a prompt has them, unbracketed labelled parts are split (they end the prompt).
_PUBLIC_SHAPE = re.compile(_PUBLIC_MARKERS, re.I | re.M)
_CRITIC_MARKERS = re.compile(
    _PUBLIC_MARKERS + r"|"
    r"\b(?:unbiased|impartial|fair|objective|strict|expert)\s+(?:and\s+\w+\s+)?(?:judge|evaluator|grader)\b|"
    r"\b(?:evaluation|grading|judging)\s+assistant\b|\b(?:serve|act)\s+as\s+an?\s+(?:\w+\s+){0,3}judge\b|"
    rf"\b{_JUDGING_VERB}\s+(?:the\s+)?(?:quality\s+of\s+)?(?:the\s+|these\s+|both\s+)?"
    rf"(?:(?:two|following|given|candidate|model|AI|assistants?'?s?)\s+)*{_RESPONSES}\b|"
    r"\b(?:response|answer)s?\s+to\s+evaluate\b|\bwhich\s+(?:response|answer|assistant|one)\s+is\s+better\b|"
    r"\bThe better response:\s*\[|\[\[(?:[ABC]|rating|score)\]\]",
    re.I | re.M,
)
# Two responses labelled one per line ("Response 1:" ... "Response 2:", "[Assistant A]" ... "[Assistant B]"): the
# parts of a pairwise critic prompt. "Answer A:" / "Answer B:" are left out: exam sheets label their options so.
_FIRST_LABEL = re.compile(
    r"^\s*(?:(?:Response|Answer|Output)\s*1|(?:Response|Assistant)\s*A)\s*:|^\s*\[(?:Response|Answer|Assistant)\s*[1A]\]",
    re.I | re.M,
)
_SECOND_LABEL = re.compile(
    r"^\s*(?:(?:Response|Answer|Output)\s*2|(?:Response|Assistant)\s*B)\s*:|^\s*\[(?:Response|Answer|Assistant)\s*[2B]\]",
    re.I | re.M,
)


def _unbracket(text: str) -> str:
    text = text.strip()
    return text[1:-1].strip() if text.startswith("[") and text.endswith("]") else text


def _key(label: str) -> str:
    return next(key for key, pattern in _KEYS if re.fullmatch(pattern, label, re.I))


_BRACKET = re.compile(r"[\[\]]")


def _closing_bracket(text: str, start: int) -> int | None:
    """Just past the "]" that closes the "[" opening the bracketed value at `start` ("[See [1] here]": the last one,
    not the one closing "[1"); None when it never closes. One pass over the brackets."""
    depth = 0
    for m in _BRACKET.finditer(text, start):
        depth += 1 if m.group() == "[" else -1
        if depth == 0:
            return m.end()
    return None


def _value_end(text: str, start: int, stop: int) -> int:
    """Where a value running from `start` to `stop` ends, its trailing spaces left out."""
    while stop > start and text[stop - 1].isspace():
        stop -= 1
    return stop


def _bracketed_end(text: str, start: int, marks: list[re.Match[str]], i: int) -> int:
    """The index of the label that ends the bracketed value starting at `start` (len(marks) for the end of the
    text): the first label after the bracket that closes the value's own one, so that a label on a line inside the
    value ("[See [1]\nResponse 2: ...]") is no boundary; where the value's brackets do not balance, the first label
    after any "]". Linear in the text: the closing bracket is found once, each label's place looked at once."""
    close = _closing_bracket(text, start)
    ends = []
    for j in range(i + 1, len(marks)):
        end = _value_end(text, start, marks[j].start())
        if end == close:
            return j
        if end > start and text[end - 1] == "]":
            ends.append(j)
    if _value_end(text, start, len(text)) == close or not ends:
        return len(marks)
    return ends[0]


def _labelled(text: str) -> tuple[dict[str, str], bool] | None:
    """`Label: [value]` parts, and whether every value was bracketed. A label inside a bracketed value (a response
    quoting "Answer:") is not a boundary: a bracketed value ends only where its closing bracket is followed by the
    next label."""
    text = _END.sub("", text)
    marks = list(_LABEL.finditer(text))
    found: dict[str, str] = {}
    all_bracketed = True
    i = 0
    while i < len(marks):
        start = marks[i].end()
        bracketed = text[start:].lstrip().startswith("[")
        all_bracketed = all_bracketed and bracketed
        j = _bracketed_end(text, start, marks, i) if bracketed else i + 1
        value = text[start : marks[j].start() if j < len(marks) else len(text)].strip()
        if bracketed:
            value = value[1 : value.rfind("]")] if value.rfind("]") > 0 else value[1:]
        key = _key(marks[i]["label"])
        if key in found:
            return None  # the same part twice: which one is meant cannot be told
        found[key] = value.strip()
        i = j
    if not found.get("question") or not found.get("a") or ("b" in found and not found["b"]):
        return None
    return found, all_bracketed


def parse_critic_prompt(text: str) -> CriticPrompt | None:
    """The parts of a critic prompt (a critic row's human turn, image tokens included or not); None when the text
    is in none of the recognised shapes."""
    text = text.replace("<image>", "").strip()
    if match := _WILDVISION.search(text):
        return CriticPrompt("wildvision", match["question"], match["a"], match["b"], profile="wildvision")
    if match := _LLAVA_BENCH.search(text):
        return CriticPrompt(
            "llava-bench",
            match["question"],
            match["a"],
            reference=match["reference"],
            note=(match["note"] or "").strip(),
            profile="llava-bench",
        )
    if match := _CAPTION.search(text):
        asked = _CAPTION_QUESTION.search(text[: match.start()])
        question = _unbracket(asked["question"]) if asked else CAPTION_QUESTION
        return CriticPrompt("caption", question or CAPTION_QUESTION, _unbracket(match["a"]), profile="caption")
    if not _JUDGING.search(text):
        return None
    labelled = _labelled(text)
    if labelled is None:
        return None
    parts, bracketed = labelled
    if not bracketed and not _PUBLIC_SHAPE.search(text):
        # "Question: ... Answer: ..." in a plain instruction is not a critic prompt, and in a judge prompt of another
        # shape the last part's end cannot be told from instructions after it: such a prompt is not split.
        return None
    pairwise = "b" in parts
    profile = "pairwise" if pairwise else "caption" if _FINAL_SCORE.search(text) else ""
    return CriticPrompt(
        "labelled",
        parts["question"],
        parts["a"],
        parts.get("b", ""),
        reference=parts.get("reference", ""),
        profile=profile,
    )


def looks_like_critic_prompt(text: str) -> bool:
    """Whether the text holds a phrase only critic prompts use, or two responses labelled one per line (so it must
    not become a plain question)."""
    if _CRITIC_MARKERS.search(text):
        return True
    first = _FIRST_LABEL.search(text)
    return first is not None and _SECOND_LABEL.search(text, first.end()) is not None


def profile_for_family(family: str, *, pairwise: bool) -> str:
    """Our profile for a llava-critic-113k prompt family (a pointwise id's `__` suffix)."""
    family = family.lower()
    if "wildvision" in family:
        return "wildvision" if pairwise else "pointwise"
    if pairwise:
        return "pairwise"
    if "llava-bench" in family or "llava_bench" in family or "llavabench" in family or "wild" in family:
        return "llava-bench"
    if "caption" in family or "detail" in family:
        return "caption"
    return "pointwise"


def profile_for(prompt: CriticPrompt, *, family: str = "") -> str:
    """The profile a recognised prompt's item takes: the one its shape asks for; else the id's family, when that
    family's profile fits the parts (LLaVA-Bench needs a reference); else the plain pointwise or pairwise one."""
    if prompt.profile:
        return prompt.profile
    if family:
        by_family = profile_for_family(family, pairwise=prompt.pairwise)
        if by_family != "llava-bench" or prompt.reference:
            return by_family
    return "pairwise" if prompt.pairwise else "pointwise"
