from __future__ import annotations

import shlex
from typing import Any

from django import template
from django.template.defaultfilters import floatformat
from django.utils.formats import localize
from django.utils.html import escape, format_html
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
def shell_quote(value: Any) -> str:
    """A value quoted for a POSIX shell (shlex.quote), for a command line shown to be copied: a dataset named
    `Demo: shapes, counts` is one argument, not four."""
    return shlex.quote(str(value))


@register.filter
def images(item: Item) -> list[Image]:
    """The item's images in order, the first being item.image (selectors.images.item_images)."""
    return item_images(item=item)


@register.filter
def verdict_value(verdict: Any, revised: str = "") -> str | SafeString:
    """A verdict's score (up to two decimals) or preference, or a muted dash when there is none (no verdict, or
    none yet); with the argument "revised", its revision's. In a filter rather than an included template: the item
    table shows up to three in each of its 50 rows."""
    prefix = "revised_" if revised == "revised" else ""
    score = getattr(verdict, prefix + "score", None) if verdict is not None else None
    preference = getattr(verdict, prefix + "preference", None) if verdict is not None else None
    if score is not None:
        return floatformat(score, "-2")
    if preference:
        return str(preference)
    return mark_safe('<span class="muted">—</span>')


@register.simple_tag
def stat_cell(s: dict[str, Any]) -> SafeString:
    """A statistic as one table cell: its value, [95% interval] and n, or a dash and why it is undefined. What
    _stat_cell.html drew (with its line end), in Python: the trust cards draw ~140 of them, and as includes they
    cost ~25 ms a page."""
    if s.get("value", "") is None:
        reason = s.get("reason", "")
        return format_html('<td class="num muted small" title="{}">— {}</td>\n', reason, reason)
    small = bool(s.get("small_sample"))
    ci = s.get("ci95")
    if ci:
        interval = format_html("[{}, {}]", floatformat(ci[0], 3), floatformat(ci[1], 3))
    else:
        interval = format_html("(no interval: {})", s.get("ci_reason") or "too few")
    return format_html(
        '<td class="num{}">{} <span class="small">{} n = {}</span>{}</td>\n',
        " small-sample" if small else "",
        floatformat(s.get("value", ""), 3),
        interval,
        localize(s.get("n", "")),
        mark_safe(' <span class="badge warn">small sample</span>') if small else "",
    )
