"""Files the import tests write: JSONL, parquet in the llava-critic-113k layout, LLaVA JSON, image folders."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from tests.images import png_bytes


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def image_folder(root: Path, n: int) -> Path:
    (root / "imgs").mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (root / "imgs" / f"{i}.png").write_bytes(png_bytes(colour=(i * 20 % 256, 40, 90)))
    return root


def conversation(*turns: str) -> list[dict[str, str]]:
    """Alternating human and gpt turns."""
    return [{"from": "human" if i % 2 == 0 else "gpt", "value": text} for i, text in enumerate(turns)]


def parquet_row(row_id: str, human: str, gpt: str, *, shade: int = 0) -> dict[str, Any]:
    return {
        "id": row_id,
        "source": "test",
        "conversations": conversation(human, gpt),
        "image": {"bytes": png_bytes(colour=(shade, shade, shade)), "path": f"{row_id}.png"},
    }


def write_parquet(path: Path, data: list[dict[str, Any]]) -> Path:
    schema = pa.schema(
        [
            ("id", pa.string()),
            ("source", pa.string()),
            ("conversations", pa.list_(pa.struct([("from", pa.string()), ("value", pa.string())]))),
            ("image", pa.struct([("bytes", pa.binary()), ("path", pa.string())])),
        ]
    )
    pq.write_table(pa.Table.from_pylist(data, schema=schema), path)
    return path


def write_llava_json(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps(rows))
    return path
