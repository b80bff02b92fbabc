"""Reading a score out of a critic's free text (the pointwise families: score at the end, "Final Score: N", and
LLaVA-Bench's two numbers on the first line).

How a score is read, in order:
0. Only the answer is read: after a reasoning judge's "</think>" (none when its reasoning never ends). Scores written
   in words, stars or with a decimal comma are put in digits (critic_worker.reading.numbers).
1. Statements are found: labelled ("Score: 85", "Final Score: 8.5/10", "Rating: 4/5", "Overall score - 7",
   "Judgement: 4", "[[8]]", "Overall: 40/100", Prometheus's "[RESULT] 4", a number alone on the first or the last
   line), in prose ("I would rate it 7 out of 10", "deserves a score of 85"), and bare numbers on a stated scale
   ("8/10."). A labelled aspect ("Accuracy: 8/10", "Helpfulness score: 9") is a per-aspect score, never the verdict,
   as is "Accuracy (4/5): ...". Prose said as a conclusion ("Overall, I'd give it 80") counts as labelled.
2. Mentions that are not verdicts are dropped: negated ("I would not give it 90"), hypothetical or for reference ("a
   perfect score of 100 would require ...", "if it were complete it would get 90", "the maximum is 10", "the
   reference answer, which would score 10, ..."), conceded, or taken back.
3. The most explicit kind wins; among equals, the last one (the critic's conclusion). Two different ones on the
   winner's line, a range ("70-80", "7 or 8", "4 out of 5, maybe 4.5") or only per-aspect scores leave the text
   unreadable.
4. The value is put on the profile's range. A stated scale ("8.5/10", "7 out of 10", "4/5", "85/100", "85%", "8 on a
   scale of 1 to 10", or one scale named once anywhere in the text, "max_score: 5" too) is mapped linearly, its ends
   onto the profile's ends ("N/M" and "N out of M" state the scale 0..M): 8.5/10 on 0-100 is 85, 4/5 on 1-10 is 8.2.
   A stated scale whose top is the profile's top is the profile's own scale, used as is (7/10 on LLaVA-Bench's 1-10
   is 7). A number outside its stated scale, or outside the profile's range with no scale stated, is unreadable:
   never clamped, never stored as is.
"""

from __future__ import annotations

import re

from critic_worker.reading.decide import decide
from critic_worker.reading.numbers import digits
from critic_worker.reading.text import (
    WINDOW,
    Sentence,
    Statement,
    answer_after_reasoning,
    before,
    clause_before,
    clauses_before,
    clean,
    conceded,
    concluding,
    hypothetical,
    last_matches,
    lone_answer,
    negated,
    quote,
    retracted,
    sentences,
)
from critic_worker.verdicts import Reading, Verdict, format_score, unreadable

# (not "1" of "1,000": a thousands separator goes on with the number)
NUM = r"(?<![\w.])(?P<num>-?\d{1,4}(?:\.\d+)?)(?![\w]|\.\d|,\d{3}(?!\d))"
# What may follow a verdict's number: punctuation, a scale, or a word that goes on to reasons, not a noun it counts.
_FOLLOW = (
    r"(?=\s*(?:$|[.,;:!?)\]\n]|/|out\b|points?\b|%|on\b|\(|and\b|because\b|since\b|as\b|for\b|given\b|due\b|"
    r"which\b|but\b|though\b|-|overall\b|here\b|is\b|would\b|with\b|to\b|or\b|stars?\b|\[\]))"
)
_VERDICT_WORD = r"(?:score|rating|grade|mark|judge?ment|verdict|evaluation|assessment)"
_LABEL = re.compile(
    r"(?:\b(?P<qual>[A-Za-z][A-Za-z'-]*)\s+)?\b" + _VERDICT_WORD + r"s?\b"
    r"(?:\s*\((?P<paren>[^()\n]{0,40})\))?"
    r"(?:\s+(?:for|of)\s+(?:the|this)\s+(?:response|answer|caption|description|output))?"
    r"(?:\s+(?:i|we)(?:\s+would)?\s+(?:give|assign|award)(?:\s+(?:it|this|the\s+response))?)?"
    r"\s*(?:(?::|=|\bis\b|\bwould\s+be\b|-)\s*(?:\[\s*)?(?:approximately|about|around|roughly|~)?"
    # a score worked out on its line: "Average score: (8 + 7 + 9) / 3 = 8"
    r"|:\s*[(\d][\d\s+*/x\u00d7().-]{0,80}=)\s*" + NUM + _FOLLOW,
    re.I,
)
_SHORT_LABEL = re.compile(
    r"(?:\b(?P<qual>final|overall|total|final\s+answer|overall\s+quality)\s*[:=-]"
    r"|\[RESULT\]\s*[:=-]?)\s*" + NUM + _FOLLOW,  # Prometheus: "Feedback: ... [RESULT] 4"
    re.I,
)
_DOUBLE_BRACKETS = re.compile(r"\[\[\s*" + NUM + r"\s*(?:/\s*\d{1,4}\s*)?\]\]")
_PROSE = re.compile(
    r"\b(?:rate|rated|rating|score|scored|scores|scoring|grade|graded|give|gives|giving|gave|assign|assigns|"
    r"assigned|award|awards|awarded|deserves?|deserving|earns?|earned|merits?|receives?|received|gets?|warrants?)\b"
    r"(?:\s+(?:it|this|that|the|a|an|response|answer|caption|description|output|one|solid|strong|low|high|fair|"
    r"final|overall|total|score|rating|grade|mark|of|as|at|with|about|around|approximately|roughly|me|text|"
    r"[a-z]+'s)){0,6}\s*" + NUM + _FOLLOW,
    re.I,
)
# An answer that is nothing but a number ("4", "[4].", "... the tray. 4"): the judge's verdict, said alone.
_ALONE = re.compile(r"\[?\s*" + NUM + r"\s*\]?\s*\.?")
_BARE = re.compile(NUM + r"(?=\s*(?:points?\s*)?(?:/\s*\d|out\s+of\s+\d|on\s+(?:a|the)\s+(?:scale|\d)))", re.I)
_VERDICT_QUALIFIERS = {
    "final", "overall", "total", "my", "the", "a", "an", "its", "your", "our", "global", "aggregate", "weighted",
    "general", "composite", "combined", "this", "response's", "answer's", "caption's", "description's", "given",
    "assigned", "resulting", "i", "quality", "final's", "is", "be", "judge's", "critic's", "with", "evaluation",
    "assessment", "summary", "holistic", "average", "mean", "overall's",
}  # fmt: skip
_REFERENCE = re.compile(
    r"\b(?:perfect|maximum|max|highest|lowest|minimum|min|full|ideal|possible|top|higher|lower|rather|instead|than|"
    r"above|below|least|most|up\s+to|between|range|typical|otherwise|previous|earlier|originally|initial)\b",
    re.I,
)
_AFTER_HYPOTHETICAL = re.compile(
    r"^\s*(?:(?:would|could|might)\b(?!\s+be\s+(?:fair|appropriate|reasonable|justified|suitable|warranted|right|"
    r"my|accurate|the\s+right))|(?:is|are)\s+(?:reserved|for|given\s+to|meant|only)|requires|means|indicates|"
    r"represents|corresponds|would\s+require)",
    re.I,
)
_AFTER_NEGATED = re.compile(
    r"^\s*(?:is|would\s+be|seems)\s+(?:not|n't|too\s+(?:high|low|generous|harsh)|unwarranted|undeserved|excessive)",
    re.I,
)
# What may follow "N/M" or "N out of M" when it is a score rather than a count of something.
_AFTER_SCALE = re.compile(
    r"^\s*(?:$|[.,;:!?)\]]|and\b|because\b|since\b|as\b|for\b|given\b|due\b|which\b|but\b|though\b|-|"
    r"overall\b|here\b|is\b|would\b|with\b|stars?\b|points?\b|\(|from\b|in\s+(?:my|our|total)\b|on\b|to\b|"
    r"(?:i|we)\b|this\b|it\b|[A-Z])",
)
# A second score offered after the first: "or", "maybe" and the like, then the number.
_HEDGE = r"(?:or|maybe|perhaps|possibly)"
_SECOND = r"(?:\s+(?:maybe|perhaps|possibly|even|a|an))*\s*(?P<other>-?\d{1,4}(?:\.\d+)?)(?![\w])"
# "70-80", "7 or 8", "6, maybe 7", "a 6 or maybe a 7": two scores offered, not one.
_RANGE_AFTER = re.compile(r"^\s*,?\s*(?:-|to|and|" + _HEDGE + r")" + _SECOND, re.I)
_SCALE_AFTER = re.compile(
    r"^\s*(?:points?\s*)?(?:"
    r"/\s*(?P<slash>\d{1,4}(?:\.\d+)?)(?!\d|\.\d)"
    r"|\(?\s*out\s+of\s+(?:a\s+(?:possible|maximum|max)\s+(?:of\s+)?)?(?P<outof>\d{1,4})\s*\)?"
    r"|(?P<pct>%)"
    r"|(?:points?\s+)?(?:on|in)\s+(?:a|the)\s+(?:scale|range)\s+(?:of|from)\s+(?P<a>-?\d{1,4})\s*(?:to|-)\s*(?P<b>\d{1,4})"
    r"|(?:on|in)\s+(?:a|the)\s+(?P<a2>-?\d{1,4})\s*(?:-|to)\s*(?P<b2>\d{1,4})(?:-point)?\s+(?:scale|range)"
    r"|\(\s*(?:on\s+a\s+scale\s+of\s+|scale\s+)?(?P<pa>-?\d{1,4})\s*(?:to|-)\s*(?P<pb>\d{1,4})(?:\s+scale)?\s*\)"
    r")",
    re.I,
)
_SCALE_MENTION = re.compile(
    r"(?:scale|range)\s*(?:of|from|:|=)\s*(?P<a>-?\d{1,4})\s*(?:to|-)\s*(?P<b>\d{1,4})"
    r"|(?P<a2>-?\d{1,4})\s*(?:-|to)\s*(?P<b2>\d{1,4})(?:-point)?\s+scale"
    r"|(?P<n>\d{1,4})-point\s+scale"
    r"|(?<![\d.])(?<!\d\s)(?<!points\s)(?<!point\s)\bout\s+of\s+(?P<outof>\d{1,4})\b"
    # the top stated as a value of its own: '"max_score": 5', "The maximum score is 100"
    r"|\b(?:max(?:imum)?|top|highest\s+possible)\s*(?:possible\s+)?(?:score|rating|points|mark)?\s*(?:[:=]|\bis\b)\s*"
    r"(?P<top>\d{1,4})\b(?![.,]\d)",
    re.I,
)
_PAREN_SCALE = re.compile(r"(?:out\s+of\s+|/\s*)(?P<top>\d{1,4})|(?P<a>-?\d{1,4})\s*(?:-|to)\s*(?P<b>\d{1,4})", re.I)

Scale = tuple[float, float]


def _scale_after(rest: str) -> tuple[Scale | None, int]:
    """The scale stated right after a number, and how many characters it took."""
    m = _SCALE_AFTER.match(rest)
    if m is None:
        return None, 0
    if m["slash"] or m["outof"]:
        return (0.0, float(m["slash"] or m["outof"])), m.end()
    if m["pct"]:
        return (0.0, 100.0), m.end()
    lo, hi = m["a"] or m["a2"] or m["pa"], m["b"] or m["b2"] or m["pb"]
    return (float(lo), float(hi)), m.end()


def _mentions(text: str) -> set[Scale]:
    found: set[Scale] = set()
    for m in _SCALE_MENTION.finditer(text):
        if m["n"]:
            found.add((1.0, float(m["n"])))
        elif m["outof"] or m["top"]:
            found.add((0.0, float(m["outof"] or m["top"])))
        else:
            found.add((float(m["a"] or m["a2"]), float(m["b"] or m["b2"])))
    return found


def _paren_scale(paren: str | None) -> Scale | None:
    m = _PAREN_SCALE.search(paren or "")
    if m is None:
        return None
    return (0.0, float(m["top"])) if m["top"] else (float(m["a"]), float(m["b"]))


def on_profile(value: float, scale: Scale | None, lo: float, hi: float) -> tuple[float | None, str]:
    """The value on the profile's range [lo, hi] (see the module's rule 4), or (None, why not)."""
    shown = format_score(value)
    if scale is None:
        if lo <= value <= hi:
            return value, ""
        return None, (
            f"score {shown} is outside the profile's range {format_score(lo)}-{format_score(hi)} "
            "and no other scale is stated"
        )
    s_lo, s_hi = scale
    if s_hi <= s_lo:
        return None, f"the stated scale {format_score(s_lo)}-{format_score(s_hi)} is not a scale"
    if not s_lo <= value <= s_hi:
        return None, f"score {shown} is outside its own stated scale {format_score(s_lo)}-{format_score(s_hi)}"
    if s_hi == hi:
        if lo <= value:
            return value, ""
        return None, f"score {shown} is below the profile's range {format_score(lo)}-{format_score(hi)}"
    return round(lo + (value - s_lo) * (hi - lo) / (s_hi - s_lo), 2), ""


_ASPECT_LABEL = re.compile(r"([A-Za-z][A-Za-z /&'()-]{0,40}?)\s*[:=-]\s*$")
# "Accuracy (4/5): names the dog": the score in brackets after a label that opens its line, a colon or dash after.
_ASPECT_HEADING = re.compile(r"^\W{0,4}([A-Za-z][A-Za-z /&'-]{0,40}?)\s*\(\s*$")
_HEADING_END = re.compile(r"^\s*\)\s*(?:[:=-]|$)")


def _is_aspect_label(before: str, after: str) -> bool:
    """'Accuracy: 8/10', 'Helpfulness - 9/10' or 'Accuracy (4/5): ...': a number labelled by something other than a
    verdict word. ``after``: the text after the number's scale."""
    m = _ASPECT_LABEL.search(before[-60:]) or (_HEADING_END.match(after) and _ASPECT_HEADING.search(before))
    if m is None:
        return False
    label = m.group(1).strip().lower()
    return not re.search(r"\b(?:score|rating|grade|verdict|judge?ment|final|overall|total|evaluation)\b", label)


def _statement(
    s: Sentence,
    m: re.Match[str],
    tier: int,
    lo: float,
    hi: float,
    doc_scale: Scale | None,
    scale: Scale | None = None,
) -> Statement | None:
    start, num_end = m.start(), m.end("num")
    if negated(s.text, start) or hypothetical(s.text, start) or conceded(s.text, start):
        return None
    if _REFERENCE.search(clause_before(s.text, start) + " " + s.text[start : m.start("num")]):
        return None
    if _about_another_answer(s.text, start):
        return None
    rest = s.text[num_end : num_end + WINDOW]
    after, used = _scale_after(rest)
    scale = after or scale
    tail = rest[used:]
    if _AFTER_HYPOTHETICAL.match(tail) or _AFTER_NEGATED.match(tail) or retracted(s.text, num_end + used):
        return None
    if after is not None and tier < 3 and not _AFTER_SCALE.match(tail):
        return None  # "3 out of 4 objects", "2/3 of the details": a count, not a score
    if tier >= 2 and concluding(s.text, start):
        tier = 3
    value = float(m["num"])
    said = s.text[start : num_end + used].strip()
    if (other := _RANGE_AFTER.match(rest) if after is None else _HEDGE_AFTER.match(tail)) is not None:
        return Statement(tier, s.offset + start, s.line, said, value, problem=_range(said, value, other["other"]))
    if scale is None:
        sentence_scales = _mentions(before(s.text, start) + " " + tail)
        scale = next(iter(sentence_scales)) if len(sentence_scales) == 1 else doc_scale
    converted, problem = on_profile(value, scale, lo, hi)
    return Statement(tier, s.offset + start, s.line, said, converted, problem=problem)


_RELATIVE = re.compile(r"^\s*(?:which|that|who)\b", re.I)
_ANOTHER_ANSWER = re.compile(
    r"\b(?:reference|ideal|gold|model\s+answer|ground[\s-]truth|perfect|other|assistant\s+1|first\s+assistant)\b", re.I
)


def _about_another_answer(sentence: str, start: int) -> bool:
    """'Compared to the reference answer, which would score 10, ...': the score of the answer the relative clause
    is about, not of the judged response."""
    clauses = clauses_before(sentence, start)
    return len(clauses) >= 2 and bool(_RELATIVE.match(clauses[-1]) and _ANOTHER_ANSWER.search(clauses[-2]))


# "4 out of 5, maybe a 4.5": a second score offered after the first one's scale (a dash or "to" there is no range).
_HEDGE_AFTER = re.compile(r"^\s*,?\s*" + _HEDGE + _SECOND, re.I)


def _range(said: str, value: float, other: str) -> str:
    return f"a range, not one score: {quote(said)} ({format_score(value)} to {other})"


def _opening(cleaned: str) -> Sentence | None:
    """The first line when it is a sentence of its own and the next line does not go on counting ("85\n\nThe
    response ..."): a score given first, alone, as LLaVA-Bench's first line is, read as labelled if only a number."""
    lines = [line for line in cleaned.split("\n") if line.strip()]
    first = next(sentences(cleaned), None)
    if first is None or first.text.strip() != lines[0].strip():
        return None
    if len(lines) >= 2 and lines[1].lstrip()[:1].isdigit():
        return None
    return first


def score_statements(
    cleaned: str, lo: float, hi: float, *, alone: Sentence | None = None, opening: Sentence | None = None
) -> list[Statement]:
    """Every statement of a score in the cleaned text, its value already on [lo, hi] (or with its problem).
    ``alone``: the sentence that ends the text by itself (text.lone_answer), read as labelled if it is only a number;
    ``opening``: the same for the text's first line (_opening)."""
    mentions = _mentions(cleaned)
    doc_scale = next(iter(mentions)) if len(mentions) == 1 else None
    found: dict[int, Statement] = {}  # by the number's position: the first (most explicit) pattern that read it
    seen: set[int] = set()

    def keep(statement: Statement | None, num_position: int) -> None:
        if num_position not in seen and statement is not None:
            found[num_position] = statement
        seen.add(num_position)

    for s in sentences(cleaned):
        for m in last_matches(_LABEL, s.text):
            qual = (m["qual"] or "").lower()
            tier = 3 if not qual or qual in _VERDICT_QUALIFIERS else 0
            if _REFERENCE.fullmatch(qual):
                continue
            keep(_statement(s, m, tier, lo, hi, doc_scale, _paren_scale(m["paren"])), s.offset + m.start("num"))
        for m in last_matches(_SHORT_LABEL, s.text):
            keep(_statement(s, m, 3, lo, hi, doc_scale), s.offset + m.start("num"))
        for m in last_matches(_DOUBLE_BRACKETS, s.text):
            keep(_statement(s, m, 3, lo, hi, doc_scale), s.offset + m.start("num"))
        for m in last_matches(_PROSE, s.text):
            keep(_statement(s, m, 2, lo, hi, doc_scale), s.offset + m.start("num"))
        for m in last_matches(_BARE, s.text):
            rest = s.text[m.end("num") : m.end("num") + 80]
            tier = 0 if _is_aspect_label(before(s.text, m.start()), rest[_scale_after(rest)[1] :]) else 1
            keep(_statement(s, m, tier, lo, hi, doc_scale), s.offset + m.start("num"))
    for lone in (opening, alone):
        if lone is not None and (answer := _ALONE.fullmatch(lone.text)):
            keep(_statement(lone, answer, 3, lo, hi, doc_scale), lone.offset + answer.start("num"))
    return sorted(found.values(), key=lambda st: st.position)


def read_score(text: str, *, lo: float, hi: float) -> Reading:
    """Read a pointwise verdict on the range [lo, hi] out of free text (the module docstring says how)."""
    answer, problem = answer_after_reasoning(text)
    if problem:
        return unreadable(problem)
    cleaned = digits(clean(answer))
    statements = score_statements(cleaned, lo, hi, alone=lone_answer(answer, cleaned), opening=_opening(cleaned))
    if statements and all(st.tier == 0 for st in statements):
        return unreadable(f"only per-aspect scores ({quote(statements[-1].quote)}), no overall score")
    winner, why = decide([st for st in statements if st.tier > 0], what="score", text=cleaned)
    if winner is None:
        return unreadable(why)
    assert isinstance(winner.value, float)
    verdict = Verdict(score=winner.value, justification=text)
    return Reading(verdict, f"read {quote(winner.quote)} as {verdict.label}")


# -- LLaVA-Bench: "10 7" on the first line, the second number the judged response's score -----------------------

_TWO_SCORES = re.compile(
    r"^(?:scores?\s*:?\s*)?(?P<a>-?\d{1,4}(?:\.\d+)?)(?:\s*/\s*(?P<sa>\d{1,4}))?\s*(?:,|;|\s|and)\s*"
    r"(?P<b>-?\d{1,4}(?:\.\d+)?)(?:\s*/\s*(?P<sb>\d{1,4}))?\s*\.?$",
    re.I,
)
_NAMED_SECOND = re.compile(
    r"\bassistant\s*(?:2|two|b)\b(?:'s)?(?:\s+(?:score|rating|receives|gets|scores|is\s+rated|is\s+given|earns))?"
    r"(?:\s+(?:a|an|score|of))*\s*[:=]?\s*" + NUM + _FOLLOW,
    re.I,
)


def read_two_scores(text: str, *, lo: float, hi: float) -> Reading:
    """LLaVA-Bench: the first line holds two scores (the reference assistant's, then the judged response's).
    Without that line, a statement naming Assistant 2's score ("Assistant 2: 7/10"), the last one, is read."""
    answer, problem = answer_after_reasoning(text)
    if problem:
        return unreadable(problem)
    cleaned = clean(answer)
    first = next((line for line in cleaned.split("\n") if line.strip()), "")
    if m := _TWO_SCORES.match(first.strip()):
        scale = (0.0, float(m["sb"])) if m["sb"] else None
        value, problem = on_profile(float(m["b"]), scale, lo, hi)
        if value is None:
            return unreadable(f"first line {quote(first)}: {problem}")
        return Reading(Verdict(score=value, justification=text), f"read the first line {quote(first)}")
    found: list[Statement] = []
    for s in sentences(cleaned):
        for named in last_matches(_NAMED_SECOND, s.text):
            if negated(s.text, named.start()) or hypothetical(s.text, named.start()):
                continue
            rest = s.text[named.end("num") : named.end("num") + WINDOW]
            scale, used = _scale_after(rest)
            value, problem = on_profile(float(named["num"]), scale, lo, hi)
            said = s.text[named.start() : named.end("num") + used]
            found.append(Statement(3, s.offset + named.start(), s.line, said, value, problem=problem))
    winner, why = decide(found, what="score of Assistant 2", text=cleaned)
    if winner is None:
        return unreadable(f"the first line does not hold two scores and {why}" if not found else why)
    assert isinstance(winner.value, float)
    verdict = Verdict(score=winner.value, justification=text)
    return Reading(verdict, f"read {quote(winner.quote)} as {verdict.label}")
