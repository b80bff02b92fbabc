"""The images of an export: each placed once in its images/ folder, named by its SHA-256."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from django.conf import settings

from annotations.services.exports.files import IMAGES_DIR
from annotations.services.exports.rows import ExportRow


class _Images:
    """Each image linked (or copied) once into the export's images/ folder, named by its SHA-256."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.names: dict[str, str] = {}  # ours: SHA-256 -> name
        self.adopted: set[str] = set()  # merged rows' images, by their own names

    def name(self, row: ExportRow) -> str | list[str]:
        """The row's `image`: its image's name, or for an item with several the list of their names in order
        (LLaVA's layout for multi-image rows)."""
        names = [self._name(sha, file) for sha, file in row.images]
        return names[0] if len(names) == 1 else names

    def _name(self, sha256: str, image_file: str) -> str:
        name = self.names.get(sha256)
        if name is None:
            name = image_file_name(sha256, image_file)
            self._place(Path(settings.MEDIA_ROOT) / image_file, name)
            self.names[sha256] = name
        return name

    def adopt(self, their_file: Path, name: str) -> None:
        """A merged row's image, named relative to the images/ folder beside their file (our layout) or to the
        file's own folder, placed under the same name in ours, so the merged file is whole on its own."""
        if name in self.adopted:
            return
        relative = Path(name)
        if relative.is_absolute() or ".." in relative.parts:
            raise ValueError(f"{their_file}: image {name!r} is outside the file's folder")
        found = [p for p in (their_file.parent / IMAGES_DIR / relative, their_file.parent / relative) if p.is_file()]
        if not found:
            raise ValueError(f"{their_file}: image {name!r} not found beside it (nor in its {IMAGES_DIR}/ folder)")
        self._place(found[0], name)
        self.adopted.add(name)

    def _place(self, source: Path, name: str) -> None:
        target = self.folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(source, target)
        except OSError:
            shutil.copyfile(source, target)


def image_file_name(sha256: str, image_file: str) -> str:
    """An image's name in an export: its SHA-256 and its file's extension."""
    return sha256 + os.path.splitext(image_file)[1].lower()


def image_name(row: ExportRow) -> str:
    """The name of the row's (first) image in an export."""
    return image_file_name(row.sha256, row.image_file)
