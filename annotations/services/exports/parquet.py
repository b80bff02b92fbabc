"""llava-critic-parquet: the llava-critic-113k features, images embedded, written in row groups."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from django.conf import settings

from annotations.services.exports.images import image_name
from annotations.services.exports.rows import ExportRow
from annotations.services.exports.writing import _conversations, _Writer

ROW_GROUP_ROWS = 1000  # parquet rows buffered before a row group is written
ROW_GROUP_BYTES = 32 * 1024 * 1024  # ... or image bytes, whichever comes first

RECENT_IMAGES, RECENT_IMAGE_BYTES = 64, 256 * 1024  # at most 16 MiB of image bytes kept for reuse


# llava-critic-113k's features, as the HF `datasets` library stores them in parquet.
PARQUET_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string()),
        pa.field("source", pa.string()),
        pa.field("conversations", pa.list_(pa.struct([pa.field("from", pa.string()), pa.field("value", pa.string())]))),
        pa.field("image", pa.struct([pa.field("bytes", pa.binary()), pa.field("path", pa.string())])),
    ]
)
HF_FEATURES = {
    "id": {"dtype": "string", "_type": "Value"},
    "source": {"dtype": "string", "_type": "Value"},
    "conversations": [{"from": {"dtype": "string", "_type": "Value"}, "value": {"dtype": "string", "_type": "Value"}}],
    "image": {"_type": "Image"},
}
PARQUET_SCHEMA = PARQUET_SCHEMA.with_metadata({"huggingface": json.dumps({"info": {"features": HF_FEATURES}})})


class _ParquetWriter(_Writer):
    """llava-critic-parquet: the 113k features, images embedded, written in row groups."""

    def __init__(self, path: Path, folder: Path, source: str, *, keep_ids: bool = False) -> None:
        super().__init__(path, folder, source, keep_ids=keep_ids)
        self.writer = pq.ParquetWriter(path, PARQUET_SCHEMA)
        self.recent: dict[str, bytes] = {}  # small images read lately: many rows share an image
        self._reset()

    def _image_bytes(self, row: ExportRow) -> bytes:
        data = self.recent.get(row.sha256)
        if data is None:
            data = (Path(settings.MEDIA_ROOT) / row.image_file).read_bytes()
            if len(data) <= RECENT_IMAGE_BYTES:
                if len(self.recent) >= RECENT_IMAGES:
                    del self.recent[next(iter(self.recent))]
                self.recent[row.sha256] = data
        return data

    def _reset(self) -> None:
        self.columns: dict[str, list[Any]] = {"id": [], "source": [], "conversations": [], "image": []}
        self.pending_bytes = 0

    def _flush(self) -> None:
        if self.columns["id"]:
            self.writer.write_table(pa.Table.from_pydict(self.columns, schema=PARQUET_SCHEMA))
        self._reset()

    def _put(self, data: dict[str, Any]) -> None:
        for key in self.columns:
            self.columns[key].append(data.get(key))
        image = data.get("image") or {}
        self.pending_bytes += len(image.get("bytes") or b"")
        if len(self.columns["id"]) >= ROW_GROUP_ROWS or self.pending_bytes >= ROW_GROUP_BYTES:
            self._flush()

    def write(self, row: ExportRow) -> None:
        if self.keep_ids:
            self.ids.add(row.id)
        self._put(
            {
                "id": row.id,
                "source": self.source,
                "conversations": _conversations(row),
                "image": {"bytes": self._image_bytes(row), "path": image_name(row)},
            }
        )

    def write_theirs(self, data: Any) -> None:
        self._put(data)

    def close(self) -> None:
        self._flush()
        self.writer.close()
