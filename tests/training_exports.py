"""Small training exports written the way the exporter writes them: the human turn is the profile's own prompt,
the gpt turn the profile's renderer applied to the corrected verdict, ids end in `__<family>`. Used until the
real exporter is merged (the integrator adds an end-to-end test with it)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from critic_worker.profiles import PromptInput, Verdict, get_profile


@dataclass(frozen=True)
class Row:
    id: str  # without the family suffix
    image: bytes
    profile: str
    prompt: PromptInput
    verdict: Verdict

    def conversations(self) -> list[dict[str, str]]:
        profile = get_profile(self.profile)
        return [
            {"from": "human", "value": "<image>\n" + profile.prompt(self.prompt)},
            {"from": "gpt", "value": profile.render(self.verdict)},
        ]

    @property
    def row_id(self) -> str:
        return f"{self.id}__{self.profile}"


def write_llava_json(folder: Path, rows: list[Row]) -> Path:
    """A JSON list plus an images/ folder beside it."""
    (folder / "images").mkdir(parents=True, exist_ok=True)
    out: list[dict[str, Any]] = []
    for row in rows:
        name = f"images/{row.id}.png"
        (folder / name).write_bytes(row.image)
        out.append({"id": row.row_id, "image": name, "conversations": row.conversations()})
    path = folder / "train.json"
    path.write_text(json.dumps(out))
    return path


PARQUET_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("source", pa.string()),
        ("conversations", pa.list_(pa.struct([("from", pa.string()), ("value", pa.string())]))),
        ("image", pa.struct([("bytes", pa.binary()), ("path", pa.string())])),
    ]
)


def write_parquet(path: Path, rows: list[Row]) -> Path:
    """The llava-critic-113k features, the image bytes embedded."""
    table = pa.Table.from_pylist(
        [
            {
                "id": row.row_id,
                "source": "critic-desk",
                "conversations": row.conversations(),
                "image": {"bytes": row.image, "path": f"{row.id}.png"},
            }
            for row in rows
        ],
        schema=PARQUET_SCHEMA,
    )
    pq.write_table(table, path)
    return path


def item_rows(corrections: list[tuple[Any, Verdict]]) -> list[Row]:
    """Rows for (item, corrected verdict) pairs made with tests/factories.py."""
    return [
        Row(
            id=item.external_id,
            image=Path(item.image.file.path).read_bytes(),
            profile=item.profile,
            prompt=PromptInput(item.question, item.response_a, item.response_b, item.reference),
            verdict=verdict,
        )
        for item, verdict in corrections
    ]


def export_for(dataset: Any, corrections: list[tuple[Any, Verdict]], folder: Path, *, fmt: str = "llava-json") -> Any:
    """A TrainingExport row, numbered after the last one, whose file holds these corrected verdicts."""
    from annotations.models import TrainingExport

    folder.mkdir(parents=True, exist_ok=True)
    rows = item_rows(corrections)
    path = write_llava_json(folder, rows) if fmt == "llava-json" else write_parquet(folder / "train.parquet", rows)
    last = TrainingExport.objects.order_by("-number").values_list("number", flat=True).first() or 0
    return TrainingExport.objects.create(number=last + 1, dataset=dataset, format=fmt, path=str(path))
