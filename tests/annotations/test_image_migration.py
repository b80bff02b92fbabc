"""Images stored before renditions existed get theirs from migration 0013: upright, on white, with the note, and
their old thumbnail (made from the original) is dropped so the next view makes one from the rendition."""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pytest
from django.apps import apps
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from annotations.models import Image
from tests.hostile_images import hostile_images, pixels

pytestmark = pytest.mark.django_db

make_renditions = importlib.import_module("annotations.migrations.0014_img_normalized").make_renditions


def stored_before(name: str, data: bytes, sha: str) -> Image:
    """An image row as the code before renditions stored it: the original, its header's size, an old thumbnail."""
    original = default_storage.save(f"images/{sha[:2]}/{sha}.{name}", ContentFile(data))
    thumb = default_storage.save(f"thumbs/{sha[:2]}/{sha}.webp", ContentFile(b"old thumbnail"))
    return Image.objects.create(
        sha256=sha, file=original, thumbnail=thumb, width=1, height=1, format="JPEG", size_bytes=len(data)
    )


def test_stored_images_get_their_rendition(media_root: Path) -> None:
    cases = {case.name: case for case in hostile_images()}
    turned = stored_before("jpg", cases["jpeg-exif-6"].data, "a" * 64)
    animated = stored_before("gif", cases["gif-animated"].data, "b" * 64)
    lost = stored_before("png", cases["png-rgba-text"].data, "c" * 64)
    default_storage.delete(lost.file.name)
    old_thumb = turned.thumbnail.name
    make_renditions(apps, None)
    for image, name in ((turned, "jpeg-exif-6"), (animated, "gif-animated")):
        image.refresh_from_db()
        expected = cases[name].expected
        got = pixels(Path(image.normalized.path).read_bytes())
        assert np.abs(got.astype(int) - expected).mean() <= cases[name].tolerance
        assert (image.width, image.height) == (expected.shape[1], expected.shape[0])
        assert cases[name].note in image.normalization_note
        assert image.thumbnail.name == ""
    assert not default_storage.exists(old_thumb)
    lost.refresh_from_db()
    assert lost.normalized.name == ""
    assert "could not be read" in lost.normalization_note
    make_renditions(apps, None)  # a second run leaves done images alone
    turned.refresh_from_db()
    assert turned.normalized.name.endswith(f"{'a' * 64}.png")
