"""JSONL and CSV: one item per line or row, in the contract's field names (README, "Importing data"), with human
labels and other judges' verdicts collected elsewhere."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from annotations.importers.rows import JudgeEntry, Label, Row

TEXT_FIELDS = ("id", "question", "reference", "split", "profile", "reviewer", "model", "model_a", "model_b")
KNOWN_FIELDS = {
    *TEXT_FIELDS,
    "image",
    "images",
    "response",
    "response_a",
    "response_b",
    "human_score",
    "human_preference",
    "human_labels",
    "judge",
    "judge_score",
    "judge_preference",
    "judge_output",
    "judge_confidence",
    "judges",
    "context",
}
CONTEXT_ROLES = ("user", "assistant", "context")
JUDGE_NAME_CHARS = 200  # CriticCheckpoint.name's length
JUDGE_KEYS = ("judge", "judge_score", "judge_preference", "judge_output", "judge_confidence")
MAX_IMAGES = 16  # images of one item
DELIMITERS = ",;\t|"
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "vertical bar"}


def _text(row: Row, data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        row.problem(key, f"must be text, not {type(value).__name__}")
        return ""
    return str(value)


def _number(row: Row, key: str, value: Any) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        row.problem(key, "must be a number, not true/false")
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        row.problem(key, f"must be a number, not {value!r}")
        return None


def _json_list(row: Row, data: dict[str, Any], key: str) -> Any:
    """The field's list; a CSV cell holds it as JSON text."""
    value = data.get(key)
    if isinstance(value, str) and value.strip():
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            row.problem(key, "is not a JSON list")
            return None
    return value


NUMBER_FIELDS = ("human_score", "judge_score", "judge_confidence")
_DECIMAL_COMMA = re.compile(r"\s*-?\d+,\d+\s*")


def from_fields(number: int, data: Any, *, decimal_comma: bool = False) -> Row:
    """A row from a JSON object or a CSV row's cells (names as in the contract). ``decimal_comma``: the numbers'
    cells may write 72,5 for 72.5 (a spreadsheet saved with semicolons or tabs, in a decimal-comma locale)."""
    row = Row(number=number)
    if not isinstance(data, dict):
        row.problem("line", f"must be a JSON object, not {type(data).__name__}")
        return row
    row.unknown_fields = [str(key) for key in data if key not in KNOWN_FIELDS]
    if decimal_comma:
        for key in NUMBER_FIELDS:
            value = data.get(key)
            if isinstance(value, str) and _DECIMAL_COMMA.fullmatch(value):
                data = {**data, key: value.replace(",", ".")}
    row.external_id = _text(row, data, "id")
    _images(row, data)
    row.question = _text(row, data, "question")
    row.reference = _text(row, data, "reference")
    row.split = _text(row, data, "split")
    row.profile = _text(row, data, "profile")
    single = any(data.get(k) not in (None, "") for k in ("response", "model"))
    paired = any(data.get(k) not in (None, "") for k in ("response_a", "response_b", "model_a", "model_b"))
    if single and paired:
        row.problem("response", "give response (one) or response_a and response_b (two), not both")
    if single:
        row.response_a, row.model_a = _text(row, data, "response"), _text(row, data, "model")
    else:
        row.response_a, row.model_a = _text(row, data, "response_a"), _text(row, data, "model_a")
        row.response_b, row.model_b = _text(row, data, "response_b"), _text(row, data, "model_b")
        if paired and not row.response_b:
            row.problem("response_b", "response_a needs response_b (or use response for one response)")
    _context(row, data)
    _labels(row, data)
    _judges(row, data)
    return row


def _images(row: Row, data: dict[str, Any]) -> None:
    """`image`: one path or data: URI, or a list of them (an item with several images, in order); or `images`, such
    a list. A CSV cell holds a list as JSON text (["a.png", "b.png"])."""
    one, many = data.get("image"), data.get("images")
    if one not in (None, "") and many not in (None, "", []):
        row.problem("images", "give image (one, or a list) or images (a list), not both")
        return
    key = "image" if many in (None, "", []) else "images"
    value = one if key == "image" else many
    if isinstance(value, str) and (key == "images" or (value.strip().startswith("[") and value.strip().endswith("]"))):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:  # a file named like "[scan] 1.png]" is a path; images must be a list
            if key == "images":
                row.problem("images", "is not a JSON list")
                return
    if value is None or value == "":
        return
    if key == "images" and not isinstance(value, list):
        row.problem("images", 'must be a list of paths or data: URIs, e.g. ["a.png", "b.png"]')
        return
    refs = value if isinstance(value, list) else [value]
    if not refs:
        row.problem(key, "is an empty list: give at least one image")
        return
    if len(refs) > MAX_IMAGES:
        row.problem(key, f"lists {len(refs)} images; an item holds at most {MAX_IMAGES}")
        return
    for n, ref in enumerate(refs, start=1):
        if not isinstance(ref, str) or not ref.strip():
            where = f" (image {n})" if len(refs) > 1 else ""
            row.problem(key, f"must be a path or a data: URI{where}, not {ref!r}"[:200])
            return
    row.image_ref, row.more_image_refs = refs[0], list(refs[1:])


def _context(row: Row, data: dict[str, Any]) -> None:
    """`context`: the conversation's earlier turns, a list of {"role": "user" | "assistant" | "context", "text"}."""
    turns = _json_list(row, data, "context")
    problems = context_problems(turns)
    for problem in problems:
        row.problem("context", problem)
    if turns and not problems:
        row.context.extend({"role": turn["role"], "text": turn["text"]} for turn in turns)


def context_problems(turns: Any) -> list[str]:
    """What is wrong with `turns` as an item's earlier conversation: a list (or nothing) of {"role": one of
    CONTEXT_ROLES, "text": non-empty text}, as the prompts and pages read it. Imports and the admin's item form."""
    if turns in (None, "", []):
        return []
    if not isinstance(turns, list):
        return ['must be a list of {"role": "user" | "assistant", "text": ...}']
    problems = []
    for i, turn in enumerate(turns, start=1):
        if not isinstance(turn, dict) or set(turn) != {"role", "text"}:
            problems.append(f'turn {i} must be {{"role": ..., "text": ...}}')
        elif turn["role"] not in CONTEXT_ROLES:
            problems.append(f"turn {i}: role must be one of {', '.join(CONTEXT_ROLES)}, not {turn['role']!r}")
        elif not isinstance(turn["text"], str) or not turn["text"].strip():
            problems.append(f"turn {i}: text must be non-empty text")
    return problems


def _labels(row: Row, data: dict[str, Any]) -> None:
    one = {k: data.get(k) for k in ("human_score", "human_preference", "reviewer") if data.get(k) not in (None, "")}
    many = _json_list(row, data, "human_labels")
    if one and many:
        row.problem("human_labels", "give human_labels, or human_score/human_preference with reviewer, not both")
        return
    entries: list[Any] = []
    if one:
        if "reviewer" not in one:
            row.problem("reviewer", "a human label needs the reviewer who gave it")
            return
        entries = [
            {"reviewer": one["reviewer"], "score": one.get("human_score"), "preference": one.get("human_preference")}
        ]
    elif many not in (None, ""):
        if not isinstance(many, list):
            row.problem("human_labels", "must be a list of {reviewer, score} or {reviewer, preference}")
            return
        entries = many
    for i, entry in enumerate(entries):
        where = "human_labels" if many else "human_preference" if "human_preference" in one else "human_score"
        if not isinstance(entry, dict) or not str(entry.get("reviewer") or "").strip():
            row.problem(where, f"label {i + 1} needs a reviewer")
            continue
        preference = entry.get("preference")
        if preference is not None and not isinstance(preference, str):
            row.problem(where, f"label {i + 1}: preference must be A, B or tie")
            continue
        problems = len(row.problems)
        score = _number(row, where, entry.get("score"))
        if len(row.problems) > problems:
            continue  # said once: the score is not a number
        row.labels.append(
            Label(reviewer=str(entry["reviewer"]).strip(), score=score, preference=preference or None, where=where)
        )


def _judges(row: Row, data: dict[str, Any]) -> None:
    """`judge` with `judge_score` | `judge_preference` | `judge_output` (+ `judge_confidence`), or `judges`: a list
    of objects with those keys (or the short `name`, `score`, `preference`, `output`, `confidence`)."""
    one = {k: data[k] for k in JUDGE_KEYS if data.get(k) not in (None, "")}
    many = _json_list(row, data, "judges")
    if one and many not in (None, "", []):
        row.problem("judges", "give judges, or judge with judge_score/judge_preference/judge_output, not both")
        return
    if one:
        _judge(row, one, where="judge")
        return
    if many in (None, ""):
        return
    if not isinstance(many, list):
        row.problem("judges", "must be a list of {judge, judge_score | judge_preference | judge_output}")
        return
    for i, entry in enumerate(many, start=1):
        where = f"judges[{i}]"
        if not isinstance(entry, dict):
            row.problem(where, f"must be an object, not {type(entry).__name__}")
            continue
        short = {k: entry[k] for k in ("name", "score", "preference", "output", "confidence") if k in entry}
        long = {k: entry[k] for k in JUDGE_KEYS if k in entry}
        unknown = sorted(set(entry) - set(short) - set(long))
        if unknown:
            row.problem(where, f"unknown keys {unknown}")
            continue
        if short and long:
            row.problem(where, "use judge/judge_score/... or name/score/..., not both")
            continue
        long = long or {("judge" if k == "name" else f"judge_{k}"): v for k, v in short.items()}
        if not str(long.get("judge") or "").strip():
            row.problem(where, "needs the judge's name")
            continue
        _judge(row, long, where=where)
    names = [j.name for j in row.judges if j.name]
    if len(set(names)) < len(names):
        row.problem("judges", "one judge gives an item one verdict: a judge is named twice")


def _judge(row: Row, entry: dict[str, Any], *, where: str) -> None:
    prefix = "judge_"
    name = entry.get("judge")
    if name is not None and not isinstance(name, str):
        row.problem(where, "the judge's name must be text")
        return
    name = (name or "").strip()
    if len(name) > JUDGE_NAME_CHARS:
        row.problem(where, f"the judge's name is longer than {JUDGE_NAME_CHARS} characters")
        return
    given = [k for k in ("score", "preference", "output") if entry.get(prefix + k) not in (None, "")]
    if len(given) != 1:
        row.problem(
            where,
            f"a judge's verdict needs one of {prefix}score, {prefix}preference or {prefix}output"
            + (f", not {' and '.join(prefix + k for k in given)}" if given else ""),
        )
        return
    preference, output = entry.get(prefix + "preference"), entry.get(prefix + "output")
    if preference is not None and not isinstance(preference, str):
        row.problem(where, "the judge's preference must be A, B or tie")
        return
    if output is not None and not isinstance(output, str):
        row.problem(where, "the judge's output must be text")
        return
    judge = JudgeEntry(
        name=name,
        score=_number(row, where, entry.get(prefix + "score")),
        preference=preference or None,
        output=output or "",
        confidence=_number(row, where, entry.get(prefix + "confidence")),
        where=where,
    )
    if judge.confidence is not None and not 0 <= judge.confidence <= 1:
        row.problem(where, f"judge_confidence {judge.confidence:g} is not a probability between 0 and 1")
        return
    row.judges.append(judge)


def read_jsonl(path: Path) -> Iterator[Row]:
    with path.open("rb") as f:
        for number, raw in enumerate(f, start=1):
            if number == 1 and raw.startswith(b"\xef\xbb\xbf"):  # a UTF-8 byte-order mark, as Windows tools write
                raw = raw[3:]
            if not raw.strip():
                continue
            try:
                data = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                row = Row(number=number)
                row.problem("line", f"is not valid JSON ({exc.msg if hasattr(exc, 'msg') else exc})")
                yield row
                continue
            yield from_fields(number, data)


def csv_delimiter(header: str, *, suffix: str = "") -> tuple[str, str]:
    """The header line's delimiter among , ; tab and | (csv.Sniffer restricted to them), and "" or the reason it
    cannot be told. A header that splits into no known field name by any of them is refused with that reason."""
    if suffix == ".tsv":
        return "\t", ""
    try:
        delimiter = csv.Sniffer().sniff(header, delimiters=DELIMITERS).delimiter
    except csv.Error:
        delimiter = ","
    names = {name.strip().lower() for name in next(csv.reader([header], delimiter=delimiter), [])}
    if names & KNOWN_FIELDS:
        return delimiter, ""
    for other in DELIMITERS:
        if {name.strip().lower() for name in header.split(other)} & KNOWN_FIELDS:
            return other, ""
    return delimiter, (
        f"the header line {header[:120]!r} names none of the import fields (id, image, question, response, ...) "
        f"whichever delimiter separates it ({', '.join(_DELIMITER_NAMES.values())}); is this the right file?"
    )


def _column(name: str) -> str:
    """A header cell as a field name: spreadsheets capitalise headers ("ID", "Question"), the fields are lower case."""
    name = name.strip()
    return name.lower() if name.lower() in KNOWN_FIELDS else name


def csv_encoding(path: Path) -> str:
    """UTF-8 (with or without a byte-order mark), or UTF-16 when the file starts with its mark (Excel's "Unicode
    text" export)."""
    with path.open("rb") as f:
        start = f.read(2)
    return "utf-16" if start in (b"\xff\xfe", b"\xfe\xff") else "utf-8-sig"


def read_csv(path: Path) -> Iterator[Row]:
    encoding = csv_encoding(path)
    with path.open(newline="", encoding=encoding, errors="strict") as f:
        try:
            header = f.readline()
        except UnicodeDecodeError as exc:
            row = Row(number=1)
            row.problem("file", f"is not {'UTF-16' if encoding == 'utf-16' else 'UTF-8'} text ({exc.reason})")
            yield row
            return
        if not header.strip():
            return
        delimiter, problem = csv_delimiter(header.rstrip("\r\n"), suffix=path.suffix.lower())
        if problem:
            row = Row(number=1)
            row.problem("header", problem)
            yield row
            return
        f.seek(0)  # the codec skips the byte-order mark again
        reader = csv.DictReader(f, delimiter=delimiter)
        try:
            for data in reader:
                if None in data:  # more cells than the header has names
                    row = Row(number=reader.line_num)
                    row.problem(
                        "line",
                        f"has {len(reader.fieldnames or []) + len(data[None])} cells, the header "
                        f"names {len(reader.fieldnames or [])} (delimiter: {_DELIMITER_NAMES[delimiter]})",
                    )
                    yield row
                    continue
                cells = {_column(k): v for k, v in data.items() if k and k.strip()}
                yield from_fields(reader.line_num, cells, decimal_comma=delimiter in ";\t")
        except (csv.Error, UnicodeDecodeError) as exc:
            row = Row(number=reader.line_num)
            row.problem("line", f"cannot be read as CSV ({exc})")
            yield row


def count_csv_rows(path: Path) -> int:
    """How many rows a CSV file holds, as read_csv reads them (a quoted cell may span lines; UTF-16 is decoded)."""
    with path.open(newline="", encoding=csv_encoding(path), errors="replace") as f:
        header = f.readline()
        if not header.strip():
            return 0
        delimiter, _ = csv_delimiter(header.rstrip("\r\n"), suffix=path.suffix.lower())
        return sum(1 for cells in csv.reader(f, delimiter=delimiter) if cells)
