"""What every verdict reader shares: the text as a careful person reads it (markdown and punctuation out of the way),
its sentences, and the small tests of a sentence's wording that decide whether a statement is a verdict at all
(negated, hypothetical, conceded, retracted, or said in the critic's conclusion).

All patterns here are linear (no nested unbounded repeats), so reading a long output costs time proportional to it.
"""

from __future__ import annotations

import re
import unicodedata
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

# A number as a verdict writes it: 85, 8.5, -3 (not part of a word, a date or a version like 1.2.3).
NUM = r"(?<![\w.])(-?\d{1,4}(?:\.\d+)?)(?![\w]|\.\d)"

_EMPHASIS = re.compile(r"\*+|(?<!\w)_+|_+(?!\w)|`+|</?(?:b|strong|em|i|u|mark)>", re.I)
_LINE_MARKUP = re.compile(r"^[ \t]*(?:#{1,6}[ \t]*|>[ \t]*|(?:[-+•◦▪][ \t]+)|(?:\d{1,2}[.)][ \t]+(?=[A-Za-z])))+", re.M)
_LATEX = re.compile(r"\\(?:textbf|mathbf|text|emph)\{([^{}]{0,40})\}")
_BOXED = re.compile(r"\\boxed\{\s*([^{}]{0,40}?)\s*\}")  # a boxed answer is the critic's labelled verdict
_MATH_DELIMS = re.compile(r"\\[()\[\]]|\$+")
# JSON as judges answer it ({"overall_score": 8, "better_response": "Response 2"}): keys as labels, no quotes.
_JSON_KEY = re.compile(r'"([A-Za-z][A-Za-z0-9_ ]{0,40})"\s*:')
_QUOTES = re.compile(r'["\u201c\u201d\u201e\u00ab\u00bb{}]')
# Apostrophes as typesetting writes them ("don\u2019t", "it\u2019s"): the plain one, so negations and ties still read.
_APOSTROPHES = re.compile("[\u2018\u2019\u201a\u201b\u02bc\u2032\uff07]")
# Characters that show nothing (zero-width spaces and joiners, a byte-order mark, a soft hyphen): a reader sees
# "Score:\u200b85" as "Score: 85".
_INVISIBLE = re.compile("[\u00ad\u200b-\u200f\u2060-\u2064\ufeff]")
_SPACES = re.compile(r"[ \t\u00a0]+")
# A line that is only a label ("### Final Score", "**Verdict:**"), its value on the next line.
_BARE_LABEL = re.compile(
    r"^(?:(?:final|overall|total|my)\s+)?(?:scores?|ratings?|grade|verdict|judge?ment|decision|better\s+response|"
    r"preferred\s+response|winner|final\s+verdict|evaluation)\s*[:\-]?$",
    re.I,
)


# Special tokens a judge's decoding left in its text: end of sequence or turn, and the like (LLaMA's </s>, ChatML's
# <|im_end|>, Llama 3's <|eot_id|>, Gemma's <end_of_turn>, DeepSeek's end of sentence once NFKC folds its bars).
_SPECIAL_TOKEN = re.compile(
    r"</?s>|<(?:eos|bos|pad|unk|end_of_turn|start_of_turn|end_of_utterance|eot|eod|eom|sep|cls|endoftext)>|"
    r"<\|[A-Za-z0-9_▁]{1,40}\|>|\[/?INST\]",
    re.I,
)
# A number run into the label of the next part, its line break lost: "Judgement: 4Explanation: ...".
_GLUED_LABEL = re.compile(r"(?<=\d)(?=[A-Z][a-z]{2,20}(?:\s[A-Za-z]{2,20})?\s?:)")


def clean(text: str) -> str:
    """The text with markdown emphasis, headers, bullets, quotes, LaTeX wrappers and odd spacing removed, and full-
    width punctuation folded (NFKC), one line per line; a label alone on its line is joined to its value. A model's
    special tokens left in by its decoding ("</s>", "<|im_end|>") end a line, and a number glued to the next
    section's label ("Judgement: 4Explanation: ...") is parted from it."""
    text = _VULGAR_FRACTION.sub(_decimal_fraction, text)
    text = unicodedata.normalize("NFKC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = _APOSTROPHES.sub("'", _INVISIBLE.sub("", text))
    text = _SPECIAL_TOKEN.sub("\n", text)
    text = _GLUED_LABEL.sub("\n", text)
    text = _BOXED.sub(r"[[\1]]", text)
    text = _JSON_KEY.sub(lambda m: m.group(1).replace("_", " ") + ":", text)
    text = _QUOTES.sub(" ", text)
    text = _LATEX.sub(r"\1", text)
    text = _MATH_DELIMS.sub(" ", text)
    text = _EMPHASIS.sub("", text)
    text = _LINE_MARKUP.sub("", text)
    text = text.replace("\u2013", "-").replace("\u2014", " - ").replace("\u2212", "-").replace("\u2026", "...")
    lines = [_table_row(_SPACES.sub(" ", line).strip()) for line in text.split("\n")]
    joined: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if _BARE_LABEL.match(line):
            j = i + 1
            while j < len(lines) and not lines[j]:
                j += 1
            if j < len(lines) and len(lines[j]) <= 60:
                joined.append(f"{line.rstrip(':- ')}: {lines[j]}")
                i = j + 1
                continue
        joined.append(line)
        i += 1
    return "\n".join(joined)


# "4\u00bd/5": NFKC would write "41\u20442/5", and "2/5" would be read; the fraction is a decimal part instead.
_VULGAR_FRACTION = re.compile("(\\d*)([\u00bc-\u00be\u2150-\u215e])")


def _decimal_fraction(m: re.Match[str]) -> str:
    part = f"{unicodedata.numeric(m[2]):.2f}".rstrip("0")  # "0.5"
    return (m[1] or "0") + part[1:]


def _table_row(line: str) -> str:
    """A markdown table row of two cells ('| Overall | 7/10 |') as 'Overall: 7/10'; a rule row ('|---|') as nothing."""
    if not line.startswith("|"):
        return line
    cells = [c.strip() for c in line.strip("|").split("|")]
    if all(set(c) <= set("-: ") for c in cells):
        return ""
    return f"{cells[0]}: {cells[1]}." if len(cells) == 2 else " ".join(f"{c}." for c in cells if c)


# A reasoning judge (DeepSeek-R1 style, LLaVA-Critic-R1, QwQ, Kimi-VL) thinks before it answers: drafts in there
# ("Draft: Score: 8 ... lower") are not its verdict. Some decodes drop the opening tag and keep only the closing one.
_REASONING_END = re.compile(r"</think(?:ing)?>|</reasoning>|\u25c1/think\u25b7", re.I)
_REASONING_START = re.compile(r"<think(?:ing)?>|<reasoning>|\u25c1think\u25b7", re.I)


def answer_after_reasoning(text: str) -> tuple[str, str]:
    """The part of a judge's text that is its answer: after its reasoning's last closing tag, the whole text when
    it has none. ("", why) when the reasoning was opened and never closed: the output stopped before any answer."""
    end = deque(_REASONING_END.finditer(text), maxlen=1)
    if end:
        answer = text[end[0].end() :]
        if not _SPECIAL_TOKEN.sub("", answer).strip():
            return "", "the critic's reasoning (<think>) ends with no answer after it"
        return answer, ""
    if _REASONING_START.search(text):
        return "", "the reasoning (<think>) never ends, so the critic gave no answer after it"
    return text, ""


@dataclass(frozen=True)
class Sentence:
    """One sentence of the cleaned text: its words, its line number and its offset in the whole text."""

    text: str
    line: int
    offset: int


# A sentence ends at . ! ? or ; before a space, not at an ellipsis (a critic trailing off is still mid-thought).
_SENTENCE = re.compile(r"\S.*?(?:(?:(?<!\.)\.(?!\.)|[!?;])+(?=\s|$)|$)")


def sentences(cleaned: str) -> Iterator[Sentence]:
    offset = 0
    for number, line in enumerate(cleaned.split("\n")):
        for m in _SENTENCE.finditer(line):
            yield Sentence(m.group(0), number, offset + m.start())
        offset += len(line) + 1


_LIST_ITEM = re.compile(r"^\s*\d{1,3}[.)]\s")


def lone_answer(text: str, cleaned: str) -> Sentence | None:
    """The sentence that ends the text when it is the text's last sentence on its last line (an answer given alone:
    "4", "... the dining table. A"), for a reader to test whether it is nothing but a verdict; None when the text
    ends a numbered list ("1. a cup\\n2. a pen\\n3": an item cut short, not an answer). ``text`` is the raw text,
    ``cleaned`` its clean()."""
    ends = deque(sentences(cleaned), maxlen=1)
    last = ends[0] if ends else None
    if last is None or last.line != cleaned.rstrip().count("\n"):
        return None
    lines = [
        line
        for line in _SPECIAL_TOKEN.sub("", unicodedata.normalize("NFKC", text)).replace("\r", "\n").split("\n")
        if line.strip()
    ]
    if len(lines) >= 2 and lines[-1].strip().rstrip(".").isdigit():
        previous = lines[-2].strip().rstrip(".")
        if _LIST_ITEM.match(lines[-2]) or previous.isdigit():  # a list cut short, or a column of numbers
            return None
    return last


# -- the wording around a statement ----------------------------------------------------------------------------

_CLAUSE_BREAK = re.compile(r",|;|:|\bbut\b|\bhowever\b|\byet\b|\bwhereas\b|\bthough\b| - ", re.I)
_NEGATION = re.compile(
    r"\b(?:not|never|cannot|can\s*not|neither|nor|hardly|barely|without|no(?!\s+(?:doubt|question)))\b|n't\b|\bnt\b",
    re.I,
)
_NOT_REALLY_NEGATION = re.compile(r"\bnot\s+only\b|\bno\s+doubt\b|\bwithout\s+(?:a\s+)?doubt\b", re.I)
_HYPOTHETICAL = re.compile(
    r"\b(?:if|unless|whether|were|could|might|should|would\s+(?:have|be)|wish|suppose|supposing|assuming|imagine|"
    r"hypothetically|ask(?:s|ed)?|determine|decide|evaluate|judge|question\s+is|let's\s+see|let\s+us\s+see)\b",
    re.I,
)
_CONDITION = re.compile(r"(?<!even\s)(?<!as\s)\b(?:if|unless)\b", re.I)
# "If I had to choose, I'd pick Response 1": a forced choice is still the critic's choice, not a hypothesis.
_FORCED_CHOICE = re.compile(
    r"\bif\s+(?:(?:i|we|one)\s+(?:(?:had|have|were|was|need(?:ed)?)\s+to|must)|forced\s+to|pressed\s+to|made\s+to)\s+"
    r"(?:choose|pick|decide|select)(?:\s+(?:one|between\s+(?:them|the\s+two)))?",
    re.I,
)
_CONCESSION = re.compile(r"\b(?:although|though|even\s+though|even\s+if|while|whereas|despite|albeit|granted)\b", re.I)
_CONCLUSION = re.compile(
    r"\b(?:overall|in\s+conclusion|in\s+summary|to\s+conclude|to\s+sum\s+up|in\s+sum|all\s+in\s+all|"
    r"all\s+things\s+considered|final(?:ly)?|therefore|thus|hence|consequently|in\s+the\s+end|ultimately|verdict)\b",
    re.I,
)
_RETRACTION = re.compile(
    r"^[^.!?;]{0,40}?(?:\.\.\.|-|,|\s)\s*(?:no(?!\s+(?:doubt|question))\b|wait\b|actually\b|scratch\s+that|correction)",
    re.I,
)
# A clause giving the statement's reason or describing a part ("because no one speaks", "as it actually counts the
# dogs", "which has no errors") uses the retraction words in their ordinary sense: what follows it takes nothing back.
_REASON_CLAUSE = re.compile(r"\b(?:because|since|as|for|which|that|who|where|when|with|given|while|so)\b", re.I)
# Words between two differing statements on one line that make the later one a revision, not a contradiction.
REVISION = re.compile(
    r"\b(?:but|however|on\s+reflection|actually|after|instead|rather|in\s+fact|no|final(?:ly)?|overall|"
    r"in\s+conclusion|therefore|so|thus|ultimately|reconsider\w*|correction|wait|initially|at\s+first)\b",
    re.I,
)
HEDGE = re.compile(
    r"\b(?:hard|difficult|impossible)\s+to\s+(?:say|tell|decide|determine|choose|judge)|\bdepends\s+on\b|"
    r"\b(?:cannot|can't|can\s+not)\s+(?:decide|choose|determine|tell)|\bnot\s+sure\b|\bunclear\b",
    re.I,
)


# How far back a statement's own sentence is read: real sentences are shorter, and a bound keeps reading linear.
WINDOW = 300


def last_matches(pattern: re.Pattern[str], text: str, limit: int = 40) -> list[re.Match[str]]:
    """A pattern's last matches in a sentence: the conclusion is at its end, and a sentence with more statements than
    this is not prose a person wrote (the bound keeps reading cheap on degenerate output)."""
    return list(deque(pattern.finditer(text), maxlen=limit))


def before(sentence: str, start: int) -> str:
    """The sentence before a statement, at most WINDOW characters of it."""
    return sentence[max(0, start - WINDOW) : start]


def clauses_before(sentence: str, start: int) -> list[str]:
    """The clauses of the sentence before a statement (split at commas, 'but', 'however', ...), its own last."""
    return _CLAUSE_BREAK.split(before(sentence, start))


def clause_before(sentence: str, start: int) -> str:
    """The words of the statement's own clause before it (after the last comma, 'but', 'however', ...)."""
    return clauses_before(sentence, start)[-1]


def negated(sentence: str, start: int) -> bool:
    """'I cannot say Response 1 is better', 'I would not give it 90': a negation in the statement's clause."""
    clause = _NOT_REALLY_NEGATION.sub(" ", clause_before(sentence, start))
    return bool(_NEGATION.search(clause))


def hypothetical(sentence: str, start: int) -> bool:
    """'if it were more detailed it would be better', 'we must decide whether Response 1 is better', and the
    consequence of a condition earlier in the sentence ('If it had named the breed, it would get 95')."""
    prefix = _FORCED_CHOICE.sub(" ", before(sentence, start))
    return bool(_HYPOTHETICAL.search(_CLAUSE_BREAK.split(prefix)[-1]) or _CONDITION.search(prefix))


def conceded(sentence: str, start: int) -> bool:
    """Inside a concessive clause ('Although Response 1 is more accurate, ...') that has not ended yet."""
    prefix = before(sentence, start)
    last = max(_CONCESSION.finditer(prefix), key=lambda m: m.start(), default=None)
    return last is not None and "," not in prefix[last.end() :]


def retracted(sentence: str, end: int) -> bool:
    """Taken back right after it is said: 'Response 1 is better than... no, Response 2 is'."""
    match = _RETRACTION.match(sentence[end : end + 60])
    return match is not None and not _REASON_CLAUSE.search(match.group())


def concluding(sentence: str, start: int) -> bool:
    """Said as the critic's conclusion: 'Overall, ...', 'In conclusion ...', 'Therefore ...'."""
    return bool(_CONCLUSION.search(before(sentence, start)))


@dataclass(frozen=True)
class Statement:
    """One statement of a verdict in the text. ``tier`` orders how explicit it is (3 labelled or concluding,
    2 a verdict in prose, 1 a weaker comparison or a bare number on a scale, 0 a per-aspect score); ``value`` is
    the score already on the profile's range or the preference; ``problem``, when set, makes the text unreadable
    if this statement is the one that decides."""

    tier: int
    position: int
    line: int
    quote: str
    value: float | str | None = None
    strong: bool = False
    problem: str = ""
    notes: list[str] = field(default_factory=list, compare=False)


TIER_NAMES = {3: "labelled", 2: "stated", 1: "weaker", 0: "per-aspect"}


def quote(text: str, limit: int = 80) -> str:
    """The words a reading rests on, as the reason shows them: a bracketed verdict with its brackets closed (the
    match stops at its number: "[[3" is shown as "[[3]]")."""
    text = text.strip()
    text += "]" * max(0, text.count("[") - text.count("]"))
    return repr(text if len(text) <= limit else text[: limit - 1] + "\u2026")
