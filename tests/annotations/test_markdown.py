"""Model text on the pages: rendered as markdown, never as markup, and plain lines the same with or without the
parser."""

from __future__ import annotations

import random

import nh3

from annotations.templatetags import critic_desk


def parsed(text: str) -> str:
    html = critic_desk._renderer().convert(text)
    return nh3.clean(html, tags=critic_desk.ALLOWED_TAGS, attributes={}, link_rel=None)


def test_markdown_renders_and_html_shows_as_text() -> None:
    html = critic_desk.safe_markdown("**Bold** and <script>alert(1)</script>\n\n- one\n- two")
    assert "<strong>Bold</strong>" in html
    assert "&lt;script&gt;" in html
    assert "<script>" not in html
    assert "<li>one</li>" in html


def test_plain_lines_skip_the_parser_and_come_out_as_it_would_render_them() -> None:
    assert critic_desk.PLAIN.fullmatch("What is the man holding in his left hand?")
    for text in ("1. a list", "- a list", "# a heading", "a_b", "two\nlines", "trailing ", "x  y", "&amp;", "> quote"):
        assert not critic_desk.PLAIN.fullmatch(text), text
    # Whatever takes the short way must render exactly as the parser renders it; the alphabet is made of what
    # markdown reads, and the short way is taken often enough to count.
    alphabet = [*"aZé ?!.,:;'\"()-/%$@0123\\`*_[]#<>&|~=+\t\n\xa0", "  ", "1. ", "- ", "# ", "---", "http://x.y"]
    rng = random.Random(5)
    plain = 0
    for _ in range(20_000):
        text = rng.choice("abXé") + "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        if critic_desk.PLAIN.fullmatch(text):
            plain += 1
            assert critic_desk.safe_markdown(text) == parsed(text), repr(text)
    assert plain > 1000
