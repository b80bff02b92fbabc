"""Model text (questions, responses, the critic's justification) as HTML: CommonMark, with TeX math kept verbatim
for KaTeX, and never markup from the text itself.

The parser is markdown-it-py (CommonMark 0.31, https://spec.commonmark.org/, linear time by design) with
mdit-py-plugins' dollarmath for `$..$` and `$$..$$` (Pandoc's rule: no space inside the delimiters, no digit after
the closing one, so "$5 and $10" stays prose). `\\(..\\)` and `\\[..\\]` are read here, because texmath's rule for
them rescans the rest of the text at every opener (quadratic on a run of openers). A math span becomes an element
whose text is the source with its delimiters and whose `data-tex` is the TeX for KaTeX, so that a page without
JavaScript still shows exactly what the critic read.

Two departures from CommonMark, both for text that models write: a single newline is a line break (as the critic's
own line structure is), and a `*` after a digit opens no emphasis and one before a digit closes none ("2*3*4 = 24"
is arithmetic, as the `_` rule already keeps "e_it_x" a name). Also for model text: bare LaTeX environments
(`\\begin{align}`..) are display math, a bare http(s) URL is text as written (no emphasis from its `*`), a `$` span
never reaches into a code span, and entities ("&copy;") show as written. Raw HTML is never passed through
(html=False) and the result is cleaned once more by nh3 (an allow-list of tags and attributes; links only to http,
https, mailto), so a fault in a render rule here cannot become markup either. Images are not rendered: a response
cannot make the reviewer's browser fetch anything."""

from __future__ import annotations

import bisect
import math
import re
import threading
import time
from collections.abc import Callable, MutableMapping, Sequence
from typing import Any

import nh3
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.rules_block import StateBlock
from markdown_it.rules_inline import StateInline
from markdown_it.token import Token
from mdit_py_plugins.dollarmath import dollarmath_plugin

ALLOWED_TAGS = {"p", "br", "strong", "em", "del", "s", "code", "pre", "ul", "ol", "li", "blockquote", "hr", "a"}
ALLOWED_TAGS |= {"h1", "h2", "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td", "span", "div"}
ALLOWED_ATTRIBUTES = {"a": {"href"}, "span": {"class", "data-tex"}, "div": {"class", "data-tex"}, "ol": {"start"}}
ALLOWED_ATTRIBUTES |= {"p": {"class"}}
URL_SCHEMES = {"http", "https", "mailto"}
LINK_REL = "nofollow noopener noreferrer"

# (opening, closing, display) for the backslash delimiters LaTeX and most chat models use.
BACKSLASH_MATH = (("\\(", "\\)", False), ("\\[", "\\]", True))
# LaTeX environments models write bare, without $$ or \\[ around them; KaTeX typesets each in display mode.
ENVIRONMENT = re.compile(
    r"\\begin\{((?:equation|align|alignat|aligned|flalign|gather|gathered|multline|eqnarray|split|cases|array|CD|"
    r"[pbBvV]?matrix|smallmatrix)\*?)\}"
)


def _math_html(*, tex: str, source: str, display: bool, block: bool) -> str:
    # Display math inside a paragraph stays a span (a div there would end the paragraph); CSS sets it apart.
    tag, kind = "div" if block else "span", "math display" if display else "math inline"
    return f'<{tag} class="{kind}" data-tex="{escapeHtml(tex)}">{escapeHtml(source)}</{tag}>'


class _Closer:
    """Where the next closing delimiter stands at or after a position, found once per run of openers: the inline
    rule asks at every opener, and a plain `find` each time would be quadratic on text with many openers."""

    def __init__(self, src: str, closing: str) -> None:
        self.src, self.closing = src, closing
        self.asked, self.found = -1, -1

    def at_or_after(self, pos: int) -> int:
        # The first closer at or after an earlier position is also the first one at or after any later position
        # up to it; past it (or with none found), search again.
        if self.asked != -1 and self.asked <= pos and (self.found == -1 or pos <= self.found):
            return self.found
        self.asked, self.found = pos, self.src.find(self.closing, pos)
        return self.found


def _closer(env: MutableMapping[Any, Any], src: str, closing: str) -> _Closer:
    key = ("math-closer", id(src), closing)
    closer = env.get(key)
    if not isinstance(closer, _Closer) or closer.src is not src:
        closer = env[key] = _Closer(src, closing)
    return closer


def _backslash_inline(state: StateInline, silent: bool) -> bool:
    src, pos = state.src, state.pos
    if not src.startswith("\\", pos):
        return False
    environment = ENVIRONMENT.match(src, pos)
    if environment:
        end = _closer(state.env, src, f"\\end{{{environment[1]}}}").at_or_after(environment.end())
        if end == -1 or end >= state.posMax or "`" in src[pos:end]:
            return False
        end += len(environment[1]) + 6
        if not silent:
            token = state.push("math_environment", "math", 0)
            token.content = src[pos:end]
        state.pos = end
        return True
    for opening, closing, display in BACKSLASH_MATH:
        if not src.startswith(opening, pos):
            continue
        end = _closer(state.env, src, closing).at_or_after(pos + 2)
        # A closer past a backtick is in (or past) a code span: that text is code, not math.
        if end == -1 or end >= state.posMax or end == pos + 2 or "`" in src[pos:end]:
            return False
        if not silent:
            token = state.push("math_backslash", "math", 0)
            token.content, token.markup, token.info = src[pos + 2 : end], opening, "display" if display else ""
        state.pos = end + 2
        return True
    return False


def _backslash_block(state: StateBlock, start_line: int, end_line: int, silent: bool) -> bool:
    """`\\[` at the start of a line, its `\\]` at the end of a later (or the same) line of this block."""
    begin = state.bMarks[start_line] + state.tShift[start_line]
    if state.sCount[start_line] - state.blkIndent >= 4 or not state.src.startswith("\\[", begin):
        return False
    end = _closer(state.env, state.src, "\\]").at_or_after(begin + 2)
    if end == -1:
        return False
    line = bisect.bisect_left(state.eMarks, end, start_line, end_line)  # the line holding the closer
    if line >= end_line or state.src[end + 2 : state.eMarks[line]].strip():
        return False
    if not silent:
        token = state.push("math_backslash", "math", 0)
        token.block, token.map = True, [start_line, line + 1]
        token.content, token.markup, token.info = state.src[begin + 2 : end], "\\[", "display"
    state.line = line + 1
    return True


def _environment_block(state: StateBlock, start_line: int, end_line: int, silent: bool) -> bool:
    """`\\begin{align}` (or another math environment) at the start of a line, its `\\end{align}` at the end of a
    later (or the same) line of this block: display math, its `\\\\` row breaks and `&` kept."""
    begin = state.bMarks[start_line] + state.tShift[start_line]
    if state.sCount[start_line] - state.blkIndent >= 4 or not state.src.startswith("\\begin{", begin):
        return False
    environment = ENVIRONMENT.match(state.src, begin)
    if not environment:
        return False
    closing = f"\\end{{{environment[1]}}}"
    end = _closer(state.env, state.src, closing).at_or_after(environment.end())
    if end == -1:
        return False
    end += len(closing)
    line = bisect.bisect_left(state.eMarks, end, start_line, end_line)
    if line >= end_line or state.src[end : state.eMarks[line]].strip():
        return False
    if not silent:
        token = state.push("math_environment", "math", 0)
        token.block, token.map, token.content = True, [start_line, line + 1], state.src[begin:end]
    state.line = line + 1
    return True


def _outside_code_spans(rule: Callable[[StateInline, bool], bool]) -> Callable[[StateInline, bool], bool]:
    """dollarmath's inline rule, except that a span whose closer lies past a backtick is no math: "$5 each; use
    `$VAR`" is a price and a code span."""

    def outside(state: StateInline, silent: bool) -> bool:
        start = state.pos
        if not rule(state, silent):
            return False
        if "`" not in state.src[start : state.pos]:
            return True
        state.pos = start
        if not silent:  # the math token only: the text before it, flushed by the push, stays
            state.tokens.pop()
        return False

    return outside


def _bare_url(state: StateInline, silent: bool) -> bool:
    """An http(s) URL in prose is text as written: its `*`, `_` and `~` are the address's, not emphasis. Found at
    its `:` (the text rule stops there); trailing punctuation and an unmatched `)` stay outside it."""
    src, pos = state.src, state.pos
    if not src.startswith("://", pos):
        return False
    scheme = 5 if src[max(pos - 5, 0) : pos].lower() == "https" else 4
    if src[max(pos - scheme, 0) : pos].lower() not in ("http", "https") or pos - scheme < 0:
        return False
    if pos - scheme > 0 and (src[pos - scheme - 1].isalnum() or src[pos - scheme - 1] == "_"):
        return False
    found = URL_REST.match(src, pos, state.posMax)
    if not found:
        return False
    url = found[0].rstrip(".,;:!?'*_~")
    while url.endswith(")") and url.count(")") > url.count("("):
        url = url[:-1].rstrip(".,;:!?'*_~")
    if len(url) <= 3:
        return False
    if not silent:
        state.pending += url
    state.pos += len(url)
    return True


def _digit(char: str) -> bool:
    return "0" <= char <= "9"


def _arithmetic_asterisks(tokenize: Callable[[StateInline, bool], bool]) -> Callable[[StateInline, bool], bool]:
    """CommonMark's emphasis rule, except that a `*` run after a digit opens nothing and one before a digit
    closes nothing."""

    def rule(state: StateInline, silent: bool) -> bool:
        start, before = state.pos, len(state.delimiters)
        if not tokenize(state, silent):
            return False
        if state.src[start] == "*":
            previous = state.src[start - 1] if start > 0 else ""
            following = state.src[state.pos] if state.pos < state.posMax else ""
            for delimiter in state.delimiters[before:]:
                delimiter.open = delimiter.open and not _digit(previous)
                delimiter.close = delimiter.close and not _digit(following)
        return True

    return rule


URL_REST = re.compile(r"://[^\s<>\[\]`\"]+")


def _render_environment(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    token = tokens[idx]
    return _math_html(tex=token.content, source=token.content, display=True, block=token.block)


def _render_math(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    token = tokens[idx]
    display = token.block or token.info == "display" or token.type == "math_inline_double"
    opening = token.markup or ("$$" if display else "$")
    closing = {"\\(": "\\)", "\\[": "\\]"}.get(opening, opening)
    source = f"{opening}{token.content}{closing}"
    return _math_html(tex=token.content, source=source, display=display, block=token.block)


class TooMuchMarkup(Exception):
    """The render ran past its deadline."""


DEADLINE = "model-text-deadline"
FALLBACK_NOTE = "Shown as plain text: it holds more markup than the page renders in time (the raw view is exact)."
BUDGET_S = 0.06  # seconds of parsing one text may take before it is shown as plain text instead
# Shapes whose parse is one long step the deadline cannot cut (the parser's per-character pass over every line;
# a table row, link destination or URL with no space in it): past these, the text is plain from the start.
MAX_CHARS = 30_000  # past this the parse alone outlasts the budget on realistic text (bench/render.py)
MAX_LINES = 3_000
MAX_WORD_CHARS = 5_000


def _inline_deadline(state: StateInline, silent: bool) -> bool:
    """First of the inline rules, so tried at every step of the inline parser (re-scans of link labels too):
    stops a render that ran past its deadline. Never matches."""
    if time.perf_counter() > state.env.get(DEADLINE, math.inf):
        raise TooMuchMarkup
    return False


def _block_deadline(state: StateBlock, start_line: int, end_line: int, silent: bool) -> bool:
    """The same at every line the block parser looks at."""
    if time.perf_counter() > state.env.get(DEADLINE, math.inf):
        raise TooMuchMarkup
    return False


def build_parser() -> MarkdownIt:
    """The parser every page uses (one per thread: markdown-it's state is not shared across threads)."""
    md = MarkdownIt("commonmark", {"html": False, "breaks": True, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    md.disable(["image", "entity"])  # "&copy;" is shown as the model wrote it, not as the character it names
    dollarmath_plugin(md, allow_labels=False, allow_space=False, allow_digits=False, double_inline=True)
    md.inline.ruler.before("escape", "math_backslash", _backslash_inline)
    md.inline.ruler.at(
        "math_inline", _outside_code_spans(md.inline.ruler.__rules__[md.inline.ruler.__find__("math_inline")].fn)
    )
    md.inline.ruler.before("emphasis", "bare_url", _bare_url)
    md.inline.ruler.before(md.inline.ruler.get_all_rules()[0], "deadline", _inline_deadline)
    md.block.ruler.before(
        md.block.ruler.get_all_rules()[0],
        "deadline",
        _block_deadline,
        {"alt": ["paragraph", "reference", "blockquote", "list"]},
    )
    md.block.ruler.before("fence", "math_backslash", _backslash_block, {"alt": ["paragraph", "blockquote"]})
    md.block.ruler.before("fence", "math_environment", _environment_block, {"alt": ["paragraph", "blockquote"]})
    md.add_render_rule("math_environment", _render_environment)
    emphasis = md.inline.ruler.__rules__[md.inline.ruler.__find__("emphasis")].fn
    md.inline.ruler.at("emphasis", _arithmetic_asterisks(emphasis))
    for name in ("math_inline", "math_inline_double", "math_block", "math_block_label", "math_backslash"):
        md.add_render_rule(name, _render_math)
    return md


# A table's delimiter row (GFM): dashes, with optional colons, between pipes.
TABLE_DELIMITER = re.compile(r" {0,3}\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*")
# Math in a table row, as the math rules read it: $$..$$, $..$ (no space inside its ends, no digit after it), \(..\).
# Each alternative stops at the next delimiter of its kind, so a row is scanned in linear time.
ROW_MATH = re.compile(r"\$\$[^$]*\$\$|\$(?=[^\s$])(?:[^$\\]|\\.)*?(?<=[^\s\\])\$(?!\d)|\\\((?:(?!\\[()]).)*\\\)")


def _table_math_escaped(text: str) -> str:
    """The text with every pipe inside math in a table row written `\\|`, as GFM asks for a pipe inside a cell: the
    table rule splits a row at its bare pipes ("$\\{x | x > 0\\}$" was cut in two, its second half lost) and takes
    one backslash off each escaped pipe, so the math reaches KaTeX as written, norms (`\\|v\\|`) included."""
    if "|" not in text or "-" not in text:
        return text
    lines = text.split("\n")
    row = 0
    while row < len(lines):
        if row and "|" in lines[row - 1] and "|" in lines[row] and TABLE_DELIMITER.fullmatch(lines[row]):
            body = row + 1
            while body < len(lines) and "|" in lines[body] and lines[body].strip():
                body += 1
            for j in (row - 1, *range(row + 1, body)):
                lines[j] = ROW_MATH.sub(lambda m: m.group(0).replace("|", "\\|"), lines[j])
            row = body
        row += 1
    return "\n".join(lines)


_local = threading.local()


def _parser() -> MarkdownIt:
    md = getattr(_local, "md", None)
    if md is None:
        md = _local.md = build_parser()
    return md


# One line of prose the parser would leave as it is: it starts with a letter and holds nothing markdown, math or
# HTML reads (emphasis, code, links, headings, lists, quotes, tables, entities, escapes, breaks, dollars).
PLAIN = re.compile(r"[^\W\d_][^\\`*_\[\]#<>&|~=+$\s]*(?: [^\\`*_\[\]#<>&|~=+$\s]+)*")


def model_text_html(text: str) -> str:
    """The text as HTML (a str of block elements), safe to insert into a page. Never raises for any str.

    Plain one-line text (most questions, short answers) becomes its paragraph without the parser, which costs
    more than the rest of a desk page; tests/annotations/test_markdown.py holds the two ways equal. The parser is
    linear but pure Python (tens of microseconds per markup character): a text over MAX_CHARS, MAX_LINES or
    MAX_WORD_CHARS, or whose parse runs past BUDGET_S, is shown as escaped lines with a note, so that no text
    holds a server worker (bench/render.py measures it)."""
    text = text or ""
    if PLAIN.fullmatch(text):
        return f"<p>{text}</p>\n"
    if len(text) > MAX_CHARS or text.count("\n") > MAX_LINES or max(map(len, text.split()), default=0) > MAX_WORD_CHARS:
        return plain_text_html(text)
    try:
        html = _parser().render(_table_math_escaped(text), {DEADLINE: time.perf_counter() + BUDGET_S})
    except TooMuchMarkup:
        return plain_text_html(text)
    return nh3.clean(html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, url_schemes=URL_SCHEMES, link_rel=LINK_REL)


def plain_text_html(text: str) -> str:
    """The text as escaped paragraphs with its line breaks, for a text whose markup takes too long to parse."""
    lines = escapeHtml(text).replace("\r\n", "\n").replace("\r", "\n").replace("\n", "<br>\n")
    return f'<p class="plain-fallback">{FALLBACK_NOTE}</p>\n<p>{lines}</p>\n'
