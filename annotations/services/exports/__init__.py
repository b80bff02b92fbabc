"""Training exports: what reviewers corrected, written back in the critic's own training formats.

An export is an immutable, numbered snapshot under MEDIA_ROOT/exports/<number>/: the data file, an images/
folder for the formats that reference images, and manifest.json (also kept in TrainingExport.manifest). Rows
are built from one streaming query (critic verdict x item x image x human verdicts, ordered by item) and written
by one writer per format, so memory stays flat however many rows there are.

A row's human turn is the prompt the critic saw (critic_worker.profiles.user_turn, with the profile the verdict
was made with and the item's response order); its gpt turn is the reviewers' verdict (the revision when they
revised after the reveal) rendered by that profile's renderer, with the corrected justification when a reviewer
wrote one, else their rationale, so that profile.parse(gpt turn) gives back the human verdict. This is what
retraining reads: the llava-json and parquet rows are {id, image, conversations: [human, gpt]}. Every image is
the item's normalised rendition (PNG, upright 8-bit RGB on white), the picture the critic and the reviewers saw.
"""

from __future__ import annotations

from annotations.services.exports.files import (
    DATA_FILES,
    FORMATS,
    IMAGES_DIR,
    MANIFEST,
    export_data_file,
    export_file,
    export_folder,
    export_zip_chunks,
)
from annotations.services.exports.images import image_file_name, image_name
from annotations.services.exports.jobs import (
    EXPORT_TASK,
    training_export_create,
    training_export_queue,
    training_export_run,
)
from annotations.services.exports.parquet import HF_FEATURES, PARQUET_SCHEMA
from annotations.services.exports.rows import (
    IMAGE_TOKEN,
    ExportRow,
    Tally,
    critic_verdicts_done,
    critic_verdicts_for_export,
    export_rows,
)
from annotations.services.exports.snapshot import WRITERS

__all__ = [
    "DATA_FILES",
    "EXPORT_TASK",
    "FORMATS",
    "HF_FEATURES",
    "IMAGES_DIR",
    "IMAGE_TOKEN",
    "MANIFEST",
    "PARQUET_SCHEMA",
    "WRITERS",
    "ExportRow",
    "Tally",
    "critic_verdicts_done",
    "critic_verdicts_for_export",
    "export_data_file",
    "export_file",
    "export_folder",
    "export_rows",
    "export_zip_chunks",
    "image_file_name",
    "image_name",
    "training_export_create",
    "training_export_queue",
    "training_export_run",
]
