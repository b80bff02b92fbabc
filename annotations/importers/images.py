"""Where a row's image comes from: a path inside a folder or a zip archive, a data: URI, or bytes embedded in
the file. Every source refuses what could escape it or explode: absolute paths, `..`, symlinks, entries or
archives larger than the limits."""

from __future__ import annotations

import base64
import binascii
import contextlib
import re
import stat
import unicodedata
import zipfile
from pathlib import Path, PurePosixPath

from django.conf import settings


class ImageRefError(ValueError):
    """The reference cannot give an image (the message says why, for the row's report)."""


_DATA_URI = re.compile(r"^data:(image/[a-z0-9.+-]+)?(;[a-z0-9=.-]+)*;base64,", re.I)


def is_data_uri(ref: str) -> bool:
    return bool(_DATA_URI.match(ref))


def data_uri_bytes(ref: str) -> bytes:
    match = _DATA_URI.match(ref)
    if match is None:
        raise ImageRefError("not a base64 data: URI")
    payload = ref[match.end() :]
    if len(payload) * 3 // 4 > settings.IMAGE_MAX_BYTES:
        raise ImageRefError(f"the data: URI holds more than {settings.IMAGE_MAX_BYTES:,} bytes")
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ImageRefError("the data: URI is not valid base64") from None


def _safe_relative(ref: str) -> PurePosixPath:
    path = PurePosixPath(ref.replace("\\", "/"))
    if not ref or path.is_absolute() or re.match(r"^[a-zA-Z]:", ref):
        raise ImageRefError(f"{ref!r} is not a relative path")
    if ".." in path.parts:
        raise ImageRefError(f"{ref!r} points outside the image folder")
    return path


def _nfc(name: str) -> str:
    """Names compared in NFC: macOS writes file names decomposed (NFD), the rows name them composed."""
    return unicodedata.normalize("NFC", name)


def _entry_name(info: zipfile.ZipInfo) -> str:
    """The entry's name as its writer meant it. Without the UTF-8 flag zipfile decodes names as cp437, but macOS
    Finder (and others) write UTF-8 there without setting the flag: re-decode when the bytes are valid UTF-8."""
    name = info.filename
    if not info.flag_bits & 0x800:
        with contextlib.suppress(UnicodeError):  # a real cp437 name stays as read
            name = name.encode("cp437").decode("utf-8")
    return _nfc(name)


def _is_finder_metadata(name: str) -> bool:
    """`__MACOSX/` and `._name` entries hold macOS resource forks, not images."""
    return name.startswith("__MACOSX/") or PurePosixPath(name).name.startswith("._")


class ImageSource:
    """Images named by relative paths."""

    description = "no image folder or archive"

    def read(self, ref: str) -> bytes:
        raise ImageRefError(f"{ref!r}: give the images (--images DIR or ZIP), or use data: URIs")

    def close(self) -> None:
        pass


class FolderImages(ImageSource):
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.description = f"folder {root}"

    def read(self, ref: str) -> bytes:
        relative = _safe_relative(ref)
        current = self.root
        for part in relative.parts:  # refuse a symlink anywhere on the way, not only one that escapes
            current = self._child(current, part)
            if current.is_symlink():
                raise ImageRefError(f"{ref!r} is a symbolic link")
        path = current
        if not path.is_file():
            raise ImageRefError(f"{ref!r} is not in {self.description}")
        if path.stat().st_size > settings.IMAGE_MAX_BYTES:
            raise ImageRefError(f"{ref!r} is larger than {settings.IMAGE_MAX_BYTES:,} bytes")
        return path.read_bytes()

    @staticmethod
    def _child(folder: Path, part: str) -> Path:
        """The entry of the folder called `part`, or the one whose name is the same in NFC (a decomposed name)."""
        child = folder / part
        if child.exists() or child.is_symlink() or not folder.is_dir():
            return child
        wanted = _nfc(part)
        return next((entry for entry in folder.iterdir() if _nfc(entry.name) == wanted), child)


class ZipImages(ImageSource):
    """A zip archive, checked whole when opened: nothing escapes, no links, no more than the archive limit."""

    def __init__(self, path: Path) -> None:
        self.description = f"archive {path.name}"
        try:
            self.zip = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise ImageRefError(f"{path.name} is not a readable zip archive ({exc})") from None
        self.entries: dict[str, zipfile.ZipInfo] = {}
        total = 0
        for info in self.zip.infolist():
            if info.is_dir() or _is_finder_metadata(info.filename):
                continue
            name = _safe_relative(_entry_name(info)).as_posix()  # raises for absolute paths and ".."
            if stat.S_ISLNK(info.external_attr >> 16):
                raise ImageRefError(f"the archive holds a symbolic link: {info.filename!r}")
            total += info.file_size
            if total > settings.IMPORT_MAX_ARCHIVE_BYTES:
                raise ImageRefError(f"the archive expands to more than {settings.IMPORT_MAX_ARCHIVE_BYTES:,} bytes")
            self.entries[name] = info

    def read(self, ref: str) -> bytes:
        info = self.entries.get(_nfc(_safe_relative(ref).as_posix()))
        if info is None:
            raise ImageRefError(f"{ref!r} is not in {self.description}")
        limit = settings.IMAGE_MAX_BYTES
        if info.file_size > limit:
            raise ImageRefError(f"{ref!r} is larger than {limit:,} bytes")
        with self.zip.open(info) as entry:
            data = entry.read(limit + 1)  # the header's size may lie: never read past the limit
        if len(data) > limit:
            raise ImageRefError(f"{ref!r} expands past {limit:,} bytes")
        return data

    def close(self) -> None:
        self.zip.close()


def image_source(path: Path | None) -> ImageSource:
    if path is None:
        return ImageSource()
    if path.is_dir():
        return FolderImages(path)
    if path.is_file():
        return ZipImages(path)
    raise ImageRefError(f"{path}: no such folder or zip archive")
