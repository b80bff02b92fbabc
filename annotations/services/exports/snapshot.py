"""Writing a snapshot: the rows through the format's writer, the merge, and the manifest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.utils import timezone

from annotations.models import TrainingExport
from annotations.services.exports.files import DATA_FILES, IMAGES_DIR, MANIFEST, _sha256
from annotations.services.exports.json_formats import _DpoWriter, _JsonListWriter
from annotations.services.exports.merge import _merge
from annotations.services.exports.parquet import _ParquetWriter
from annotations.services.exports.rows import Tally, _reviewed_counts, export_rows
from annotations.services.exports.writing import _Writer
from annotations.services.verdict_combine import combine_rule

PROGRESS_EVERY = 5000


WRITERS: dict[str, type[_Writer]] = {
    "llava-critic-parquet": _ParquetWriter,
    "llava-json": _JsonListWriter,
    "dpo-jsonl": _DpoWriter,
}


def _write(export: TrainingExport, folder: Path) -> dict[str, Any]:
    folder.mkdir(parents=True)
    dataset, checkpoint, fmt = export.dataset, export.source_checkpoint, export.format
    if checkpoint is None:
        raise ValueError("the export has no source checkpoint")
    include_agreements = not export.filters.get("only_disagreements", True)
    reviewed = _reviewed_counts(dataset, checkpoint)
    TrainingExport.objects.filter(pk=export.pk).update(items_total=reviewed["candidates"])
    data_path = folder / DATA_FILES[fmt]
    merge_with = export.filters.get("merge_with")
    writer = WRITERS[fmt](data_path, folder, f"critic-desk:{dataset.name}", keep_ids=bool(merge_with))
    tally = Tally()
    rows = export_rows(
        dataset=dataset,
        checkpoint=checkpoint,
        include_agreements=include_agreements,
        dpo=fmt == "dpo-jsonl",
        tally=tally,
        one_image_a_row=fmt == "llava-critic-parquet",
    )
    merged: dict[str, Any] | None = None
    reported = 0
    try:
        for row in rows:
            writer.write(row)
            if tally.items_seen - reported >= PROGRESS_EVERY:  # items_done counts the items looked at
                reported = tally.items_seen
                TrainingExport.objects.filter(pk=export.pk).update(items_done=reported)
        if merge_with:
            merged = _merge(writer, Path(merge_with), fmt)
    finally:
        writer.close()
    left_out = {"gold_split": reviewed["gold_split"], "no_critic_verdict": reviewed["no_critic_verdict"]}
    left_out |= tally.left_out
    files = {DATA_FILES[fmt]: {"sha256": _sha256(data_path), "bytes": data_path.stat().st_size}}
    images = folder / IMAGES_DIR
    manifest: dict[str, Any] = {
        "export": export.number,
        "dataset": dataset.name,
        "format": fmt,
        "filters": export.filters,
        "source_checkpoint": {"name": checkpoint.name, "model": checkpoint.model, "revision": checkpoint.revision},
        "data_file": DATA_FILES[fmt],
        "image_folder": IMAGES_DIR if images.exists() else None,
        "counts": {
            "items_examined": tally.items_seen,
            "rows": tally.rows + (merged["rows_kept"] if merged else 0),
            "ours": tally.rows,
            "rows_with_several_images": tally.several_images,
            "per_profile": dict(sorted(tally.per_profile.items())),
            "disagreements": dict(sorted(tally.disagreements.items())),
            "agreements": dict(sorted(tally.agreements.items())),
            "images": sum(1 for _ in images.iterdir()) if images.exists() else 0,
        },
        "left_out": dict(sorted(left_out.items())),
        "reviewers_combined": combine_rule(threshold=dataset.disagreement_threshold),
        "merged_with": merged,
        "files": files,
        "images_named_by": "the SHA-256 of their bytes" if images.exists() else None,
        "images_are": "each item's normalised rendition (PNG, upright 8-bit RGB on white), as the critic saw it"
        + ("; merged rows keep their file's own images" if merged else ""),
        "created_at": timezone.now().isoformat(),
        "created_by": export.created_by.get_username() if export.created_by else None,
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return manifest
