"""Import formats, each read as a stream of rows (memory stays flat however long the file is).

JSONL and CSV use the field names of the contract (fields.py; README, "Importing data"); LLaVA JSON and the
llava-critic-113k parquet are read back into items from their conversations (conversations.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import ijson
import pyarrow.parquet as pq

from annotations.importers.conversations import read_llava_json, read_parquet
from annotations.importers.critic_prompts import parse_critic_prompt, profile_for_family
from annotations.importers.fields import TEXT_FIELDS, count_csv_rows, read_csv, read_jsonl
from annotations.importers.rows import JudgeEntry, Label, Row

FORMATS = ("jsonl", "csv", "llava-json", "llava-critic-parquet")
__all__ = [
    "FORMATS",
    "TEXT_FIELDS",
    "JudgeEntry",
    "Label",
    "Row",
    "count_rows",
    "detect_format",
    "parse_critic_prompt",
    "profile_for_family",
    "read_rows",
]


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


def read_rows(path: Path, fmt: str, *, whole_prompt: bool = False) -> Iterator[Row]:
    """The file's rows. `whole_prompt`: critic rows whose prompt cannot be split are kept whole, not refused."""
    if fmt == "jsonl":
        return read_jsonl(path)
    if fmt == "csv":
        return read_csv(path)
    if fmt == "llava-json":
        return read_llava_json(path, whole_prompt=whole_prompt)
    return read_parquet(path, whole_prompt=whole_prompt)


def count_rows(path: Path, fmt: str) -> int:
    """How many rows the file holds (for progress), cheaply; 0 when it cannot tell (the reader says why)."""
    try:
        if fmt == "llava-critic-parquet":
            return int(pq.ParquetFile(path).metadata.num_rows)
        if fmt == "llava-json":
            with path.open("rb") as f:
                if f.read(3) != b"\xef\xbb\xbf":
                    f.seek(0)
                return sum(1 for _ in ijson.items(f, "item.id"))
        if fmt == "csv":
            return count_csv_rows(path)
        with path.open("rb") as f:
            return sum(1 for line in f if line.strip())
    except Exception:
        return 0
