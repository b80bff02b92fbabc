"""Import formats, each read as a stream of rows (memory stays flat however long the file is).

JSONL and CSV use the field names of the contract (docs: README, "Import formats"); LLaVA JSON and the
llava-critic-113k parquet are read back into items from their conversations."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ijson
import pyarrow.parquet as pq

FORMATS = ("jsonl", "csv", "llava-json", "llava-critic-parquet")
TEXT_FIELDS = ("id", "question", "reference", "split", "profile", "reviewer", "model", "model_a", "model_b")


@dataclass
class Label:
    reviewer: str
    score: float | None = None
    preference: str | None = None


@dataclass
class Row:
    """One item as read from a file, before validation. `number` is the line or row the user sees."""

    number: int
    external_id: str = ""
    image_ref: str = ""  # a relative path, or a data: URI
    image_bytes: bytes | None = None  # embedded in the file (parquet)
    question: str = ""
    response_a: str = ""
    response_b: str = ""
    model_a: str = ""
    model_b: str = ""
    reference: str = ""
    split: str = ""
    profile: str = ""
    labels: list[Label] = field(default_factory=list)
    judge_text: str = ""  # an external judge's evaluation (the gpt turn of a critic training row)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (field, message) found while reading

    def problem(self, field_name: str, message: str) -> None:
        self.problems.append((field_name, message))


def detect_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in {".jsonl", ".ndjson"}:
        return "jsonl"
    if suffix in {".csv", ".tsv"}:
        return "csv"
    if suffix == ".parquet":
        return "llava-critic-parquet"
    if suffix == ".json":
        return "llava-json"
    raise ValueError(f"cannot tell the format of {path.name} from its name: give --format ({', '.join(FORMATS)})")


def read_rows(path: Path, fmt: str) -> Iterator[Row]:
    readers = {"jsonl": _jsonl, "csv": _csv, "llava-json": _llava_json, "llava-critic-parquet": _parquet}
    return readers[fmt](path)


def count_rows(path: Path, fmt: str) -> int:
    """How many rows the file holds (for progress), cheaply; 0 when it cannot tell (the reader says why)."""
    try:
        if fmt == "llava-critic-parquet":
            return int(pq.ParquetFile(path).metadata.num_rows)
        if fmt == "llava-json":
            with path.open("rb") as f:
                return sum(1 for _ in ijson.items(f, "item.id"))
        with path.open("rb") as f:
            lines = sum(1 for line in f if line.strip())
        return max(0, lines - 1) if fmt == "csv" else lines
    except Exception:
        return 0


# -- the contract's own fields (JSONL, CSV) ---------------------------------------------------------------------


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


def _from_fields(number: int, data: Any) -> Row:
    row = Row(number=number)
    if not isinstance(data, dict):
        row.problem("line", f"must be a JSON object, not {type(data).__name__}")
        return row
    row.external_id = _text(row, data, "id")
    row.image_ref = _text(row, data, "image")
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
    _labels(row, data)
    return row


def _labels(row: Row, data: dict[str, Any]) -> None:
    one = {k: data.get(k) for k in ("human_score", "human_preference", "reviewer") if data.get(k) not in (None, "")}
    many = data.get("human_labels")
    if isinstance(many, str) and many.strip():  # a CSV cell holds the list as JSON
        try:
            many = json.loads(many)
        except json.JSONDecodeError:
            row.problem("human_labels", "is not a JSON list")
            return
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
        where = "human_labels" if many else "human_score"
        if not isinstance(entry, dict) or not str(entry.get("reviewer") or "").strip():
            row.problem(where, f"label {i + 1} needs a reviewer")
            continue
        preference = entry.get("preference")
        if preference is not None and not isinstance(preference, str):
            row.problem(where, f"label {i + 1}: preference must be A, B or tie")
            continue
        row.labels.append(
            Label(
                reviewer=str(entry["reviewer"]).strip(),
                score=_number(row, where, entry.get("score")),
                preference=preference or None,
            )
        )


def _jsonl(path: Path) -> Iterator[Row]:
    with path.open("rb") as f:
        for number, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            try:
                data = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                row = Row(number=number)
                row.problem("line", f"is not valid JSON ({exc.msg if hasattr(exc, 'msg') else exc})")
                yield row
                continue
            yield _from_fields(number, data)


def _csv(path: Path) -> Iterator[Row]:
    with path.open(newline="", encoding="utf-8-sig", errors="strict") as f:
        try:
            sample = f.read(4096)
        except UnicodeDecodeError as exc:
            row = Row(number=1)
            row.problem("file", f"is not UTF-8 text ({exc.reason})")
            yield row
            return
        f.seek(0)
        delimiter = "\t" if path.suffix.lower() == ".tsv" or sample.count("\t") > sample.count(",") else ","
        reader = csv.DictReader(f, delimiter=delimiter)
        try:
            for data in reader:
                if None in data:  # more cells than the header has names
                    row = Row(number=reader.line_num)
                    row.problem(
                        "line",
                        f"has {len(reader.fieldnames or []) + len(data[None])} cells, the header "
                        f"names {len(reader.fieldnames or [])}",
                    )
                    yield row
                    continue
                yield _from_fields(reader.line_num, {k: v for k, v in data.items() if k})
        except (csv.Error, UnicodeDecodeError) as exc:
            row = Row(number=reader.line_num)
            row.problem("line", f"cannot be read as CSV ({exc})")
            yield row


# -- conversations: LLaVA JSON and the llava-critic-113k parquet ------------------------------------------------

_WILDVISION = re.compile(
    r"<\|User Prompt\|>\s*(?P<question>.*?)\s*<\|The Start of Assistant A's Answer\|>\s*(?P<a>.*?)\s*"
    r"<\|The End of Assistant A's Answer\|>\s*<\|The Start of Assistant B's Answer\|>\s*(?P<b>.*?)\s*"
    r"<\|The End of Assistant B's Answer\|>",
    re.S,
)
_LLAVA_BENCH = re.compile(
    r"\[Question\]\s*(?P<question>.*?)\s*\[Assistant 1\]\s*(?P<reference>.*?)\s*\[End of Assistant 1\]\s*"
    r"\[Assistant 2\]\s*(?P<a>.*?)\s*\[End of Assistant 2\]",
    re.S,
)
_QUESTION_LABELS = r"Question|Instruction|User question|Query"
_FIRST_LABELS = r"The first response|Response 1|Response A|The LMM response|The response|Answer|Description"
_SECOND_LABELS = r"The second response|Response 2|Response B"
_LABELLED = re.compile(rf"(?:^|\n)\s*(?P<label>{_QUESTION_LABELS}|{_FIRST_LABELS}|{_SECOND_LABELS})\s*:\s*", re.I)
_END = re.compile(r"\n\s*ASSISTANT:\s*$", re.S)


def _unbracket(text: str) -> str:
    text = text.strip()
    return text[1:-1].strip() if text.startswith("[") and text.endswith("]") else text


def parse_critic_prompt(text: str) -> dict[str, str] | None:
    """Question, response(s) and reference read back from a critic prompt (the human turn); None if unknown."""
    text = text.replace("<image>", "").strip()
    if match := _WILDVISION.search(text):
        return {"question": match["question"], "a": match["a"], "b": match["b"], "family": "wildvision"}
    if match := _LLAVA_BENCH.search(text):
        return {
            "question": match["question"],
            "a": match["a"],
            "reference": match["reference"],
            "family": "llava-bench",
        }
    text = _END.sub("", text)
    marks = list(_LABELLED.finditer(text))
    found: dict[str, str] = {}
    for i, mark in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        value = _unbracket(text[mark.end() : end])
        label = mark["label"].lower()
        key = (
            "question"
            if re.fullmatch(_QUESTION_LABELS, label, re.I)
            else "b"
            if re.fullmatch(_SECOND_LABELS, label, re.I)
            else "a"
        )
        found.setdefault(key, value)
    if "question" not in found or "a" not in found:
        return None
    return found


def profile_for_family(family: str, *, pairwise: bool) -> str:
    """Our profile for a llava-critic-113k prompt family (the id's `__` suffix) or a recognised prompt shape."""
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


def _conversation_row(number: int, row_id: str, turns: Any, row: Row) -> Row:
    row.external_id = row_id
    if not isinstance(turns, list) or len(turns) < 2:
        row.problem("conversations", "needs a human turn and a gpt turn")
        return row
    human = next((t.get("value", "") for t in turns if isinstance(t, dict) and t.get("from") == "human"), None)
    gpt = next((t.get("value", "") for t in turns if isinstance(t, dict) and t.get("from") == "gpt"), None)
    if not isinstance(human, str) or not isinstance(gpt, str):
        row.problem("conversations", "needs a human turn and a gpt turn with text")
        return row
    critic = parse_critic_prompt(human)
    if critic is None:
        # A plain LLaVA conversation: the question, and the gpt turn as the response to judge.
        row.question, row.response_a = human.replace("<image>", "").strip(), gpt.strip()
        return row
    pairwise = "b" in critic
    family = row_id.split("__")[-1] if "__" in row_id else critic.get("family", "")
    row.profile = profile_for_family(family or critic.get("family", ""), pairwise=pairwise)
    if critic.get("family") and row.profile != critic["family"] and critic["family"] in {"wildvision", "llava-bench"}:
        row.profile = critic["family"]
    row.question, row.response_a = critic["question"], critic["a"]
    row.response_b, row.reference = critic.get("b", ""), critic.get("reference", "")
    row.judge_text = gpt
    return row


def _llava_json(path: Path) -> Iterator[Row]:
    with path.open("rb") as f:
        try:
            for number, data in enumerate(ijson.items(f, "item", use_float=True), start=1):
                row = Row(number=number)
                if not isinstance(data, dict):
                    row.problem("row", "must be an object with id, image and conversations")
                    yield row
                    continue
                row.image_ref = str(data.get("image") or "")
                if not row.image_ref:
                    row.problem("image", "is required")
                row.model_a = str(data.get("model") or "")
                yield _conversation_row(number, str(data.get("id") or ""), data.get("conversations"), row)
        except ijson.JSONError as exc:
            row = Row(number=0)
            row.problem("file", f"is not a JSON list of rows ({exc})")
            yield row


PARQUET_COLUMNS = {"id", "conversations", "image"}


def _parquet(path: Path) -> Iterator[Row]:
    try:
        parquet = pq.ParquetFile(path)
    except Exception as exc:
        row = Row(number=0)
        row.problem("file", f"is not a readable parquet file ({exc})")
        yield row
        return
    missing = PARQUET_COLUMNS - set(parquet.schema_arrow.names)
    if missing:
        row = Row(number=0)
        row.problem("file", f"lacks the llava-critic-113k columns {sorted(missing)}")
        yield row
        return
    number = 0
    for batch in parquet.iter_batches(batch_size=512, columns=sorted(PARQUET_COLUMNS)):
        for data in batch.to_pylist():
            number += 1
            row = Row(number=number)
            image = data.get("image")
            if isinstance(image, dict) and image.get("bytes"):
                row.image_bytes = bytes(image["bytes"])
            elif isinstance(image, dict) and image.get("path"):
                row.image_ref = str(image["path"])
            else:
                row.problem("image", "has neither bytes nor a path")
            yield _conversation_row(number, str(data.get("id") or ""), data.get("conversations"), row)
