"""What every format's writer does: write our rows, write a merged file's rows, close."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from annotations.services.exports.rows import ExportRow


def _conversations(row: ExportRow) -> list[dict[str, str]]:
    return [{"from": "human", "value": row.human_turn}, {"from": "gpt", "value": row.gpt_turn}]


class _Writer:
    def __init__(self, path: Path, folder: Path, source: str, *, keep_ids: bool = False) -> None:
        self.path, self.folder, self.source = path, folder, source
        self.keep_ids = keep_ids  # the ids written, for a merge (the only state that grows with the rows)
        self.ids: set[str] = set()

    def write(self, row: ExportRow) -> None:
        raise NotImplementedError

    def write_theirs(self, data: Any) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError
