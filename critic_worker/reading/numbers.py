"""Scores written other than in digits, put in digits before a score is read: words ("seven out of ten",
"Score: Eight"), stars ("★★★★☆" is 4/5) and a decimal comma ("8,5/10", "Score: 7,5").

Each rewrite is narrow: a word is a number only where a score stands (before "out of", after a score label), and a
comma is a decimal point only between digits, with no space, before a scale or after a score label, so that
LLaVA-Bench's "10,7" stays two scores and "1,000" stays a thousand."""

from __future__ import annotations

import re

_WORDS = {
    "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7",
    "eight": "8", "nine": "9", "ten": "10", "a hundred": "100", "one hundred": "100", "hundred": "100",
}  # fmt: skip
_WORD = r"(?:a\s+hundred|one\s+hundred|hundred|zero|one|two|three|four|five|six|seven|eight|nine|ten)"
_WORD_OUT_OF = re.compile(
    r"\b(?P<n>" + _WORD + r"|\d{1,4}(?:\.\d+)?)(?P<mid>\s+(?:points?\s+)?out\s+of\s+)(?P<top>" + _WORD + r")\b", re.I
)
_WORD_AFTER_LABEL = re.compile(
    r"(?P<label>\b(?:score|rating|grade|judge?ment|verdict)\s*[:=]\s*)(?P<n>" + _WORD + r")\b"
    r"(?=\s*(?:$|[.,;!)/]|out\b|points?\b))",
    re.I,
)
_STARS = re.compile(r"(?P<full>[\u2605\u2b50]+)(?P<empty>\u2606+)")
_COMMA_BEFORE_SCALE = re.compile(r"(?<![\d.,])(\d{1,3}),(\d{1,2})(?![\d,])(?=\s*(?:/\s*\d|out\s+of\b|%))", re.I)
_COMMA_AFTER_LABEL = re.compile(
    r"(\b(?:score|rating|grade|note|judge?ment)\s*[:=]\s*\d{1,3}),(\d{1,2})(?![\d,])(?!\s*/)", re.I
)


def _word(word: str) -> str:
    return _WORDS.get(re.sub(r"\s+", " ", word.lower()), word)


def digits(cleaned: str) -> str:
    """The cleaned text with its scores' words, stars and decimal commas written as digits (see the module)."""
    text = _STARS.sub(lambda m: f"{len(m['full'])}/{len(m['full']) + len(m['empty'])}", cleaned)
    text = _WORD_OUT_OF.sub(lambda m: _word(m["n"]) + m["mid"] + _word(m["top"]), text)
    text = _WORD_AFTER_LABEL.sub(lambda m: m["label"] + _word(m["n"]), text)
    text = _COMMA_BEFORE_SCALE.sub(r"\1.\2", text)
    return _COMMA_AFTER_LABEL.sub(r"\1.\2", text)
