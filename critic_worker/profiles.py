"""Prompt profiles: one per LLaVA-Critic prompt family. Django-free and torch-free.

A profile is a prompt template, the verdict's shape (a score on a closed range, or a preference among
A / B / tie), a reader that reads a verdict out of the critic's free text (``read`` gives the verdict or why there
is none; one reader per output family, in critic_worker/reading), and a renderer that writes a verdict back in the
same output shape: ``parse(render(v)) == v``. Each profile also lists its *verdict lines*, the
canonical phrase for every possible verdict, which the engine scores directly to read the critic's confidence
and, when the free text cannot be parsed, to force a choice.

The built-ins are this module's PROFILES; a team's own profiles come from a ProfileSource (the app's database),
and get_profile finds either by name. The database's check constraints are generated from the built-ins and its
triggers check the rest, so a score outside its profile's range cannot be stored by any code path.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

from critic_worker.reading.preferences import read_preference
from critic_worker.reading.scores import read_score, read_two_scores
from critic_worker.verdicts import PREFERENCES, Reading, Verdict, format_score, unreadable

Kind = Literal["pointwise", "pairwise"]
SYSTEM_PROMPT = "You are a helpful assistant."  # LLaVA-NeXT's qwen_1_5 conversation template


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
    _read: Callable[[Profile, str], Reading] = field(default=lambda self, text: unreadable("no reader"), repr=False)
    _verdict_line: Callable[[Profile, Verdict], str] = field(default=lambda self, v: "", repr=False)
    system: str = SYSTEM_PROMPT
    # A team's profile may put its scores on a grid (1-5 in steps of 1, halves, ...); None: any two-decimal score.
    score_step: float | None = None
    allow_tie: bool = True
    five_way: bool = False  # WildVision's strengths (A>>B against A>B)
    builtin: bool = True
    # A team's pattern profile: what its judges write for a preference -> A / B / tie (also how its files spell one).
    value_map: tuple[tuple[str, str], ...] = ()

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
            question=item.question,
            response=item.response_a,
            response_a=item.response_a,
            response_b=item.response_b,
            reference=item.reference,
        )

    def verdicts(self) -> list[Verdict]:
        """Every verdict this profile can give: the scores over the range (integers, or the profile's step), or
        A / B / tie (without tie when it is not allowed; with WildVision's strengths)."""
        if self.kind == "pairwise":
            strengths = (False, True) if self.five_way else (False,)
            preferences = [p for p in PREFERENCES if self.allow_tie or p != "tie"]
            return [Verdict(preference=p, strong=s) for p in preferences for s in strengths if not (s and p == "tie")]
        assert self.score_min is not None
        assert self.score_max is not None
        if self.score_step is None:
            return [Verdict(score=n) for n in range(int(self.score_min), int(self.score_max) + 1)]
        count = round((self.score_max - self.score_min) / self.score_step)
        return [Verdict(score=self.score_min + k * self.score_step) for k in range(count + 1)]

    def distribution_key(self, score: float | None, preference: str | None) -> str:
        """A verdict's key in the critic's verdict distribution (a verdict's ``probabilities``): the preference, or
        the score of the nearest verdict line, as ``format_score`` writes it: the score itself on a profile with a
        step (its readers give only scores on it), else the nearest whole point (LLaVA-Bench's 6.5 takes 6's)."""
        if preference is not None:
            return preference
        return format_score(score or 0.0) if self.score_step is not None else format_score(round(score or 0.0))

    def on_grid(self, score: float) -> bool:
        """Whether a score is one this profile can give: in range, and on its step when it has one."""
        if not self.in_range(score):
            return False
        if self.score_step is None:
            return True
        steps = (score - (self.score_min or 0)) / self.score_step
        return abs(steps - round(steps)) < 1e-6

    def verdict_line(self, verdict: Verdict) -> str:
        """The canonical phrase that states this verdict (no justification)."""
        return self._verdict_line(self, verdict)

    def render(self, verdict: Verdict) -> str:
        """The verdict written in this profile's output shape."""
        line = self.verdict_line(verdict)
        parts = [line, verdict.justification] if self.verdict_first else [verdict.justification, line]
        return "\n".join(part for part in parts if part)

    def read(self, text: str) -> Reading:
        """Read the verdict out of the critic's text: the verdict (or None) and the reason. Never raises.

        Text in the renderer's own shape is read back exactly (with its justification); any other text goes to
        the family's reader (critic_worker/reading), which reads as a careful person does or says why it cannot."""
        try:
            canonical = self._canonical(text)
            if canonical is not None:
                return Reading(canonical, "the profile's own verdict line")
            return self._fits(self._read(self, text))
        except Exception as exc:  # a reader bug must not stop a worker: the forced path takes over
            return unreadable(f"the reader failed: {type(exc).__name__}")

    def read_free_text(self, text: str) -> Reading:
        """The family's (or pattern's) reader alone, without the canonical shortcut. Never raises."""
        try:
            return self._fits(self._read(self, text))
        except Exception as exc:
            return unreadable(f"the reader failed: {type(exc).__name__}")

    def _fits(self, reading: Reading) -> Reading:
        """A reading the profile can store: a score on its step, a tie only where ties are allowed."""
        v = reading.verdict
        if v is not None and v.score is not None and not self.on_grid(v.score):
            return unreadable(f"{reading.reason}, but {v.label} is not on the profile's step of {self.score_step}")
        if v is not None and v.preference == "tie" and not self.allow_tie:
            return unreadable(f"{reading.reason}, but this profile does not allow a tie")
        return reading

    def parse(self, text: str) -> Verdict | None:
        """The verdict read from the critic's text; None when it is unreadable (``read`` says why). Never raises."""
        return self.read(text).verdict

    def _canonical(self, text: str) -> Verdict | None:
        """Text in the renderer's own shape: the verdict line first or last, the justification around it."""
        stripped = text.strip()
        lines = stripped.split("\n")
        line, rest = (lines[0], lines[1:]) if self.verdict_first else (lines[-1], lines[:-1])
        line = line.strip()
        if self.kind == "pairwise":
            candidates = self.verdicts()
        else:
            numbers = [float(n) for n in re.findall(r"(-?\d{1,3}(?:\.\d+)?)", line)]
            candidates = [Verdict(score=n) for n in numbers if self.on_grid(n)]
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


def _score_line(prefix: str, suffix: str = "") -> Callable[[Profile, Verdict], str]:
    return lambda profile, v: f"{prefix}{format_score(v.score or 0)}{suffix}"


def score_out_of_line(profile: Profile, v: Verdict) -> str:
    """'Score: 85/100': the score over the profile's top."""
    return f"Score: {format_score(v.score or 0)}/{format_score(profile.score_max or 0)}"


def two_scores_line(profile: Profile, v: Verdict) -> str:
    """LLaVA-Bench's first line: the reference's score (the top of the range), then the judged response's."""
    return f"{format_score(profile.score_max or 0)} {format_score(v.score or 0)}"


def _read_score(profile: Profile, text: str) -> Reading:
    return read_score(text, lo=float(profile.score_min or 0), hi=float(profile.score_max or 0))


def _read_two_scores(profile: Profile, text: str) -> Reading:
    return read_two_scores(text, lo=float(profile.score_min or 0), hi=float(profile.score_max or 0))


def _read_pairwise(profile: Profile, text: str) -> Reading:
    return read_preference(text)


def _pairwise_line(profile: Profile, v: Verdict) -> str:
    return {
        "A": "The first response is better.",
        "B": "The second response is better.",
        "tie": "Both responses are equally good.",
    }[v.preference or ""]


def _read_wildvision(profile: Profile, text: str) -> Reading:
    return read_preference(text, five_way=True)


_WILDVISION_CODES = {
    ("A", True): "A>>B",
    ("A", False): "A>B",
    ("tie", False): "A=B",
    ("B", False): "B>A",
    ("B", True): "B>>A",
}


def _wildvision_line(profile: Profile, v: Verdict) -> str:
    code = _WILDVISION_CODES[(v.preference or "", v.strong and v.preference != "tie")]
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
            _read=_read_score,
            _verdict_line=score_out_of_line,
        ),
        Profile(
            "caption",
            "pointwise",
            "Detailed caption, Final Score 0-100",
            CAPTION_TEMPLATE,
            0,
            100,
            _read=_read_score,
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
            _read=_read_two_scores,
            _verdict_line=two_scores_line,
        ),
        Profile(
            "pairwise",
            "pairwise",
            "First or second response (model card)",
            PAIRWISE_TEMPLATE,
            verdict_first=True,
            _read=_read_pairwise,
            _verdict_line=_pairwise_line,
        ),
        Profile(
            "wildvision",
            "pairwise",
            "WildVision, [[A>B]] ... [[B>A]]",
            WILDVISION_TEMPLATE,
            _read=_read_wildvision,
            _verdict_line=_wildvision_line,
            five_way=True,
        ),
    )
}


@dataclass(frozen=True)
class Family:
    """An output family's reader and verdict line, which a team's profile can reuse with its own range."""

    kind: Kind
    read: Callable[[Profile, str], Reading]
    verdict_line: Callable[[Profile, Verdict], str]
    verdict_first: bool = False
    five_way: bool = False


FAMILIES: dict[str, Family] = {
    "pointwise": Family("pointwise", _read_score, score_out_of_line),
    "caption": Family("pointwise", _read_score, _score_line("Final Score: ")),
    "llava-bench": Family("pointwise", _read_two_scores, two_scores_line, verdict_first=True),
    "pairwise": Family("pairwise", _read_pairwise, _pairwise_line, verdict_first=True),
    "wildvision": Family("pairwise", _read_wildvision, _wildvision_line, five_way=True),
}


class ProfileSource(Protocol):
    """Where profiles beyond the built-ins come from (the app's database: annotations.apps registers one)."""

    def profile(self, name: str) -> Profile | None: ...

    def catalogue(self) -> list[tuple[str, Kind, str]]:
        """(name, kind, title) of each profile it holds."""
        ...


_sources: list[ProfileSource] = []
_defined: dict[str, Profile] = {}  # built from a source; emptied by forget_defined_profiles()


def add_profile_source(source: ProfileSource) -> None:
    if not any(type(known) is type(source) for known in _sources):
        _sources.append(source)


def forget_defined_profiles() -> None:
    """Drop the profiles built from sources, so that the next get_profile reads them again. The app calls this at
    the start of each request and task and whenever a stored profile changes: one reading per unit of work."""
    _defined.clear()


def profile_catalogue(kind: Kind | None = None) -> list[tuple[str, str]]:
    """(name, title) of every known profile of one kind or of both: the built-ins first, then the sources'."""
    found = [(name, p.kind, p.title) for name, p in PROFILES.items()]
    found += [entry for source in _sources for entry in source.catalogue()]
    return [(name, title) for name, k, title in found if kind is None or k == kind]


def profile_names(kind: Kind | None = None) -> list[str]:
    """Every known profile's name (built-ins first, then the sources'), of one kind or of both."""
    return [name for name, _ in profile_catalogue(kind)]


def find_profile(name: str) -> Profile | None:
    """The profile called ``name`` (a built-in, or one a source defines), or None."""
    if name in PROFILES:
        return PROFILES[name]
    if name not in _defined:
        for source in _sources:
            if (found := source.profile(name)) is not None:
                _defined[name] = found
                break
    return _defined.get(name)


def get_profile(name: str) -> Profile:
    """The profile called ``name``: a built-in, or one a source defines. KeyError (naming the known ones) if none."""
    if (found := find_profile(name)) is None:
        raise KeyError(f"unknown profile {name!r}; known: {', '.join(profile_names())}")
    return found


def user_turn(profile: Profile, item: PromptInput, *, image_token: str = "<image>") -> str:
    """The user turn's text: the image token, a newline, the filled prompt (as LLaVA training rows write it)."""
    return f"{image_token}\n{profile.prompt(item)}"


def chat_prompt(profile: Profile, item: PromptInput, *, image_token: str = "<image>") -> str:
    """The whole conversation up to the critic's answer, in the qwen_1_5 (ChatML) template it was trained with."""
    return chat_for_turn(user_turn(profile, item, image_token=image_token), system=profile.system)


def chat_for_turn(human_turn: str, *, system: str = SYSTEM_PROMPT) -> str:
    """A user turn (the image token, then the prompt: a training row's human turn) as the critic's conversation."""
    return f"<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{human_turn}<|im_end|>\n<|im_start|>assistant\n"
