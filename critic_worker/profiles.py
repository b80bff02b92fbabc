"""Prompt profiles: one per LLaVA-Critic prompt family. Django-free and torch-free.

A profile is a prompt template, the verdict's shape (a score on a closed range, or a preference among
A / B / tie), a parser that reads a verdict out of the critic's free text, and a renderer that writes a verdict
back in the same output shape: ``parse(render(v)) == v``. Each profile also lists its *verdict lines*, the
canonical phrase for every possible verdict, which the engine scores directly to read the critic's confidence
and, when the free text cannot be parsed, to force a choice.

The database's check constraints are generated from this registry, so a score outside its profile's range
cannot be stored by any code path.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["pointwise", "pairwise"]
PREFERENCES: tuple[str, ...] = ("A", "B", "tie")
SYSTEM_PROMPT = "You are a helpful assistant."  # LLaVA-NeXT's qwen_1_5 conversation template


@dataclass(frozen=True)
class Verdict:
    """A verdict: a score (pointwise profiles) or a preference A / B / tie (pairwise), with its justification.

    ``strong`` keeps WildVision's five-way strength (A>>B against A>B); other profiles leave it False."""

    score: float | None = None
    preference: str | None = None
    justification: str = ""
    strong: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "justification", self.justification.strip())
        if (self.score is None) == (self.preference is None):
            raise ValueError("a verdict has a score or a preference, not both and not neither")
        if self.preference is not None and self.preference not in PREFERENCES:
            raise ValueError(f"preference must be one of {PREFERENCES}, not {self.preference!r}")
        if self.score is not None:
            if not math.isfinite(self.score):
                raise ValueError("a score must be a finite number")
            object.__setattr__(self, "score", round(float(self.score), 2))

    @property
    def label(self) -> str:
        """The verdict as one word: the score as written, or the preference."""
        return format_score(self.score) if self.score is not None else str(self.preference)


def format_score(score: float) -> str:
    """85.0 -> '85', 7.5 -> '7.5'; scores carry at most two decimals."""
    return str(int(score)) if float(score).is_integer() else f"{score:.2f}".rstrip("0")


@dataclass(frozen=True)
class PromptInput:
    """What a profile's prompt is filled with. `context` holds the conversation's earlier turns as (role, text)
    pairs, role "user" or "assistant" (or "context" for a note the original judge was given, such as LLaVA-Bench's
    image captions); empty for a single-turn item."""

    question: str
    response_a: str
    response_b: str = ""
    reference: str = ""
    context: tuple[tuple[str, str], ...] = ()


# An item imported with its critic prompt whole (the prompt could not be split): its question is that prompt, and
# its responses are this marker; the critic is given the prompt verbatim.
WHOLE_PROMPT_RESPONSE = "(inside the critic prompt above)"
CONTEXT_HEADER = "Earlier turns of this conversation, for context:"
CONTEXT_ROLES = {"user": "User", "assistant": "Assistant", "context": "Context"}


def context_block(context: tuple[tuple[str, str], ...]) -> str:
    """The earlier turns as the text put before a profile's prompt: a header line, then one `Role: text` block per
    turn, then a blank line. Empty when there are none, so that single-turn prompts are unchanged byte for byte."""
    if not context:
        return ""
    turns = "\n".join(f"{CONTEXT_ROLES.get(role, role.title())}: {text}" for role, text in context)
    return f"{CONTEXT_HEADER}\n{turns}\n\n"


NUMBER = r"(-?\d{1,3}(?:\.\d+)?)"


def _last(patterns: list[re.Pattern[str]], text: str) -> re.Match[str] | None:
    """The match that ends last in the text, over several patterns."""
    found = [m for p in patterns for m in p.finditer(text)]
    return max(found, key=lambda m: m.end(), default=None)


def _first(patterns: list[re.Pattern[str]], text: str) -> re.Match[str] | None:
    found = [m for p in patterns for m in p.finditer(text)]
    return min(found, key=lambda m: m.start(), default=None)


@dataclass(frozen=True)
class Profile:
    name: str
    kind: Kind
    title: str
    template: str
    score_min: float | None = None
    score_max: float | None = None
    needs_reference: bool = False
    # Where the canonical verdict line stands in the output: first (then the reasons) or last (after them).
    verdict_first: bool = False
    _parse: Callable[[Profile, str], Verdict | None] = field(default=lambda self, text: None, repr=False)
    _verdict_line: Callable[[Profile, Verdict], str] = field(default=lambda self, v: "", repr=False)

    @property
    def is_pointwise(self) -> bool:
        return self.kind == "pointwise"

    def prompt(self, item: PromptInput) -> str:
        """The user turn's text after the image, exactly as the critic sees it: the conversation's earlier turns
        first when the item has any (`context_block`), then the template filled in, or the whole critic prompt of an
        item imported whole (`WHOLE_PROMPT_RESPONSE`)."""
        if item.response_a == WHOLE_PROMPT_RESPONSE:
            return context_block(item.context) + item.question
        return context_block(item.context) + self.template.format(
            question=item.question, response_a=item.response_a, response_b=item.response_b, reference=item.reference
        )

    def verdicts(self) -> list[Verdict]:
        """Every verdict this profile can give: integer scores over the range, or A / B / tie (and strengths)."""
        if self.kind == "pairwise":
            strengths = (False, True) if self.name == "wildvision" else (False,)
            return [Verdict(preference=p, strong=s) for p in PREFERENCES for s in strengths if not (s and p == "tie")]
        assert self.score_min is not None
        assert self.score_max is not None
        return [Verdict(score=n) for n in range(int(self.score_min), int(self.score_max) + 1)]

    def verdict_line(self, verdict: Verdict) -> str:
        """The canonical phrase that states this verdict (no justification)."""
        return self._verdict_line(self, verdict)

    def render(self, verdict: Verdict) -> str:
        """The verdict written in this profile's output shape."""
        line = self.verdict_line(verdict)
        parts = [line, verdict.justification] if self.verdict_first else [verdict.justification, line]
        return "\n".join(part for part in parts if part)

    def parse(self, text: str) -> Verdict | None:
        """Read the verdict out of the critic's text; None when there is none. Never raises."""
        try:
            canonical = self._canonical(text)
            return canonical if canonical is not None else self._parse(self, text)
        except Exception:
            return None

    def _canonical(self, text: str) -> Verdict | None:
        """Text in the renderer's own shape: the verdict line first or last, the justification around it."""
        stripped = text.strip()
        lines = stripped.split("\n")
        line, rest = (lines[0], lines[1:]) if self.verdict_first else (lines[-1], lines[:-1])
        line = line.strip()
        if self.kind == "pairwise":
            candidates = self.verdicts()
        else:
            numbers = [float(n) for n in re.findall(NUMBER, line)]
            candidates = [Verdict(score=n) for n in numbers if self.in_range(n)]
        for verdict in candidates:
            if self.verdict_line(verdict) == line:
                return Verdict(
                    score=verdict.score,
                    preference=verdict.preference,
                    strong=verdict.strong,
                    justification="\n".join(rest),
                )
        return None

    def in_range(self, score: float) -> bool:
        assert self.score_min is not None
        assert self.score_max is not None
        return self.score_min <= score <= self.score_max


# ---------------------------------------------------------------------------------------------------------------
# Templates. `pointwise` and `pairwise` are the model card's quick-start prompts, byte for byte (typo included).
# The others follow the output families the critic was trained on, in their documented shapes.

POINTWISE_TEMPLATE = (
    "Given an image and a corresponding question, please serve as an unbiased and fair judge to evaluate the "
    "quality of answer answers provided by a Large Multimodal Model (LMM). Score the response out of 100 and "
    "explain your reasoning with specific details. Your task is provided as follows:\n"
    "Question: [{question}]\n"
    "The LMM response: [{response_a}]\n"
    "ASSISTANT:\n "
)
PAIRWISE_TEMPLATE = (
    "Given an image and a corresponding question, please serve as an unbiased and fair judge to evaluate the "
    "quality of the answers provided by a Large Multimodal Model (LMM). Determine which answer is better and "
    "explain your reasoning with specific details. Your task is provided as follows:\n"
    "Question: [{question}]\n"
    "The first response: [{response_a}]\n"
    "The second response: [{response_b}]\n"
    "ASSISTANT:\n"
)
CAPTION_TEMPLATE = (
    "Please act as an impartial judge of a detailed description of the image written by an AI assistant. "
    "Consider how accurate, complete and free of invented details it is. Explain your evaluation, then give the "
    "description a rating from 0 to 100, writing the rate number at last after 'Final Score:'.\n"
    "Instruction: [{question}]\n"
    "Description: [{response_a}]"
)
LLAVA_BENCH_TEMPLATE = (
    "[Question]\n{question}\n\n"
    "[Assistant 1]\n{reference}\n\n[End of Assistant 1]\n\n"
    "[Assistant 2]\n{response_a}\n\n[End of Assistant 2]\n\n"
    "[System]\n"
    "We ask for your feedback on how well two AI assistants answered the question about the image above. Rate "
    "the helpfulness, relevance, accuracy and level of detail of each answer. Each assistant receives an overall "
    "score on a scale of 1 to 10, where a higher score means better overall performance. Assume assistant 1 "
    "always receives a score of 10.\n"
    "First output a single line containing only two values: the scores of Assistant 1 and Assistant 2, "
    "separated by a space. On the following lines, explain your evaluation without letting the order of the "
    "answers affect your judgment."
)
WILDVISION_TEMPLATE = (
    "Please act as an impartial judge and evaluate the quality of the responses provided by two AI assistants to "
    "the user prompt about the image displayed below. Explain your evaluation, then output your final verdict "
    'with exactly one of these labels: "[[A>>B]]" assistant A is significantly better, "[[A>B]]" assistant A is '
    'slightly better, "[[A=B]]" tie, relatively the same, "[[B>A]]" assistant B is slightly better, "[[B>>A]]" '
    "assistant B is significantly better.\n\n"
    "<|User Prompt|>\n{question}\n\n"
    "<|The Start of Assistant A's Answer|>\n{response_a}\n<|The End of Assistant A's Answer|>\n\n"
    "<|The Start of Assistant B's Answer|>\n{response_b}\n<|The End of Assistant B's Answer|>"
)

# ---------------------------------------------------------------------------------------------------------------
# Parsers of free text (after the canonical shape was tried) and the canonical verdict lines.

_SCORE_PATTERNS = [
    re.compile(r"final\s+score\s*[:\uff1a]?\s*\**\s*" + NUMBER, re.I),
    re.compile(r"\bscore\s*(?:is|of|:|=)?\s*\**\s*" + NUMBER + r"(?:\s*/\s*100|\s+out\s+of\s+100)?", re.I),
    re.compile(NUMBER + r"\s*(?:/\s*100|out\s+of\s+100|points)\b", re.I),
    re.compile(r"\brat(?:e|ed|ing)\s+(?:it|this(?:\s+response)?|the\s+response)?\s*(?:a|as|at|:)?\s*" + NUMBER, re.I),
]


def _parse_score(profile: Profile, text: str) -> Verdict | None:
    match = _last(_SCORE_PATTERNS, text)
    if match is None:
        return None
    score = float(match.group(1))
    return Verdict(score=score, justification=text) if profile.in_range(score) else None


def _score_line(prefix: str, suffix: str = "") -> Callable[[Profile, Verdict], str]:
    return lambda profile, v: f"{prefix}{format_score(v.score or 0)}{suffix}"


_FINAL_SCORE = re.compile(r"final\s+score\s*[:\uff1a]\s*\**\s*" + NUMBER, re.I)


def _parse_final_score(profile: Profile, text: str) -> Verdict | None:
    match = _last([_FINAL_SCORE], text) or _last(_SCORE_PATTERNS, text)
    if match is None:
        return None
    score = float(match.group(1))
    return Verdict(score=score, justification=text) if profile.in_range(score) else None


_TWO_SCORES = re.compile(r"^\s*\**\s*" + NUMBER + r"\s*(?:,|\s)\s*" + NUMBER + r"\s*\**\s*$", re.M)
_ASSISTANT_2 = re.compile(r"assistant\s*2\D{0,20}?" + NUMBER, re.I)


def _parse_llava_bench(profile: Profile, text: str) -> Verdict | None:
    match = _first([_TWO_SCORES], text)
    score = float(match.group(2)) if match else None
    if score is None and (named := _first([_ASSISTANT_2], text)):
        score = float(named.group(1))
    if score is None or not profile.in_range(score):
        return None
    return Verdict(score=score, justification=text)


_ORDINAL = {"first": "A", "1": "A", "a": "A", "one": "A", "second": "B", "2": "B", "b": "B", "two": "B"}
_PAIR_PATTERNS = [
    re.compile(
        r"\b(?:the\s+)?(first|second)\s+(?:response|answer)\s+(?:is|was)\s+(?:clearly\s+|slightly\s+)?"
        r"(?:better|superior|preferred|more\s+accurate)",
        re.I,
    ),
    re.compile(
        r"\b(?:response|answer|assistant)\s*\[?(1|2|a|b|one|two)\]?\s+(?:is|was)\s+(?:clearly\s+|slightly\s+)?"
        r"(?:better|superior|preferred|more\s+accurate)",
        re.I,
    ),
    re.compile(r"\bbetter\s+(?:response|answer)\s*(?:is)?\s*[:\-]?\s*\[?\s*(?:the\s+)?(first|second|1|2|a|b)\b", re.I),
    re.compile(r"\b(?:i\s+)?prefer\s+(?:the\s+)?(first|second)\s+(?:response|answer)", re.I),
    re.compile(r"\b(?:response|answer)\s*(1|2|a|b)\s+(?:outperforms|wins)", re.I),
]
_TIE_PATTERNS = [
    re.compile(
        r"\b(?:equally\s+(?:good|bad|helpful|accurate|well|poor|valid)|"
        r"both\s+(?:responses|answers)\s+are\s+(?:equally|similarly|comparably)|it\s*'?s\s+a\s+tie|"
        r"\bis\s+a\s+tie\b|\[\[A=B\]\])",
        re.I,
    ),
]
_WILDVISION = re.compile(r"\[\[\s*(A>>B|A>B|A=B|B>A|B>>A)\s*\]\]")
_WILDVISION_VERDICTS = {
    "A>>B": ("A", True),
    "A>B": ("A", False),
    "A=B": ("tie", False),
    "B>A": ("B", False),
    "B>>A": ("B", True),
}


def _parse_pairwise(profile: Profile, text: str) -> Verdict | None:
    # The verdict comes first in this family's outputs ("Response 2 is better than Response 1 because ...").
    label = _first([*_PAIR_PATTERNS, *_TIE_PATTERNS, _WILDVISION], text)
    if label is None:
        return None
    if label.re in _TIE_PATTERNS:
        return Verdict(preference="tie", justification=text)
    if label.re is _WILDVISION:
        preference, _ = _WILDVISION_VERDICTS[label.group(1)]
        return Verdict(preference=preference, justification=text)
    return Verdict(preference=_ORDINAL[label.group(1).lower()], justification=text)


def _pairwise_line(profile: Profile, v: Verdict) -> str:
    return {
        "A": "The first response is better.",
        "B": "The second response is better.",
        "tie": "Both responses are equally good.",
    }[v.preference or ""]


def _parse_wildvision(profile: Profile, text: str) -> Verdict | None:
    match = _last([_WILDVISION], text)
    if match is None:
        return None
    preference, strong = _WILDVISION_VERDICTS[match.group(1)]
    return Verdict(preference=preference, strong=strong, justification=text)


def _wildvision_line(profile: Profile, v: Verdict) -> str:
    code = {("A", True): "A>>B", ("A", False): "A>B", ("tie", False): "A=B", ("B", False): "B>A", ("B", True): "B>>A"}[
        (v.preference or "", v.strong and v.preference != "tie")
    ]
    return f"My final verdict is: [[{code}]]"


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile(
            "pointwise",
            "pointwise",
            "Score out of 100 (model card)",
            POINTWISE_TEMPLATE,
            0,
            100,
            _parse=_parse_score,
            _verdict_line=_score_line("Score: ", "/100"),
        ),
        Profile(
            "caption",
            "pointwise",
            "Detailed caption, Final Score 0-100",
            CAPTION_TEMPLATE,
            0,
            100,
            _parse=_parse_final_score,
            _verdict_line=_score_line("Final Score: "),
        ),
        Profile(
            "llava-bench",
            "pointwise",
            "LLaVA-Bench, 1-10 against a reference",
            LLAVA_BENCH_TEMPLATE,
            1,
            10,
            needs_reference=True,
            verdict_first=True,
            _parse=_parse_llava_bench,
            _verdict_line=_score_line("10 "),
        ),
        Profile(
            "pairwise",
            "pairwise",
            "First or second response (model card)",
            PAIRWISE_TEMPLATE,
            verdict_first=True,
            _parse=_parse_pairwise,
            _verdict_line=_pairwise_line,
        ),
        Profile(
            "wildvision",
            "pairwise",
            "WildVision, [[A>B]] ... [[B>A]]",
            WILDVISION_TEMPLATE,
            _parse=_parse_wildvision,
            _verdict_line=_wildvision_line,
        ),
    )
}


def profile_names(kind: Kind | None = None) -> list[str]:
    return [name for name, p in PROFILES.items() if kind is None or p.kind == kind]


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise KeyError(f"unknown profile {name!r}; known: {', '.join(PROFILES)}") from None


def user_turn(profile: Profile, item: PromptInput, *, image_token: str = "<image>") -> str:
    """The user turn's text: the image token, a newline, the filled prompt (as LLaVA training rows write it)."""
    return f"{image_token}\n{profile.prompt(item)}"


def chat_prompt(profile: Profile, item: PromptInput, *, image_token: str = "<image>") -> str:
    """The whole conversation up to the critic's answer, in the qwen_1_5 (ChatML) template it was trained with."""
    return chat_for_turn(user_turn(profile, item, image_token=image_token))


def chat_for_turn(human_turn: str) -> str:
    """A user turn (the image token, then the prompt: a training row's human turn) as the critic's conversation."""
    return (
        f"<|im_start|>system\n{SYSTEM_PROMPT}<|im_end|>\n"
        f"<|im_start|>user\n{human_turn}<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
