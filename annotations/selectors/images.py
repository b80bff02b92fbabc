"""Reading an item's pictures: every consumer (pages, thumbnail, critic, exports, retraining, critic_input) reads
them through here, and gets the normalised rendition, never the original."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.db.models import Prefetch, QuerySet

from annotations.models import Image, Item, ItemImage


class NoRendition(FileNotFoundError):
    """The image has no rendition (its original could not be read when renditions were made)."""


MORE_IMAGES = "more_images"


def more_images_prefetch(through: str = "") -> Prefetch:
    """What a list of items (or of rows with an item: `through` "item__") prefetches so that item_images costs no
    query per item."""
    return Prefetch(through + MORE_IMAGES, queryset=ItemImage.objects.select_related("image").order_by("position"))


def items_with_images(items: QuerySet[Item]) -> QuerySet[Item]:
    """The items with their first image joined and the others prefetched, in order (two queries in all)."""
    return items.select_related("image").prefetch_related(more_images_prefetch())


def item_images(*, item: Item) -> list[Image]:
    """The item's images in order: Item.image first, then ItemImage's at positions 2, 3, ... The order the critic is
    given them, the desk shows them and the exports list them. No query when they were prefetched
    (items_with_images) or when the item was read with a count of its other images of 0 (the desk's plain SQL sets
    `more_images_count`); one otherwise."""
    if MORE_IMAGES in getattr(item, "_prefetched_objects_cache", {}):
        links = list(item.more_images.all())
    elif getattr(item, "more_images_count", None) == 0:
        links = []
    else:
        links = list(item.more_images.select_related("image").order_by("position"))
    return [item.image, *(link.image for link in links)]


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
