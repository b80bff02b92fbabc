"""A snapshot's layout under MEDIA_ROOT/exports/<number>/ (data file, images/ folder, manifest.json) and reading a
finished export's files back."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from django.conf import settings

from annotations.models import JobStatus, TrainingExport

FORMATS = tuple(TrainingExport.Format.values)
DATA_FILES = {"llava-critic-parquet": "train.parquet", "llava-json": "train.json", "dpo-jsonl": "train.jsonl"}
IMAGES_DIR = "images"
MANIFEST = "manifest.json"


def export_folder(export: TrainingExport) -> Path:
    return Path(settings.MEDIA_ROOT) / "exports" / str(export.number)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def export_file(*, export: TrainingExport, name: str) -> Path:
    """A file of a finished export by its name in the manifest (or the manifest itself); ValueError otherwise."""
    if export.status != JobStatus.DONE or not export.path:
        raise ValueError("the export is not finished")
    if name != MANIFEST and name not in export.manifest.get("files", {}):
        raise ValueError(f"no file {name!r} in export #{export.number}")
    return Path(settings.MEDIA_ROOT) / export.path / name


def export_data_file(*, export: TrainingExport) -> Path:
    """A finished export's data file (train.json, train.parquet, ...), beside its images/ folder when it has one;
    ValueError when the export is not finished."""
    if export.status != JobStatus.DONE or not export.manifest.get("data_file"):
        raise ValueError(f"export #{export.number} is not finished ({export.status})")
    return export_file(export=export, name=export.manifest["data_file"])


def export_zip_chunks(*, export: TrainingExport) -> Iterable[bytes]:
    """The whole snapshot (data, images, manifest) as a zip, produced while it is sent."""
    import zipfile

    folder = Path(settings.MEDIA_ROOT) / export.path

    class Sink:
        def __init__(self) -> None:
            self.parts: list[bytes] = []

        def write(self, data: bytes) -> int:
            self.parts.append(bytes(data))
            return len(data)

        def flush(self) -> None:
            pass

        def take(self) -> bytes:
            out, self.parts = b"".join(self.parts), []
            return out

    sink = Sink()
    root = f"export-{export.number}"
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED) as archive:  # type: ignore[call-overload]
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, f"{root}/{path.relative_to(folder)}")
                yield sink.take()
    yield sink.take()
