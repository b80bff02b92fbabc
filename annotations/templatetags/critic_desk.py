from __future__ import annotations

import re
import threading

import markdown as markdown_lib
import nh3
from django import template
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

ALLOWED_TAGS = {
    "p",
    "br",
    "strong",
    "em",
    "code",
    "pre",
    "ul",
    "ol",
    "li",
    "blockquote",
    "h1",
    "h2",
    "h3",
    "h4",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "hr",
}


_local = threading.local()


def _renderer() -> markdown_lib.Markdown:
    """One renderer per thread (building one costs more than rendering a response; they are not thread-safe)."""
    md = getattr(_local, "md", None)
    if md is None:
        md = markdown_lib.Markdown(extensions=["fenced_code", "tables", "nl2br"], output_format="html")
        # Raw HTML in a response is text to show, not markup: without these, "<b>" would render as bold.
        md.preprocessors.deregister("html_block")
        md.inlinePatterns.deregister("html")
        _local.md = md
    return md.reset()


# One line of prose that markdown would leave as it is: it starts with a letter and holds nothing markdown reads
# (emphasis, code, links, headings, lists, quotes, tables, entities, HTML, escapes, line breaks).
PLAIN = re.compile(r"[^\W\d_][^\\`*_\[\]#<>&|~=+\s]*(?: [^\\`*_\[\]#<>&|~=+\s]+)*")


@register.filter
def safe_markdown(text: str) -> SafeString:
    """Model output rendered as markdown; any HTML in it is shown as text, and the result is sanitised again
    (no scripts, attributes, links or images can survive). Plain one-line text (most questions, short answers)
    becomes its paragraph without the markdown parser, which costs more than the rest of a desk page."""
    text = text or ""
    html = f"<p>{text}</p>" if PLAIN.fullmatch(text) else _renderer().convert(text)
    return mark_safe(nh3.clean(html, tags=ALLOWED_TAGS, attributes={}, link_rel=None))  # noqa: S308 - sanitised
