"""Merging with an existing training file of the same format: checked when the export is asked for, its rows
appended after ours when it runs (ours win on an id)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from django.core.exceptions import ValidationError

from annotations.services.exports.files import _sha256
from annotations.services.exports.writing import _Writer


def _check_merge_file(path: str, fmt: str) -> str:
    if not path:
        return ""
    file = Path(path).expanduser()
    if not file.is_file():
        raise ValidationError({"merge_with": [f"{path} is not a file."]})
    if not os.access(file, os.R_OK):
        raise ValidationError({"merge_with": [f"{path} cannot be read."]})
    try:
        if fmt == "llava-critic-parquet":
            names = set(pq.ParquetFile(file).schema_arrow.names)
            if not {"id", "conversations", "image"} <= names:
                raise ValidationError({"merge_with": [f"{path} lacks the llava-critic-113k columns."]})
        else:
            with file.open("rb") as f:
                head = f.read(64).lstrip()
            expected = b"[" if fmt == "llava-json" else b"{"
            if head and not head.startswith(expected):
                kind = "a JSON list" if fmt == "llava-json" else "JSON lines"
                raise ValidationError({"merge_with": [f"{path} is not {kind} ({fmt})."]})
    except (pa.ArrowException, OSError) as exc:
        raise ValidationError({"merge_with": [f"{path} is not a {fmt} file ({exc})."]}) from None
    return str(file.resolve())


def _their_rows(path: Path, fmt: str) -> Iterator[dict[str, Any]]:
    """The rows of an existing training file of the same format, streamed."""
    if fmt == "llava-critic-parquet":
        parquet = pq.ParquetFile(path)
        columns = [c for c in ("id", "source", "conversations", "image") if c in parquet.schema_arrow.names]
        for batch in parquet.iter_batches(batch_size=256, columns=columns):
            yield from batch.to_pylist()
    elif fmt == "llava-json":
        import ijson

        with path.open("rb") as f:
            yield from ijson.items(f, "item", use_float=True)
    else:
        with path.open("rb") as f:
            for line in f:
                if line.strip():
                    yield json.loads(line)


def _merge(writer: _Writer, path: Path, fmt: str) -> dict[str, Any]:
    """Append the rows of `path` whose ids this export does not have. Ours win: a row we wrote replaces theirs
    with the same id (ours carry the newer human correction); among theirs, the first of an id is kept."""
    seen: set[str] = set()
    kept = replaced = repeated = 0
    for data in _their_rows(path, fmt):
        if not isinstance(data, dict) or not isinstance(data.get("id"), str):
            raise ValueError(f"{path}: every row needs a text id")
        row_id = data["id"]
        if row_id in writer.ids:
            replaced += 1
        elif row_id in seen:
            repeated += 1
        else:
            seen.add(row_id)
            images = getattr(writer, "images", None)
            theirs = data.get("image")
            if images is not None and isinstance(theirs, str | list):  # llava-json, dpo-jsonl: files, not bytes
                for name in [theirs] if isinstance(theirs, str) else theirs:
                    images.adopt(path, str(name))
            writer.write_theirs(data)
            kept += 1
    return {
        "path": str(path),
        "sha256": _sha256(path),
        "policy": "ours win",
        "rows_kept": kept,
        "rows_replaced_by_ours": replaced,
        "duplicate_ids_dropped": repeated,
    }
