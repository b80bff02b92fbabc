"""Reading an item's pictures: every consumer (pages, thumbnail, critic, exports, retraining, critic_input) reads
them through here, and gets the normalised rendition, never the original."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from annotations.models import Image, Item


class NoRendition(FileNotFoundError):
    """The image has no rendition (its original could not be read when renditions were made)."""


def item_images(*, item: Item) -> list[Image]:
    """The item's images in the order the critic sees them: today always [item.image]; items with several images
    will return them all here, so callers that loop over this list need no change."""
    return [item.image]


def image_normalized_path(*, image: Image) -> Path:
    """The rendition's file on disk (PNG, upright 8-bit RGB on white). Raises NoRendition when there is none."""
    if not image.normalized:
        raise NoRendition(f"image {image.sha256[:12]} has no normalised rendition ({image.normalization_note})")
    return Path(settings.MEDIA_ROOT) / str(image.normalized.name)


def image_normalized_png(*, image: Image) -> bytes:
    """The rendition's PNG bytes: exactly the picture the critic receives (before its processor resizes it), the
    browser shows and the exports embed. Raises NoRendition, or OSError when the file is gone."""
    return image_normalized_path(image=image).read_bytes()


def item_images_png(*, item: Item) -> list[bytes]:
    """The PNG bytes of the item's images, in order (see item_images and image_normalized_png)."""
    return [image_normalized_png(image=image) for image in item_images(item=item)]
