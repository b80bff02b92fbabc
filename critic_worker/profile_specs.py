"""Profiles a team defines: a plain description (``ProfileSpec``, what the database and the API hold) checked and
turned into the same ``Profile`` the built-in families are, so that no reader, renderer or engine knows where a
profile came from. Django-free.

A spec's verdict reader is either a built-in family's (``reader`` = "pointwise", "caption", "llava-bench",
"pairwise" or "wildvision": the family's careful reader and verdict line, on the spec's own range) or ``"pattern"``:
``verdict_pattern``, a regular expression with a named group ``score`` (pointwise) or ``preference`` (pairwise),
whose last match in the text is the verdict, ``value_map`` mapping what the preference group matched to A / B / tie,
and ``verdict_line``, the canonical line with ``{score}`` or ``{preference}`` that renders a verdict (for a
preference, the first value-map key that maps to it). Every check below must pass before a spec is saved, including
that every verdict the profile can give is rendered and read back as itself.

A team's pattern must not hang a web or critic worker (a pattern like ``(a+)+$`` backtracks for hours on 40
characters in Python's ``re``). Patterns run on the ``regex`` module, whose matcher is ``re``'s syntax with a time
limit: one reading stops after READ_TIME_LIMIT_S and the text is unreadable, saying so. When saved, a pattern must
also read a few texts made to make it backtrack (runs of each character it or its verdict lines use, its verdict lines
run together) within that limit, so that the usual culprits (nested or overlapping repeats) are refused with a clear
error rather than found one slow verdict at a time.
"""

from __future__ import annotations

import math
import re
import string
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import regex

from critic_worker.profiles import FAMILIES, PREFERENCES, SYSTEM_PROMPT, Kind, Profile, Reading, Verdict, format_score
from critic_worker.verdicts import unreadable

MAX_VERDICTS = 1001  # the engine scores every verdict line: 0-100 in halves is 201, 0-1000 in ones the most
PLACEHOLDERS = {"question", "response", "response_a", "response_b", "reference"}
NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,31}$")  # use fullmatch: '$' alone also matches before a final newline
# How much text a profile may hold (the database's columns, and what a prompt or a reading can afford): a rubric of a
# few pages, placeholders filled a few times each (every one adds up to an item's 100,000 characters to the prompt).
MAX_CHARS = {"title": 200, "template": 20_000, "system": 20_000, "verdict_pattern": 1_000, "verdict_line": 400}
MAX_PLACEHOLDERS = 10
MAX_VALUE_MAP = 50  # entries; each matched value at most MAX_VALUE_CHARS
MAX_VALUE_CHARS = 100
MAX_SCORE = 1e9  # |score_min|, |score_max|, score_step
# The regex module compiles a counted repeat by writing its item out that many times: a{10000000} takes seconds and
# gigabytes before any text is read (Python's re does not). The bounds of a pattern's counted repeats multiply to at
# most this; \d{1,3}(?:\.\d{1,2})? gives 6.
MAX_REPEATS = 10_000
COUNTED_REPEAT = re.compile(r"\{(\d*),?(\d*)\}")
READ_TIME_LIMIT_S = 0.25  # one reading of one text by a pattern; a linear pattern reads 100,000 characters in ~1 ms
CHECK_TIME_LIMIT_S = 2.0  # when a spec is saved: reading its verdict lines back, then its probes, each all together
PROBE_CHARS = 10_000  # the length of each text made to make a pattern backtrack: a long critic output


class ProfileError(ValueError):
    """A spec that cannot be a profile: ``errors`` maps each field to what is wrong with it."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class ProfileSpec:
    name: str
    kind: str
    template: str
    title: str = ""
    system: str = SYSTEM_PROMPT
    score_min: float | None = None
    score_max: float | None = None
    score_step: float | None = None
    allow_tie: bool = True
    reader: str = "pattern"
    verdict_pattern: str = ""
    value_map: dict[str, str] = field(default_factory=dict)
    verdict_line: str = ""


def template_placeholders(template: str) -> list[str]:
    """The placeholders a template uses, in order, each time it uses one; ValueError for a malformed one (unbalanced
    braces, '{x!r}', '{x:>3}', '{x.y}', '{0}')."""
    found = []
    for _, name, spec, conversion in string.Formatter().parse(template):
        if name is None:
            continue
        if not name.isidentifier():
            stem = re.match(r"[A-Za-z_]\w*", name)
            if stem is None:
                raise ValueError(f"{{{name}}} is not a placeholder")
            name = stem.group(0)
            spec = spec or name  # '{question.attr}', '{question[0]}': write {question}
        if spec or conversion:
            raise ValueError(f"write the placeholder as {{{name}}}, nothing more")
        found.append(name)
    return found


def template_fields(template: str) -> set[str]:
    """The placeholders a template uses; ValueError for a malformed one (unbalanced braces, '{x!r}', '{x:>3}')."""
    return set(template_placeholders(template))


def _check_text(spec: ProfileSpec, errors: dict[str, str]) -> None:
    """Each text within its size, none holding a NUL character (which no column can store), a template's
    placeholders and a value map's entries within their numbers."""
    for name, limit in MAX_CHARS.items():
        value = getattr(spec, name)
        if not isinstance(value, str):
            errors[name] = "must be text"
        elif len(value) > limit:
            errors[name] = f"at most {limit:,} characters (this has {len(value):,})"
        elif "\x00" in value:
            errors[name] = "must not contain a NUL character"
    if "template" not in errors:
        try:
            placeholders = template_placeholders(spec.template)
        except ValueError:
            placeholders = []  # malformed: _check_template says how
        if len(placeholders) > MAX_PLACEHOLDERS:
            errors["template"] = f"at most {MAX_PLACEHOLDERS} placeholders in all (this has {len(placeholders)})"
    keys = list(spec.value_map)
    if len(keys) > MAX_VALUE_MAP:
        errors["value_map"] = f"at most {MAX_VALUE_MAP} values (this has {len(keys)})"
    elif any(not key.strip() or len(key) > MAX_VALUE_CHARS or "\x00" in key for key in keys):
        errors["value_map"] = f"each matched value is 1-{MAX_VALUE_CHARS} characters (not blank, no NUL)"


def _check_template(spec: ProfileSpec, errors: dict[str, str]) -> None:
    if "template" in errors:
        return
    try:
        placeholders = template_placeholders(spec.template)
    except ValueError as exc:
        errors["template"] = f"{exc} (a literal brace is written {{{{ or }}}})"
        return
    used = set(placeholders)
    unknown = used - PLACEHOLDERS
    if unknown:
        errors["template"] = (
            f"unknown placeholder(s) {', '.join(sorted(unknown))}; use {', '.join(sorted(PLACEHOLDERS))}"
        )
    elif "question" not in used:
        errors["template"] = "the template must contain {question}"
    elif spec.kind == "pointwise" and not used & {"response", "response_a"}:
        errors["template"] = "a pointwise template must contain {response}"
    elif spec.kind == "pointwise" and "response_b" in used:
        errors["template"] = "a pointwise template judges one response: no {response_b}"
    elif spec.kind == "pairwise" and not {"response_a", "response_b"} <= used:
        errors["template"] = "a pairwise template must contain {response_a} and {response_b}"


def _check_scale(spec: ProfileSpec, errors: dict[str, str]) -> None:
    if spec.kind == "pairwise":
        if spec.score_min is not None or spec.score_max is not None or spec.score_step is not None:
            errors["score_min"] = "a pairwise profile has no score range"
        return
    lo, hi, step = spec.score_min, spec.score_max, spec.score_step
    if lo is None or hi is None or step is None:
        errors["score_min"] = "a pointwise profile needs score_min, score_max and score_step"
        return
    for name, value in (("score_min", lo), ("score_max", hi), ("score_step", step)):
        if not math.isfinite(value) or abs(value) > MAX_SCORE:
            errors[name] = f"{name} must be a number from {-MAX_SCORE:,.0f} to {MAX_SCORE:,.0f}"
    if errors.keys() & {"score_min", "score_max", "score_step"}:
        return
    if not lo < hi:
        errors["score_max"] = f"score_max ({format_score(hi)}) must be above score_min ({format_score(lo)})"
    elif step <= 0 or abs((hi - lo) / step - round((hi - lo) / step)) > 1e-9:
        errors["score_step"] = f"score_step must be positive and divide {format_score(hi - lo)} into whole steps"
    elif round((hi - lo) / step) + 1 > MAX_VERDICTS:
        errors["score_step"] = f"at most {MAX_VERDICTS} possible scores (the critic's confidence scores each)"
    elif any(round(v, 2) != v for v in (lo, hi, step)):
        errors["score_step"] = "scores carry at most two decimals"


def counted_repeats(pattern: str) -> int:
    """The product of the largest bound of every counted repeat ({m}, {m,}, {,n}, {m,n}) written in a pattern, each
    brace pair counted whether it is a repeat or a literal (escaped, in a class): an upper bound of what compiling
    writes out."""
    product = 1
    for low, high in COUNTED_REPEAT.findall(pattern):
        product *= max(int(low or 0), int(high or 0), 1)
        if product > MAX_REPEATS:
            break
    return product


def _check_pattern(spec: ProfileSpec, errors: dict[str, str]) -> Any:
    group = "score" if spec.kind == "pointwise" else "preference"
    if "verdict_pattern" in errors:
        return None
    if counted_repeats(spec.verdict_pattern) > MAX_REPEATS:
        errors["verdict_pattern"] = (
            f"its counted repeats ({{n}}, {{m,n}}) multiply to more than {MAX_REPEATS:,}: write a smaller count, "
            "or + and * for 'any number'"
        )
        return None
    try:
        pattern = regex.compile(spec.verdict_pattern, regex.V0)
    except (regex.error, ValueError) as exc:
        errors["verdict_pattern"] = f"not a regular expression: {exc}"
        return None
    if group not in pattern.groupindex:
        errors["verdict_pattern"] = f"a {spec.kind} pattern needs a named group (?P<{group}>...)"
        return None
    if f"{{{group}}}" not in spec.verdict_line:
        errors["verdict_line"] = f"the verdict line must contain {{{group}}} (how a verdict is written back)"
    if spec.kind == "pairwise":
        bad = {k: v for k, v in spec.value_map.items() if v not in PREFERENCES}
        given = set(spec.value_map.values())
        if not spec.value_map or bad:
            errors["value_map"] = f"map each matched value to A, B or tie{f' (not {bad})' if bad else ''}"
        elif not {"A", "B"} <= given or (spec.allow_tie and "tie" not in given):
            need = "A, B and tie" if spec.allow_tie else "A and B"
            errors["value_map"] = f"the value map must give {need}"
        elif "tie" in given and not spec.allow_tie:
            errors["value_map"] = "the value map gives a tie, but ties are not allowed"
    return pattern


def too_slow(text: str) -> str:
    """The reason a pattern's reading was stopped at the time limit."""
    return (
        f"the profile's verdict pattern was stopped after {READ_TIME_LIMIT_S:g} s on this text "
        f"({len(text):,} characters): it backtracks too much; write it without nested or overlapping repeats"
    )


def _pattern_reader(pattern: Any, value_map: dict[str, str]) -> Any:
    folded = {k.strip().casefold(): v for k, v in value_map.items()}

    def read(profile: Profile, text: str) -> Reading:
        try:  # the last match is the critic's conclusion
            last = deque(pattern.finditer(text, timeout=READ_TIME_LIMIT_S), maxlen=1)
        except TimeoutError:
            return unreadable(too_slow(text))
        if not last:
            return unreadable("the profile's verdict pattern does not match the text")
        match = last[0]
        if profile.is_pointwise:
            try:
                score = float(match["score"])
            except (TypeError, ValueError):
                return unreadable(f"the pattern matched {match.group(0)!r}, whose score is not a number")
            if not profile.in_range(score):
                return unreadable(
                    f"score {format_score(score)} is outside the profile's range "
                    f"{format_score(profile.score_min or 0)}-{format_score(profile.score_max or 0)}"
                )
            return Reading(Verdict(score=score, justification=text), f"the pattern matched {match.group(0)!r}")
        raw = (match["preference"] or "").strip().casefold()
        if raw not in folded:
            return unreadable(f"{match['preference']!r} is not in the profile's value map")
        verdict = Verdict(preference=folded[raw], justification=text)
        return Reading(verdict, f"the pattern matched {match.group(0)!r}")

    return read


def _pattern_line(value_map: dict[str, str], template: str) -> Any:
    first: dict[str, str] = {}
    for key, value in value_map.items():
        first.setdefault(value, key)

    def line(profile: Profile, v: Verdict) -> str:
        if v.score is not None:
            return template.replace("{score}", format_score(v.score))
        return template.replace("{preference}", first.get(v.preference or "", ""))

    return line


def _backtracking_probes(spec: ProfileSpec, lines: list[str]) -> list[str]:
    """Texts that make a backtracking pattern slow and a linear one no slower: a run of each character the pattern or
    its verdict lines use, and the verdict lines run together, each ended by a character none of them uses."""
    end = "\x00"
    chars = sorted(set("".join(lines) + spec.verdict_pattern + " a1.,\n"))
    probes = [char * PROBE_CHARS + end for char in chars]
    probes += [line * (PROBE_CHARS // max(1, len(line))) + end for line in lines]
    return [*probes, " ".join(["word"] * (PROBE_CHARS // 5)) + end]


def _check_reading(spec: ProfileSpec, profile: Profile, pattern: Any) -> None:
    """Every verdict line reads back as its verdict, all within CHECK_TIME_LIMIT_S, and a pattern (when the spec has
    one) reads each backtracking probe within READ_TIME_LIMIT_S, all within CHECK_TIME_LIMIT_S."""
    field_name = "verdict_pattern" if pattern is not None else "reader"
    deadline = time.monotonic() + CHECK_TIME_LIMIT_S
    verdicts = profile.verdicts()
    for v in verdicts:
        line = profile.verdict_line(v)
        reading = profile.read_free_text(line)
        if reading.verdict is None or (reading.verdict.score, reading.verdict.preference) != (v.score, v.preference):
            raise ProfileError(
                {field_name: f"the verdict {v.label} is written {line!r}, which reads back as: {reading.reason}"}
            )
        if time.monotonic() > deadline:
            raise ProfileError(
                {field_name: f"reading its {len(verdicts)} verdict lines back took over {CHECK_TIME_LIMIT_S:g} s"}
            )
    if pattern is None:
        return
    deadline = time.monotonic() + CHECK_TIME_LIMIT_S
    for probe in _backtracking_probes(spec, [profile.verdict_line(v) for v in (verdicts[0], verdicts[-1])]):
        try:
            deque(pattern.finditer(probe, timeout=READ_TIME_LIMIT_S), maxlen=0)
            if time.monotonic() > deadline:
                raise TimeoutError
        except TimeoutError:
            shown = probe[:12].replace("\x00", "")
            raise ProfileError(
                {
                    field_name: f"it backtracks too much: reading {PROBE_CHARS:,}-character texts such as {shown!r}… "
                    f"took it over {READ_TIME_LIMIT_S:g} s for one, or {CHECK_TIME_LIMIT_S:g} s for all (a pattern "
                    "that does not backtrack takes milliseconds). Write it without nested or overlapping repeats such "
                    "as (a+)+, (a|a)* or (\\w+\\s?)+"
                }
            ) from None


def profile_from_spec(spec: ProfileSpec, *, being_saved: bool = True) -> Profile:
    """The Profile a spec describes. ProfileError (field -> message) when it cannot be one.

    ``being_saved``: also hold its texts to their sizes (MAX_CHARS, ...) and read every verdict line back, and a
    pattern's backtracking probes, within their time limits. A stored profile, checked when it was saved, is rebuilt
    without (False): a reading's time depends on the machine's load, and a profile stored under other limits must
    not fail to load. The checks that guard the process itself (a pattern's counted repeats) run either way."""
    errors: dict[str, str] = {}
    if not isinstance(spec.name, str) or not NAME.fullmatch(spec.name):
        errors["name"] = "1-32 characters: lower-case letters, digits, '.', '_' or '-', starting with a letter or digit"
    if spec.kind not in ("pointwise", "pairwise"):
        errors["kind"] = "kind is pointwise or pairwise"
        raise ProfileError(errors)
    kind: Kind = "pointwise" if spec.kind == "pointwise" else "pairwise"
    if being_saved:
        _check_text(spec, errors)
    _check_template(spec, errors)
    _check_scale(spec, errors)
    family = FAMILIES.get(spec.reader)
    pattern = None
    if spec.reader == "pattern":
        pattern = _check_pattern(spec, errors)
    elif family is None:
        errors["reader"] = f"reader is 'pattern' or a built-in family: {', '.join(FAMILIES)}"
    elif family.kind != kind:
        errors["reader"] = f"the {spec.reader!r} reader reads {family.kind} verdicts"
    if errors:
        raise ProfileError(errors)
    common: dict[str, Any] = {
        "name": spec.name,
        "kind": kind,
        "title": spec.title or spec.name,
        "template": spec.template,
        "score_min": spec.score_min,
        "score_max": spec.score_max,
        "score_step": spec.score_step,
        "needs_reference": "reference" in template_fields(spec.template),
        "system": spec.system,
        "allow_tie": spec.allow_tie,
        "builtin": False,
    }
    if family is not None:
        profile = Profile(
            **common,
            verdict_first=family.verdict_first,
            five_way=family.five_way,
            _read=family.read,
            _verdict_line=family.verdict_line,
        )
    else:
        assert pattern is not None
        profile = Profile(
            **common,
            _read=_pattern_reader(pattern, spec.value_map),
            _verdict_line=_pattern_line(spec.value_map, spec.verdict_line),
            value_map=tuple(spec.value_map.items()),
        )
    # The reader itself (not only the canonical shortcut) must read every verdict line: real outputs go through it.
    if being_saved:
        _check_reading(spec, profile, pattern)
    return profile
