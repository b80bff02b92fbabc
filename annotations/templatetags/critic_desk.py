from __future__ import annotations

from django import template
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from annotations.model_text import model_text_html
from annotations.models import Image, Item
from annotations.selectors.images import item_images

register = template.Library()


@register.filter
def model_text(text: str) -> SafeString:
    """Model text rendered as markdown with math (annotations.model_text), and beside it, in an inert <template>
    that the page's raw/rendered switch (model-text.js) puts in its place, the exact characters the critic read."""
    text = text or ""
    rendered = model_text_html(text)
    # A newline right after <pre> is dropped by HTML parsers: one more keeps a leading newline of the text.
    raw = escape(text)
    lead = "\n" if text.startswith("\n") else ""
    return mark_safe(  # noqa: S308 - both parts are escaped or sanitised above
        f'<div class="model-text"><div class="text md">{rendered}</div>'
        f'<template class="raw"><pre class="text raw">{lead}{raw}</pre></template></div>'
    )


@register.filter
def images(item: Item) -> list[Image]:
    """The item's images in order, the first being item.image (selectors.images.item_images)."""
    return item_images(item=item)
