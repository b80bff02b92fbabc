"""An item's images after its first, in order.

`Item.image` stays the item's first image (every page, query and export that shows one picture keeps working);
an item with several images holds its second, third, ... here, one row each, at positions 2, 3, ... The database
keeps the order whole: one image per position, positions from 2 up, and an image in use cannot be deleted."""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class ItemImage(models.Model):
    """The image at `position` (2 for the second, ...) of an item with several images (the first is Item.image)."""

    # db_index=False: the unique (item, position) index leads with the item.
    item = models.ForeignKey("annotations.Item", on_delete=models.CASCADE, related_name="more_images", db_index=False)
    image = models.ForeignKey("annotations.Image", on_delete=models.PROTECT, related_name="+")
    position = models.PositiveSmallIntegerField(help_text="2 for the item's second image, 3 for its third, ...")

    class Meta:
        ordering = ["item", "position"]
        constraints = [
            models.UniqueConstraint(fields=["item", "position"], name="item_image_position_unique"),
            models.CheckConstraint(condition=Q(position__gte=2), name="item_image_after_the_first"),
        ]

    def __str__(self) -> str:
        return f"item {self.item_id} image {self.position}"
