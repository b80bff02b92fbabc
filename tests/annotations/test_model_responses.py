"""What vision-language models write about images, as a reviewer sees it: every character the model wrote, math
where it meant math, prices and code as written, no markup the text did not ask for."""

from __future__ import annotations

import html
import re

import pytest

from annotations.model_text import model_text_html


def visible(rendered: str) -> str:
    """The characters a browser shows (math elements hold their own source)."""
    return html.unescape(re.sub(r"<[^>]+>", "", rendered))


def math_spans(rendered: str) -> list[str]:
    return [html.unescape(tex) for tex in re.findall(r'class="math [a-z]+" data-tex="([^"]*)"', rendered)]


# (response, what the reviewer reads with tags stripped, the TeX KaTeX gets)
RESPONSES = [
    ("The ratio is $\\frac{3}{4}$ of the area.", "The ratio is $\\frac{3}{4}$ of the area.", ["\\frac{3}{4}"]),
    ("Speed: $v = 12\\text{ m/s}$ downhill.", "Speed: $v = 12\\text{ m/s}$ downhill.", ["v = 12\\text{ m/s}"]),
    ("Total:\n$$\nA = \\pi r^2\n$$\nso 12.", "Total:\n$$\nA = \\pi r^2\n$$\nso 12.", ["\nA = \\pi r^2\n"]),
    ("$$E = mc^2$$", "$$E = mc^2$$", ["E = mc^2"]),
    ("\\[ E = mc^2 \\]", "\\[ E = mc^2 \\]", [" E = mc^2 "]),
    ("\\(x\\) and \\(y\\)", "\\(x\\) and \\(y\\)", ["x", "y"]),
    ("**Answer:** $\\boxed{42}$", "Answer: $\\boxed{42}$", ["\\boxed{42}"]),
    ("The $x$-axis and the $y$-axis", "The $x$-axis and the $y$-axis", ["x", "y"]),
    ("The value is $-5$ below.", "The value is $-5$ below.", ["-5"]),
    ("$\\$5$ inside math", "$\\$5$ inside math", ["\\$5"]),
    ("It costs $5 and $x = 3$ here", "It costs $5 and $x = 3$ here", ["x = 3"]),
    ("The mean is $\\mu = 5$ and the price is $5.", "The mean is $\\mu = 5$ and the price is $5.", ["\\mu = 5"]),
    ("The sign reads \\$5.99 per pound.", "The sign reads $5.99 per pound.", []),
    ("Prices range from $5-$10 per item.", "Prices range from $5-$10 per item.", []),
    ("Ranges: $5\u2013$10 and $5 - $10 and $5-10", "Ranges: $5\u2013$10 and $5 - $10 and $5-10", []),
    ("Between $5 and $10, maybe $20.", "Between $5 and $10, maybe $20.", []),
    ("Cost: $1,000 to $2,000", "Cost: $1,000 to $2,000", []),
    ("He paid $5.\nShe paid $10.", "He paid $5.\nShe paid $10.", []),
    ("Prices 5$-10$ each, save $$$ now", "Prices 5$-10$ each, save $$$ now", []),
    ("The price is $20 (20% off $25).", "The price is $20 (20% off $25).", []),
    ("It went up 25% and then 10%.", "It went up 25% and then 10%.", []),
    ("$5 per item; in the shell use `$VAR`", "$5 per item; in the shell use $VAR", []),
    ("Run `echo $HOME` for $5 or `cost$`", "Run echo $HOME for $5 or cost$", []),
    ("Use `a*b*c` and `x_y_z` and ``a ` b``.", "Use a*b*c and x_y_z and a ` b.", []),
    ("5 * 3 = 15 and 2 * 4 = 8", "5 * 3 = 15 and 2 * 4 = 8", []),
    ("The file is /usr/local/my_file_name.txt", "The file is /usr/local/my_file_name.txt", []),
    ("See https://example.com/some_path_/file_name.png.", "See https://example.com/some_path_/file_name.png.", []),
    ("URL: https://example.com/a*b*c/x?q=1*2", "URL: https://example.com/a*b*c/x?q=1*2", []),
    ("(https://x.org/**y**) and *https://x.org/a*", "(https://x.org/**y**) and https://x.org/a", []),
    ("Wiki: https://en.wikipedia.org/wiki/Cat_(animal)", "Wiki: https://en.wikipedia.org/wiki/Cat_(animal)", []),
    ("Great job! 🎉😀 The 👍 sign.", "Great job! 🎉😀 The 👍 sign.", []),
    ("النص العربي هنا مع رقم 5", "النص العربي هنا مع رقم 5", []),
    ("这是一只猫。它的颜色是**黑色**的。", "这是一只猫。它的颜色是黑色的。", []),
    ("Line one<br>Line two", "Line one<br>Line two", []),
    ("This is <b>bold</b> text", "This is <b>bold</b> text", []),
    ("The answer is <image> and <unk>.", "The answer is <image> and <unk>.", []),
    ("Use <tag> and </tag> and <div class='x'>", "Use <tag> and </tag> and <div class='x'>", []),
    ("a < b > c and 3 < 5", "a < b > c and 3 < 5", []),
    ("&copy; and &amp; and &#169; and AT&T", "&copy; and &amp; and &#169; and AT&T", []),
    ("The text says &lt;b&gt;", "The text says &lt;b&gt;", []),
    ("Hash: " + "0123456789abcdef" * 20, "Hash: " + "0123456789abcdef" * 20, []),
]


@pytest.mark.parametrize(("text", "shown", "tex"), RESPONSES)
def test_a_reviewer_reads_what_the_model_wrote(text: str, shown: str, tex: list[str]) -> None:
    rendered = model_text_html(text)
    assert visible(rendered).strip() == shown
    assert math_spans(rendered) == tex


@pytest.mark.parametrize(
    ("text", "tex"),
    [
        (
            "Solution:\n\\begin{align}\nx &= 2 \\\\\ny &= 3\n\\end{align}\nDone.",
            "\\begin{align}\nx &= 2 \\\\\ny &= 3\n\\end{align}",
        ),
        ("\\begin{equation*}\nE=mc^2\n\\end{equation*}", "\\begin{equation*}\nE=mc^2\n\\end{equation*}"),
        ("so \\begin{pmatrix}1&2\\\\3&4\\end{pmatrix} is M", "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}"),
        ("$$\n\\begin{aligned} a &= b \\\\ c\\end{aligned}\n$$", "\n\\begin{aligned} a &= b \\\\ c\\end{aligned}\n"),
        (
            "We get\n\\[\nx = \\frac{-b \\pm \\sqrt{b^2-4ac}}{2a}\n\\]\nso",
            "\nx = \\frac{-b \\pm \\sqrt{b^2-4ac}}{2a}\n",
        ),
        ("1. Compute\n   \\[\n   x=1\n   \\]\n2. next", "\n   x=1\n   "),
    ],
)
def test_bare_latex_environments_and_display_blocks_are_display_math_with_their_row_breaks(text: str, tex: str) -> None:
    rendered = model_text_html(text)
    assert math_spans(rendered) == [tex]
    assert 'class="math display"' in rendered
    assert tex.strip() in visible(rendered)


def test_an_environment_that_never_ends_or_sits_in_code_stays_text() -> None:
    assert math_spans(model_text_html("\\begin{align}\nx &= 2 \\\\\ny")) == []
    assert math_spans(model_text_html("`\\begin{align}` then \\end{align}")) == []
    assert "\\begin{align} x" in visible(model_text_html("\\begin{align} x"))


@pytest.mark.parametrize(
    ("text", "element"),
    [
        ("```python\ndef f(a_b, *args):\n    return a_b * 2  # $5 <b>x</b>\n```", "<pre><code>"),
        ("- Fruits\n  - apple\n  - banana\n- Veg\n  1. carrot\n  2. pea", "<ul>\n<li>apple</li>"),
        ("3. third\n4. fourth", '<ol start="3">'),
        ("## Answer\nThe cat is **black**.", "<h2>Answer</h2>"),
        ("un**believ**able", "un<strong>believ</strong>able"),
        ("[link](https://x.org/a*b*c)", '<a href="https://x.org/a*b*c"'),
        ("**see https://x.org/a_b**", "<strong>see https://x.org/a_b</strong>"),
        ("| Variable | Value |\n|---|---|\n| $x$ | 3 |", '<td><span class="math inline" data-tex="x">$x$</span></td>'),
    ],
)
def test_markdown_the_model_meant_renders_and_keeps_its_text(text: str, element: str) -> None:
    rendered = model_text_html(text)
    assert element in rendered
    # every word the model wrote is shown (list numbers are the list's, a link's address is its href)
    for word in re.findall(r"[^\W\d]\w*", re.sub(r"```python|\]\([^)]*\)", "", text)):
        assert word in visible(rendered), word


@pytest.mark.parametrize(
    ("text", "cells", "tex"),
    [
        ("| Set | Def |\n|---|---|\n| A | $\\{x | x > 0\\}$ |", ["A", "$\\{x | x > 0\\}$"], ["\\{x | x > 0\\}"]),
        ("| v | norm |\n|:--|--:|\n| v | $\\|v\\|$ |", ["v", "$\\|v\\|$"], ["\\|v\\|"]),
        ("| a | b |\n|---|---|\n| \\(p|q\\) | $$a|b$$ |", ["\\(p|q\\)", "$$a|b$$"], ["p|q", "a|b"]),
        ("| a | b |\n|---|---|\n| $5 | $10 |", ["$5", "$10"], []),  # prices: no math, the cells as written
    ],
    ids=["set-builder", "norm", "backslash-and-display", "prices"],
)
def test_a_pipe_inside_math_in_a_table_cell_stays_in_its_math(text: str, cells: list[str], tex: list[str]) -> None:
    """The table rule split rows at every pipe: "$\\{x | x > 0\\}$" was cut into two cells and the second half lost,
    and a norm's "\\|" reached KaTeX as "|". Pipes inside math are the math's."""
    rendered = model_text_html(text)
    body = rendered.split("<tbody>")[1]
    assert [visible(cell) for cell in re.findall(r"<td>(.*?)</td>", body)] == cells
    assert math_spans(rendered) == tex


def test_math_with_a_pipe_outside_tables_is_as_before() -> None:
    text = "Set $\\{x | x > 0\\}$ and a line\n---"  # a heading's underline is no table's delimiter row
    assert math_spans(model_text_html(text)) == ["\\{x | x > 0\\}"]
