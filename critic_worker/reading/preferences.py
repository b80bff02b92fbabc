"""Reading a preference (A / B / tie) out of a critic's free text: the first/second family ("Response 2 is better
than Response 1 because ...", "The better response: [1]") and WildVision's five-way labels ([[A>>B]] ... [[B>>A]]).

How a preference is read:
1. Statements are found. Labelled: "[[B>A]]", "[[A]]"/"[[B]]"/"[[C]]" (MLLM-as-a-Judge, C a tie), "The better
   response: [second]", "Verdict: Response B", "Winner: Answer 1", "Final verdict: tie", and any statement said as a
   conclusion ("Overall, Response 2 is better", "Response 2 is better overall"). In prose: "<response> is
   (clearly/slightly/...) better/superior/preferred [than <other>]", "<response> is worse" (the other one wins), "I
   prefer <response>", "<response> outperforms ...", and ties ("both are equally good", "it's a tie", "neither is
   better", "no clear winner"). Weaker: a comparison on one aspect ("Response 1 is more accurate", "Response 2 is
   better at naming colours", "both are equally detailed"). Also: "<response> performs better / does a better job",
   "I would rate <response> as better", "Preferred: B", "Better: Response A", Prometheus's "[RESULT] B", "A > B"
   alone, and per-response scores ("Score for Response 1: 7/10", '"score_B": 8'). Responses are named as
   first/second, Response/Answer/Assistant/Output 1/2 (also "(a)", "#2"), A/B, one/two. Only the answer is read:
   after a reasoning judge's "</think>" (none when its reasoning never ends).
2. Statements that are not verdicts are dropped: negated ("I cannot say Response 1 is better"), hypothetical ("if
   Response 1 were longer it would be better", "we must decide whether ...", "Response 1 is better if the user wants
   detail"; but not a forced choice, "if I had to choose, I'd pick Response 1"), conceded ("Although Response 1 is
   more accurate, ..."), taken back ("Response 1 is better than... no, ..."), and the label list a critic copies from
   its instructions (three or more different five-way labels on one line).
3. The most explicit kind wins, the last of them (the conclusion); two different ones on its line make the text
   ambiguous. Only hedges ("hard to say which is better") read as unreadable.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from critic_worker.reading.decide import decide
from critic_worker.reading.text import (
    HEDGE,
    Sentence,
    Statement,
    answer_after_reasoning,
    before,
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
from critic_worker.verdicts import Reading, Verdict, unreadable

_FIRST = {"first", "former", "1", "a", "one", "i"}
_NOUN = r"(?:response|answer|assistant|output|model|candidate|option|caption|description|reply)"
# A response named: "the first response", "Response 2", "Assistant B's answer", "answer [1]", "B" before "is".
_REF = (
    r"(?:the\s+)?(?:(?P<ord{n}>first|second|former|latter)(?:\s+(?:" + _NOUN + r"|one))?"
    r"|" + _NOUN + r"\s*(?:\[|\(|\#|no\.)?\s*(?P<id{n}>[12AB]|one|two)\b\s*[\])]?(?:'s\s+(?:answer|response))?"
    r"|(?P<bare{n}>\b[AB]\b)(?=\s+is\b))"
)
REF = _REF.format(n="")
REF2 = _REF.format(n="2")
_DEGREE = (
    r"(?:(?:clearly|slightly|much|significantly|far|marginally|somewhat|definitely|substantially|considerably|"
    r"a\s+bit|a\s+little|noticeably|vastly|certainly|generally|overall|the|still|indeed|evidently|obviously|way|"
    r"a\s+lot|by\s+far|arguably|just|only|overwhelmingly|a\s+tad|measurably|markedly|actually|really|truly|"
    r"in\s+fact|ultimately|honestly|simply|also|even|probably|likely|now|thus|therefore|hence|so|indeed)\s+)*"
)
_STRONG = re.compile(
    r"\b(?:significantly|much|far|substantially|vastly|considerably|clearly|way|a\s+lot|overwhelmingly)\b", re.I
)
_BETTER = (
    r"(?P<better>better|superior|preferred|preferable|stronger|the\s+(?:better|best|preferred|stronger|superior|"
    r"winner)(?:\s+(?:one|response|answer|choice|option|of\s+the\s+two))?)"
)
_WORSE = r"(?P<worse>worse|inferior|weaker|the\s+(?:worse|weaker)(?:\s+(?:one|response|answer))?)"
_ASPECT_MORE = (
    r"(?P<more>more|less)\s+(?:accurate|helpful|detailed|complete|correct|relevant|precise|informative|"
    r"comprehensive|faithful|concise|thorough|grounded|specific|fluent|coherent|readable|clear|natural|engaging)"
    r"|(?P<closer>closer)\b"  # "Neither is correct, but Response 1 is closer"
)
# "The second response, while shorter, is more accurate": a concession set off between the name and its verb.
# So is a note in brackets: "Response 1 (2 sentences) is better".
_SET_OFF = (
    r"(?:\s*,\s*(?:while|although|though|despite|albeit|even\s+if|whereas)\b[^,.;!?]{1,60},|\s*\([^()\n]{1,40}\))?"
)
_COMPARE = re.compile(
    REF + _SET_OFF + r"\s+(?:is|was|remains|'s|stands\s+out\s+as|seems|appears)\s+" + _DEGREE
    + r"(?:" + _BETTER + r"|" + _WORSE + r"|" + _ASPECT_MORE + r")(?P<after>\s+(?:overall|at|in|for|regarding|"
    r"when|with\s+respect|about|on)\b)?",
    re.I,
)  # fmt: skip
_VERB = re.compile(
    r"\b(?:i\s+)?(?:would\s+)?(?:prefer|choose|pick|select|favou?r|recommend|go\s+with)\s+" + REF
    + r"|" + REF2 + r"\s+(?:outperforms|wins|beats|is\s+preferred|edges\s+out|surpasses|excels)\b",
    re.I,
)  # fmt: skip
# "Response 2 performs better", "Response 1 does a worse job": how a response did, said with a verb.
_DOES = re.compile(
    REF + r"\s+(?:performs|performed|does|did|fares|fared|works|worked)\s+" + _DEGREE
    + r"(?:a\s+)?(?:(?P<better>better)|(?P<worse>worse))(?:\s+job)?(?P<after>\s+(?:at|in|on|when|regarding|for)\b)?",
    re.I,
)  # fmt: skip
# "I would rate Response 1 as better", "I consider the second response to be superior".
_RATE_AS = re.compile(
    r"\b(?:rate|rank|consider|find|judge|deem|regard|see)\s+" + REF + r"\s+(?:as\s+|to\s+be\s+)?" + _DEGREE
    + r"(?:better|superior|stronger|preferable|the\s+(?:better|stronger|superior|winner)"
    r"(?:\s+(?:one|response|answer|choice|option))?)\b",
    re.I,
)  # fmt: skip
# A sentence that is only a comparison of the two letters: "A > B", "Verdict: 2 > 1", "[B > A]".
_BARE_SYMBOLS = re.compile(
    r"(?:(?:final\s+)?(?:verdict|answer|result|ranking|judge?ment|preference|decision|comparison)\s*[:=-]?\s*)?"
    r"[\[(]?\s*(?P<left>[AB12])\s*(?P<op>>>|>|<<|<|=)\s*(?P<right>[AB12])\s*[\])]?\s*\.?",
    re.I,
)
# A label that opens its sentence, its value after a colon or "is": "Preferred: B", "Chosen: Response 2",
# "Better: Response A", Prometheus's "[RESULT] B". The value ends there: "Preferred: 2 dogs" is no choice. "Answer"
# is no such label: "The answer is B." is as often the answer to the question the responses were given.
_OPENING_LABEL = re.compile(
    r"^\W{0,4}(?:the\s+)?(?:final\s+)?(?:preferred|chosen|selected|better|best|pick|selection)"
    r"(?:\s+(?:one|choice))?\s*(?:[:=]|\bis\b)\s*(?:\[\s*)?(?:" + REF + r"(?!\s*(?:is|was)\b)"
    r"|\[?\s*(?P<code>[12AB])\s*\]?(?=\s*(?:$|[.,;!)]))|(?P<tie>tie|draw|neither|equal)(?=\s*(?:$|[.,;!)])))"
    r"|\[RESULT\]\s*[:=-]?\s*(?P<result>[AB])\b",
    re.I,
)  # fmt: skip
# "..., making it the better response", "so it is better": "it" is the response named last before it.
_IT_BETTER = re.compile(
    r"\b(?:making|makes|make|so|thus|therefore|and)\s+it\s+(?:is\s+)?" + _DEGREE
    + r"(?:better|superior|preferable|stronger|the\s+(?:better|stronger|preferred|superior)"
    r"(?:\s+(?:one|response|answer|choice|option))?)\b",
    re.I,
)  # fmt: skip
_NAMED = re.compile(REF, re.I)
# "The first response is not as good as the second": the other one is better.
_NOT_AS_GOOD = re.compile(
    REF + r"\s+(?:is|was)\s+not\s+as\s+(?:good|strong|accurate|helpful|useful|correct|complete)\s+as\s+" + REF2,
    re.I,
)
# Per-response scores ("Response A: 8/10", "Response 2 score: 6"): when nothing else is said, the higher one wins.
_SCORED = re.compile(
    REF + r"(?P<label>\s+(?:score|rating|overall))?\s*[:=-]\s*(?P<num>\d{1,3}(?:\.\d+)?)\s*"
    r"(?:/\s*(?P<top>\d{1,3}))?(?=\s*(?:$|[.,;)]))",
    re.I,
)
_FOR_REASONS = re.compile(r"\s*(?:the\s+following|these|several|many|a\s+few|two|three|some)\s+reasons", re.I)
# Scores labelled with the response they are for: "Score for Response 1: 7/10", '"score_B": 8'.
_SCORE_FOR = re.compile(
    r"\b(?:score|rating)s?\s*(?:for|of)?\s*(?:" + REF + r"|(?P<letter>\b[AB12]\b))\s*[:=-]\s*"
    r"(?P<num>\d{1,3}(?:\.\d+)?)\s*(?:/\s*(?P<top>\d{1,3}))?(?=\s*(?:$|[.,;)]))",
    re.I,
)
# "Response B > Response A", "Answer 1 >> Answer 2": a comparison written as symbols.
_SYMBOLS = re.compile(REF + r"\s*(?P<op>>>|>|<<|<|=)\s*" + REF2, re.I)
_TIE_WORDS = r"(?:tie|tied|draw|equal|equally\s+good|neither|both|none|same|a\s*=\s*b|c)"
_VALUE = r"(?:" + REF + r"|\[?\s*(?P<code>[12AB])\s*\]?(?!\w)(?!\s*[<>=])|(?P<tie>" + _TIE_WORDS + r"))"
_LABELLED = re.compile(
    r"\b(?:(?:the\s+)?(?:better|best|preferred|winning|stronger)\s+(?:" + _NOUN + r"|one)|(?:final\s+)?verdict|"
    r"decision|(?:final\s+)?choice|winner|preference|final\s+answer|conclusion|judge?ment)"
    r"(?:\s+is)?\s*(?::|=|-|\bis\b)?\s*(?:\[\s*)?" + _VALUE,
    re.I,
)
_FIVE_WAY = re.compile(r"\[\[\s*(?P<code>A\s*>>\s*B|B\s*>>\s*A|[AB]\s*[<>=]\s*[AB])\s*\]\]")
# A label followed by its meaning, as the instructions list them: the critic copying its prompt, not judging.
_DEFINITION = re.compile(
    r"^\W{0,4}(?:assistant\s+[AB]\s+is\s+(?:significantly|slightly)\s+better|tie,\s+relatively)", re.I
)
_LETTER = re.compile(r"\[\[\s*(?P<code>A|B|C|tie)\s*\]\]", re.I)
_FIVE_WAY_VALUES = {
    "A>>B": ("A", True),
    "A>B": ("A", False),
    "B<A": ("A", False),
    "A=B": ("tie", False),
    "B>A": ("B", False),
    "A<B": ("B", False),
    "B>>A": ("B", True),
}
_TIE = re.compile(
    r"\b(?:both|the\s+two)(?:\s+(?:responses|answers|assistants|outputs|ones|captions|descriptions))?\s+(?:are|were)\s+"
    r"(?:(?:about|roughly|almost|essentially|more\s+or\s+less)\s+)?(?P<how>equally|similarly|comparably|equal|"
    r"comparable|equivalent|on\s+par|of\s+(?:similar|equal|the\s+same)\s+quality|about\s+the\s+same|tied|"
    r"the\s+same)(?:\s+(?P<what>\w+))?"
    r"|\bequally\s+(?P<what2>\w+)"
    r"|\b(?:it'?s|it\s+is|this\s+is|that\s+is|result\s+is)\s+(?:a\s+)?(?:tie|draw)\b"
    r"|\bneither\s+(?:" + _NOUN + r"|one)?\s*is\s+(?:clearly\s+|significantly\s+|really\s+)?better"
    r"|\bno\s+(?:clear\s+)?winner\b|\bthey\s+are\s+(?:equally\s+good|equal|comparable|equivalent|on\s+par|tied)"
    r"|\b(?:is|are)\s+(?:just\s+|about\s+|roughly\s+|every\s+bit\s+)?as\s+(?:good|strong|helpful|accurate|useful)\s+as\b"
    r"|\bno\s+(?:significant\s+|real\s+|meaningful\s+|notable\s+|clear\s+|major\s+|discernible\s+)?difference\s+"
    r"(?:in\s+(?:overall\s+)?quality\s+)?between\s+(?:the\s+two|them|both|the\s+(?:responses|answers|outputs))",
    re.I,
)
# An answer that is nothing but the choice ("A", "[B].", "Response 2", "... the dining table. A"); C is
# MLLM-as-a-Judge's tie, as in [[C]].
_ALONE = re.compile(
    r"[\[(]?\s*(?:(?P<code>[ABC12])|(?P<tie>tie)|" + REF + r")\s*[\])]?\s*\.?",
    re.I,
)
_TIE_OVERALL = {"good", "bad", "well", "poor", "strong", "weak", "helpful", "valid", "matched", "preferable", "fine"}


def _side(m: re.Match[str], n: str = "") -> str | None:
    word = m[f"ord{n}"] or m[f"id{n}"] or m[f"bare{n}"]
    if word is None:
        return None
    word = word.lower()
    if word in ("latter",):
        return "B"
    return "A" if word in _FIRST else "B"


# Said under a condition that follows it: "Response 1 is better if the user wants detail" (not "..., if only just").
_AFTER_HYPOTHETICAL = re.compile(
    r"^\s*(?:would|could|might)\b"
    r"|^\s*,?\s*(?:if|unless|provided|as\s+long\s+as)\b(?!\s+(?:only|anything|not|slightly|marginally|barely|at\s+all))",
    re.I,
)


def _drop(s: Sentence, start: int, end: int) -> bool:
    text = s.text
    if negated(text, start) or hypothetical(text, start) or conceded(text, start):
        return True
    return retracted(text, end) or bool(_AFTER_HYPOTHETICAL.match(text[end:]))


def _alone(s: Sentence) -> Statement | None:
    m = _ALONE.fullmatch(s.text)
    if m is None:
        return None
    code = (m["code"] or "").upper()
    value = "tie" if m["tie"] or code == "C" else {"A": "A", "1": "A", "B": "B", "2": "B"}.get(code) or _side(m)
    return Statement(3, s.offset + m.start(), s.line, m.group(0), value) if value else None


def _statements(cleaned: str, five_way: bool, alone: Sentence | None = None) -> list[Statement]:
    found: list[Statement] = []
    if alone is not None and (answer := _alone(alone)) is not None:
        found.append(answer)

    def add(s: Sentence, m: re.Match[str], tier: int, value: str, strong: bool = False) -> None:
        found.append(Statement(tier, s.offset + m.start(), s.line, m.group(0), value, strong and value != "tie"))

    copied_lines: set[int] = set()  # lines of a label list copied from the instructions: nothing on them counts
    listed = len({c["code"].replace(" ", "") for c in _FIVE_WAY.finditer(cleaned)}) >= 3
    for s in sentences(cleaned):
        codes = {c["code"].replace(" ", "") for c in _FIVE_WAY.finditer(s.text)}
        copied_list = len(codes) >= 3
        for m in last_matches(_FIVE_WAY, s.text):
            code = m["code"].replace(" ", "")
            copied = copied_list or bool(listed and _DEFINITION.match(s.text[m.end() : m.end() + 80]))
            if copied:
                copied_lines.add(s.line)
            if code in _FIVE_WAY_VALUES and not copied and not _drop(s, m.start(), m.end()):
                value, strong = _FIVE_WAY_VALUES[code]
                add(s, m, 3, value, strong)
        for m in last_matches(_LETTER, s.text):
            if not _drop(s, m.start(), m.end()):
                code = m["code"].upper()
                add(s, m, 3, {"A": "A", "B": "B"}.get(code, "tie"))
        for m in last_matches(_LABELLED, s.text):
            if _drop(s, m.start(), m.end()):
                continue
            if m["tie"]:
                add(s, m, 3, "tie")
            elif m["code"]:
                add(s, m, 3, "A" if m["code"].upper() in ("1", "A") else "B")
            elif side := _side(m):
                add(s, m, 3, side)
        for m in last_matches(_SYMBOLS, s.text):
            left, right = _side(m), _side(m, "2")
            if left is None or right is None or left == right or _drop(s, m.start(), m.end()):
                continue
            op = m["op"]
            value = "tie" if op == "=" else (left if op.startswith(">") else right)
            add(s, m, 3, value, len(op) == 2)
        for m in last_matches(_COMPARE, s.text):
            if _drop(s, m.start(), m.end()) or (side := _side(m)) is None:
                continue
            after = (m["after"] or "").strip().lower()
            if after == "for" and _FOR_REASONS.match(s.text[m.end() : m.end() + 40]):
                after = ""  # "better for the following reasons" says why, not in what
            if m["more"] or m["closer"]:
                tier = 2 if concluding(s.text, m.start()) else 1
                wins = side if m["closer"] or m["more"].lower() == "more" else _OTHER[side]
            else:
                tier = 1 if after and after != "overall" else 2
                if after == "overall" or (tier == 2 and concluding(s.text, m.start())):
                    tier = 3
                wins = side if m["better"] else _OTHER[side]
            add(s, m, tier, wins, bool(_STRONG.search(m.group(0))))
        for m in last_matches(_NOT_AS_GOOD, s.text):
            other = _side(m, "2")
            if other is not None and _side(m) != other and not _drop(s, m.start(), m.end()):
                add(s, m, 2, other)
        for m in last_matches(_IT_BETTER, s.text):
            named = [n for n in _NAMED.finditer(before(s.text, m.start())) if _side(n) is not None]
            if named and not _drop(s, m.start(), m.end()):
                side = _side(named[-1])
                assert side is not None
                add(s, m, 3 if concluding(s.text, m.start()) else 2, side)
        for m in last_matches(_VERB, s.text):
            side = _side(m) or _side(m, "2")
            if side is None or _drop(s, m.start(), m.end()):
                continue
            add(s, m, 3 if concluding(s.text, m.start()) else 2, side)
        _said_otherwise(s, add)
        for m in last_matches(_TIE, s.text):
            if _drop(s, m.start(), m.end()):
                continue
            what = (m["what"] or m["what2"] or "").lower()
            overall = not (m["how"] or m["what2"]) or what in _TIE_OVERALL or not what
            tier = (3 if concluding(s.text, m.start()) else 2) if overall else 1
            add(s, m, tier, "tie")
    found += _from_scores(cleaned)
    return [st for st in found if st.line not in copied_lines]


def _said_otherwise(s: Sentence, add: Callable[[Sentence, re.Match[str], int, str], None]) -> None:
    """The less common shapes of a preference: a verb ("Response 2 performs better"), a rating ("I would rate
    Response 1 as better"), a label that opens the sentence ("Preferred: B") and the letters alone ("A > B")."""
    for m in last_matches(_DOES, s.text):
        if (side := _side(m)) is None or _drop(s, m.start(), m.end()):
            continue
        wins = side if m["better"] else _OTHER[side]
        add(s, m, 1 if m["after"] else 3 if concluding(s.text, m.start()) else 2, wins)
    for m in last_matches(_RATE_AS, s.text):
        if (side := _side(m)) is not None and not _drop(s, m.start(), m.end()):
            add(s, m, 3 if concluding(s.text, m.start()) else 2, side)
    for m in last_matches(_OPENING_LABEL, s.text):
        if _drop(s, m.start(), m.end()):
            continue
        code = (m["code"] or m["result"] or "").upper()
        value = "tie" if m["tie"] else _letter_side(code) if code else _side(m)
        if value is not None:
            add(s, m, 3, value)
    if (bare := _BARE_SYMBOLS.fullmatch(s.text)) is not None:
        left, right = _letter_side(bare["left"]), _letter_side(bare["right"])
        if left != right:
            add(s, bare, 3, "tie" if bare["op"] == "=" else left if bare["op"].startswith(">") else right)


_OTHER = {"A": "B", "B": "A"}  # the response that wins when the one named is worse


def _letter_side(code: str) -> str:
    """The response a letter or digit names: A or 1 the first, B or 2 the second."""
    return "A" if code.upper() in ("A", "1") else "B"


def _from_scores(cleaned: str) -> list[Statement]:
    """One weakest statement from per-response scores: the last score of each response, on one scale."""
    last: dict[str, tuple[float, str | None, re.Match[str], Sentence]] = {}
    for s in sentences(cleaned):
        for m in last_matches(_SCORED, s.text):
            side = _side(m)
            if side is not None and (m["top"] or m["label"]) and not _drop(s, m.start(), m.end()):
                last[side] = (float(m["num"]), m["top"], m, s)
        for m in last_matches(_SCORE_FOR, s.text):
            side = _letter_side(m["letter"]) if m["letter"] else _side(m)
            if side is not None and not _drop(s, m.start(), m.end()):
                last[side] = (float(m["num"]), m["top"], m, s)
    if set(last) != {"A", "B"} or last["A"][1] != last["B"][1]:
        return []
    (a, _, first, _), (b, _, m, s) = last["A"], last["B"]
    value = "A" if a > b else "B" if b > a else "tie"
    return [Statement(1, s.offset + m.start(), s.line, f"{first.group(0)} against {m.group(0)}", value)]


def read_preference(text: str, *, five_way: bool = False, allow_tie: bool = True) -> Reading:
    """Read a pairwise verdict out of free text (the module docstring says how). With five_way, the verdict keeps
    WildVision's strength (A>>B is strong); without allow_tie, a tie is unreadable."""
    answer, problem = answer_after_reasoning(text)
    if problem:
        return unreadable(problem)
    cleaned = clean(answer)
    statements = _statements(cleaned, five_way, lone_answer(answer, cleaned))
    winner, why = decide(statements, what="preference", text=cleaned)
    if winner is None:
        if not statements and (hedge := HEDGE.search(cleaned)):
            return unreadable(f"only a hedge ({quote(hedge.group(0))}), no preference is stated")
        return unreadable(why)
    assert isinstance(winner.value, str)
    split = [st for st in statements if st.tier == 1 and st.value != winner.value]
    if winner.tier == 1 and split:
        return unreadable(
            f"only comparisons on single aspects, which disagree: {quote(split[-1].quote)} and {quote(winner.quote)}"
        )
    if winner.value == "tie" and not allow_tie:
        return unreadable(f"{quote(winner.quote)} is a tie, which this profile does not allow")
    verdict = Verdict(preference=winner.value, strong=five_way and winner.strong, justification=text)
    return Reading(verdict, f"read {quote(winner.quote)} as {verdict.preference}")
