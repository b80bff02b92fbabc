"""The JSON formats: llava-json (a JSON list and an images/ folder) and dpo-jsonl (JSON lines of DPO pairs)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from annotations.services.exports.files import IMAGES_DIR
from annotations.services.exports.images import _Images
from annotations.services.exports.rows import ExportRow
from annotations.services.exports.writing import _Writer
from critic_worker.profiles import get_profile

_JSON = json.JSONEncoder(ensure_ascii=False)  # made once: json.dumps with options builds an encoder per call
_str = json.encoder.encode_basestring  # a JSON string, as that encoder writes one (non-ASCII kept)


def _json_image(value: str | list[str]) -> str:
    return _str(value) if isinstance(value, str) else "[" + ", ".join(_str(v) for v in value) + "]"


class _JsonListWriter(_Writer):
    """llava-json: a JSON list written one row at a time; images referenced relative to images/."""

    def __init__(self, path: Path, folder: Path, source: str, *, keep_ids: bool = False) -> None:
        super().__init__(path, folder, source, keep_ids=keep_ids)
        self.file = path.open("w", encoding="utf-8")
        self.file.write("[")
        self.images = _Images(folder / IMAGES_DIR)
        self.sep = "\n"

    def _put(self, data: dict[str, Any]) -> None:
        self.file.write(self.sep + _JSON.encode(data))
        self.sep = ",\n"

    def write(self, row: ExportRow) -> None:
        if self.keep_ids:
            self.ids.add(row.id)
        # The JSON of {"id", "image", "conversations"} put together from its escaped strings: the same text
        # json.dumps writes, without building the dicts and an encoder for every row.
        self.file.write(
            f'{self.sep}{{"id": {_str(row.id)}, "image": {_json_image(self.images.name(row))}, "conversations": '
            f'[{{"from": "human", "value": {_str(row.human_turn)}}}, '
            f'{{"from": "gpt", "value": {_str(row.gpt_turn)}}}]}}'
        )
        self.sep = ",\n"

    def write_theirs(self, data: Any) -> None:
        self._put(data)

    def close(self) -> None:
        self.file.write("\n]\n")
        self.file.close()


class _DpoWriter(_JsonListWriter):
    """dpo-jsonl: one {id, image, prompt, chosen, rejected, answer} per line (LLaVA-NeXT's DPO data rows)."""

    def __init__(self, path: Path, folder: Path, source: str, *, keep_ids: bool = False) -> None:
        _Writer.__init__(self, path, folder, source, keep_ids=keep_ids)
        self.file = path.open("w", encoding="utf-8")
        self.images = _Images(folder / IMAGES_DIR)

    def _put(self, data: dict[str, Any]) -> None:
        self.file.write(_JSON.encode(data) + "\n")

    def write(self, row: ExportRow) -> None:
        if self.keep_ids:
            self.ids.add(row.id)
        answer = get_profile(row.profile).verdict_line(row.verdict)
        self.file.write(
            f'{{"id": {_str(row.id)}, "image": {_json_image(self.images.name(row))}, "prompt": {_str(row.human_turn)}, '
            f'"chosen": {_str(row.gpt_turn)}, "rejected": {_str(row.critic_text)}, "answer": {_str(answer)}}}\n'
        )

    def close(self) -> None:
        self.file.close()
