"""Model text on the pages: CommonMark with its math kept for KaTeX, never markup from the text, every character
there in the raw view, and no input that makes rendering slow or fail."""

from __future__ import annotations

import html
import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from annotations import model_text
from annotations.templatetags.critic_desk import model_text as model_text_filter

# What markdown, math and HTML read, so that generated texts exercise the parser rather than plain prose.
MARKUP = [*"aZé ?!.,:;'\"()-/%$@0123\\`*_[]#<>&|~=+\t\n\r\xa0", "  ", "1. ", "- ", "> ", "# ", "---", "$$", "\\("]
MARKUP += ["\\)", "\\[", "\\]", "**", "```", "<script>", "&amp;", "http://x.y", "[a](http://x.y)", "| a |\n|---|\n"]
markup_text = st.lists(st.sampled_from(MARKUP), max_size=40).map("".join)


def parts(text: str) -> tuple[str, str]:
    """The rendered and the raw half of what the filter puts on the page."""
    found = re.fullmatch(
        r'<div class="model-text"><div class="text md">(.*)</div>'
        r'<template class="raw"><pre class="text raw">(.*)</pre></template></div>',
        str(model_text_filter(text)),
        re.S,
    )
    assert found, text
    return found[1], found[2]


def shown_text(raw_html: str) -> str:
    """The characters a browser shows for a <pre>'s content (it drops one newline right after the tag)."""
    return html.unescape(raw_html.removeprefix("\n"))


def math_spans(rendered: str) -> list[str]:
    return [html.unescape(tex) for tex in re.findall(r'class="math [a-z]+" data-tex="([^"]*)"', rendered)]


@given(markup_text)
@settings(max_examples=300, deadline=None)
def test_any_text_renders_and_the_raw_view_keeps_every_character(text: str) -> None:
    rendered, raw = parts(text)
    assert shown_text(raw) == text
    # Whatever the text holds, the page gets no element or attribute the text could choose.
    assert not re.search(
        r"<(?!/?(?:p|br|strong|em|del|s|code|pre|ul|ol|li|blockquote|hr|a|h[1-6]|table|thead|"
        r"tbody|tr|th|td|span|div)\b)",
        rendered,
    ), rendered
    assert "<script" not in rendered
    assert "onerror" not in rendered.replace("&lt;", "")


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("The volume is 2*3*4 = 24", "The volume is 2*3*4 = 24"),
        ("Area = 3*4*5 cm, and x * y * z", "Area = 3*4*5 cm, and x * y * z"),
        ("snake_case_name and e_it_x stay", "snake_case_name and e_it_x stay"),
        ("It costs $5 and $10 today", "It costs $5 and $10 today"),
    ],
)
def test_arithmetic_and_names_keep_their_characters(text: str, shown: str) -> None:
    rendered, _ = parts(text)
    assert "<em>" not in rendered
    assert "<strong>" not in rendered
    assert html.unescape(re.sub(r"<[^>]+>", "", rendered)).strip() == shown


@pytest.mark.parametrize(
    ("text", "tex", "display"),
    [
        ("Let $e_{it}$ be the error", "e_{it}", False),
        ("so \\(a^2 + b_1*c_2*d\\) holds", "a^2 + b_1*c_2*d", False),
        ("$$\\sum_{i=1}^{n} x_i * y_i$$", "\\sum_{i=1}^{n} x_i * y_i", True),
        ("\\[\n\\frac{a_1}{b_2}\\\\ c\n\\]", "\n\\frac{a_1}{b_2}\\\\ c\n", True),
        ("inline \\[x_1\\] display", "x_1", True),
        ("> quoted $a\\_b * c_d$ math", "a\\_b * c_d", False),
    ],
)
def test_math_reaches_katex_verbatim(text: str, tex: str, display: bool) -> None:
    rendered, _ = parts(text)
    assert math_spans(rendered) == [tex]
    assert ('class="math display"' in rendered) is display
    assert "<em>" not in rendered


def test_markdown_renders_and_html_shows_as_text() -> None:
    rendered, raw = parts("**Bold** and <script>alert(1)</script>\n\n- one\n- two\n\n<img src=x onerror=alert(1)>")
    assert "<strong>Bold</strong>" in rendered
    assert "&lt;script&gt;" in rendered
    assert "<script>" not in rendered
    assert "<img" not in rendered
    assert "<li>one</li>" in rendered
    assert "&lt;script&gt;" in raw


def test_links_are_safe_and_images_never_load() -> None:
    rendered, _ = parts("[ok](https://example.org) [bad](javascript:alert(1)) ![pixel](https://tracker.example/p.png)")
    assert '<a href="https://example.org" rel="nofollow noopener noreferrer">ok</a>' in rendered
    assert "javascript:" not in rendered.replace("[bad](javascript:alert(1))", "")
    assert "<img" not in rendered


def test_plain_lines_skip_the_parser_and_come_out_as_it_would_render_them() -> None:
    assert model_text.PLAIN.fullmatch("What is the man holding in his left hand?")
    for text in ("1. a list", "- a list", "# a heading", "a_b", "two\nlines", "trailing ", "&amp;", "a $x$ b"):
        assert not model_text.PLAIN.fullmatch(text), text
    # Whatever takes the short way must render exactly as the parser does, and the short way is taken often.
    parser = model_text.build_parser()
    rng = random.Random(5)
    plain = 0
    for _ in range(5_000):
        text = rng.choice("abXé") + "".join(rng.choice(MARKUP) for _ in range(rng.randint(0, 12)))
        if model_text.PLAIN.fullmatch(text):
            plain += 1
            full = model_text.nh3.clean(
                parser.render(text),
                tags=model_text.ALLOWED_TAGS,
                attributes=model_text.ALLOWED_ATTRIBUTES,
                url_schemes=model_text.URL_SCHEMES,
                link_rel=model_text.LINK_REL,
            )
            assert model_text.model_text_html(text) == full, repr(text)
    assert plain > 200


def test_a_text_that_would_take_too_long_is_shown_as_plain_text(monkeypatch: pytest.MonkeyPatch) -> None:
    # Past its time budget a render stops, and the page shows the text as escaped lines, saying why.
    monkeypatch.setattr(model_text, "BUDGET_S", -1.0)
    text = "[" * 50 + "**<b>bold</b>**\nsecond line"
    rendered, raw = parts(text)
    assert model_text.FALLBACK_NOTE in rendered
    assert "&lt;b&gt;bold&lt;/b&gt;" in rendered
    assert "<br>" in rendered
    assert "<strong>" not in rendered
    assert shown_text(raw) == text


@pytest.mark.parametrize(
    "text",
    [
        "- item\n" * (model_text.MAX_LINES + 1),
        "[a](https://example.org/" + "a" * model_text.MAX_WORD_CHARS + ")",
        "**Score**: 85. " * (model_text.MAX_CHARS // 15 + 1),
    ],
    ids=["too many lines", "a word too long", "too long"],
)
def test_texts_of_shapes_the_deadline_cannot_cut_are_plain_from_the_start(text: str) -> None:
    rendered, raw = parts(text)
    assert rendered.startswith(f'<p class="plain-fallback">{model_text.FALLBACK_NOTE}</p>')
    assert "<li>" not in rendered
    assert "<a " not in rendered
    assert shown_text(raw) == text
