"""How long one model text takes to render on the server, on the inputs that are worst for markdown parsers, at
the largest size an import accepts; beside the previous renderer (Python-Markdown + nh3) on the same input.

Each case is one text of MAX_TEXT_CHARS characters (annotations.services.items), rendered by the page filter
(`model_text`: the markdown with math, and the escaped raw view). The figure for the new renderer is the best of
three runs; the old renderer runs once per case in a child process that is stopped after --timeout seconds. Writes
the `render` section of docs/BENCHMARKS.md."""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

GOAL_MS = 100.0


def _repeat(unit: str, n: int) -> str:
    return (unit * (n // len(unit) + 1))[:n]


def _growing_backticks(n: int) -> str:
    parts, k = [], 1
    while sum(map(len, parts)) < n:
        parts.append("`" * k + "a ")
        k = k % 200 + 1
    return "".join(parts)[:n]


def _nested_lists(n: int) -> str:
    lines = [" " * (2 * (i % 60)) + "- item" for i in range(n // 60 + 1)]
    return "\n".join(lines)[:n]


def _realistic(n: int) -> str:
    block = (
        "**Score**: 85\n\nThe response identifies the *red* bus and its route number, but:\n\n"
        "1. it misses the second bus behind it;\n2. the colour of the sign is `blue`, not green.\n\n"
        "> The question asks for the number of buses.\n\nThe area is $w \\times h = 3*4 = 12$ and "
        "\\(e_{it} = y_{it} - \\hat y_{it}\\). See [the image](https://example.org/a.png).\n\n"
    )
    return _repeat(block, n)


def cases(n: int) -> dict[str, str]:
    """The worst-case inputs, by what they hold; each is exactly n characters."""
    half = n // 2
    return {
        "`[` run": _repeat("[", n),
        "`[` then `]` (nested brackets)": "[" * half + "]" * (n - half),
        "unclosed links `[a](`": _repeat("[a](", n),
        "link labels `[a]` with one definition": "[a]: https://example.org\n\n" + _repeat("[a]", n - 26),
        "`*` run": _repeat("*", n),
        "unmatched `*a ` openers": _repeat("*a ", n),
        "mixed `**a*` delimiters": _repeat("**a*", n),
        "`_` run": _repeat("_", n),
        "unmatched `_a ` openers": _repeat("_a ", n),
        "`` ` `` run": _repeat("`", n),
        "backtick runs of growing length": _growing_backticks(n),
        "`<` run": _repeat("<", n),
        "`&amp` without `;`": _repeat("&amp", n),
        "quotes nested `> ` on one line": _repeat("> ", n),
        "lists nested `- ` on one line": _repeat("- ", n),
        "lists nested by indentation": _nested_lists(n),
        "table of 1 column, many rows": "| a |\n|---|\n" + _repeat("| 1 |\n", n - 12),
        "table row of many cells": "|" + _repeat("a|", half - 1) + "\n|" + _repeat("-|", n - half - 2),
        # each body ends on a letter: inline math may not close after a space
        "long inline math `$..$`": "$" + _repeat("x_{i}^{2} * y_i + ", n - 3) + "z$",
        "long display math `$$..$$`": "$$\n" + _repeat("x_{i}^{2} * y_i + ", n - 7) + "z\n$$",
        "long `\\(..\\)` math": "\\(" + _repeat("a_i * b_i + ", n - 5) + "z\\)",
        "`\\(` openers, no closer": _repeat("\\(", n),
        "`\\(` openers, one closer at the end": _repeat("\\(", n - 2) + "\\)",
        "`\\[` lines, closer followed by text": _repeat("\\[\n", n - 4) + "\\] x",
        "`$` run": _repeat("$", n),
        "`$a` openers": _repeat("$a", n),
        "`$$` lines, no closer": _repeat("$$\n", n),
        "long link `[a](url)`": "[a](https://example.org/" + _repeat("a", n - 25) + ")",
        "long autolink `<https://..>`": "<https://example.org/" + _repeat("a", n - 22) + ">",
        "realistic critic response": _realistic(n),
    }


REALISTIC_SIZES = (2_000, 10_000, 30_000)  # where typical responses and justifications land, for scale


def _old_renderer() -> Callable[[str], str]:
    """The renderer before issue 14, as it was: Python-Markdown (fenced code, tables, nl2br; raw HTML off), nh3."""
    import markdown
    import nh3

    tags = {"p", "br", "strong", "em", "code", "pre", "ul", "ol", "li", "blockquote", "h1", "h2", "h3", "h4"}
    tags |= {"table", "thead", "tbody", "tr", "th", "td", "hr"}
    md = markdown.Markdown(extensions=["fenced_code", "tables", "nl2br"], output_format="html")
    md.preprocessors.deregister("html_block")
    md.inlinePatterns.deregister("html")

    def render(text: str) -> str:
        return nh3.clean(md.reset().convert(text), tags=tags, attributes={}, link_rel=None)

    return render


def _old_child(text: str, out: Any) -> None:
    render = _old_renderer()
    start = time.perf_counter()
    render(text)
    out.send(time.perf_counter() - start)


def old_seconds(text: str, timeout: float) -> float | None:
    """The old renderer's time on the text, in a child process; None when it was stopped at `timeout`."""
    receive, send = multiprocessing.Pipe(duplex=False)
    child = multiprocessing.get_context("fork").Process(target=_old_child, args=(text, send))
    child.start()
    seconds = receive.recv() if receive.poll(timeout + 5) else None  # +5: the child imports Python-Markdown first
    if seconds is None or seconds > timeout:
        child.kill()
        child.join()
        return None
    child.join()
    return float(seconds)


def new_seconds(render: Callable[[str], Any], text: str) -> float:
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        render(text)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds before the old renderer is stopped")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings.test")
    import django

    django.setup()
    from annotations import model_text as renderer
    from annotations.services.items import MAX_TEXT_CHARS
    from annotations.templatetags.critic_desk import model_text

    parser = renderer.build_parser()

    def unbounded(text: str) -> float:
        start = time.perf_counter()
        parser.render(text)  # no deadline in its env: the parse runs to the end
        return time.perf_counter() - start

    def old_cell(old: float | None) -> str:
        return f"> {args.timeout * 1000:,.0f} (stopped)" if old is None else f"{old * 1000:,.1f}"

    def ratio(new: float, old: float | None) -> str:
        if old is None:  # stopped: a lower bound, when there is one
            return f"> {args.timeout / new:,.0f}x" if new < args.timeout else "both over the timeout"
        return f"{old / new:,.1f}x"

    load = os.getloadavg()[0]
    sizes = (MAX_TEXT_CHARS, renderer.MAX_CHARS)
    tables: dict[int, list[tuple[str, float, str, float, float | None]]] = {}
    for n in sizes:
        inputs = cases(n)
        assert all(len(text) == n for text in inputs.values())
        if n == renderer.MAX_CHARS:
            inputs |= {f"realistic critic response, {size:,} characters": _realistic(size) for size in REALISTIC_SIZES}
        rows = tables[n] = []
        for name, text in inputs.items():
            new = new_seconds(model_text, text)
            shown = "plain text" if renderer.FALLBACK_NOTE in model_text(text) else "markdown"
            full = unbounded(text)
            old = old_seconds(text, args.timeout)
            rows.append((name, new, shown, full, old))
            print(
                f"{n:>7} {name:>45}: {new * 1000:6.1f} ms as {shown}; parse {full * 1000:7.1f} ms; old {old_cell(old)}"
            )

    everything = [row for rows in tables.values() for row in rows]
    worst = max(everything, key=lambda row: row[1])
    lines = [
        "## Rendering model text (issue 14)",
        "",
        f"`.venv/bin/python bench/render.py --timeout {args.timeout:g}`: the inputs that are worst for markdown "
        f"parsers, each one text of {MAX_TEXT_CHARS:,} characters (the largest question or response an import "
        f"accepts, `MAX_TEXT_CHARS`) and of {renderer.MAX_CHARS:,} (the largest the page parses, `MAX_CHARS`; "
        "longer texts, texts of over "
        f"{renderer.MAX_LINES:,} lines and texts with a run of over {renderer.MAX_WORD_CHARS:,} characters without "
        "a space are shown as plain escaped lines without parsing), and realistic responses for scale. *Page*: the "
        "desk's `model_text` filter (markdown-it-py with math kept for KaTeX, nh3, the escaped raw view), best of "
        f"three runs; a parse that runs past {renderer.BUDGET_S * 1000:.0f} ms stops and the text is shown as plain "
        "escaped lines (`shown as`). *Whole parse*: markdown-it-py with the same rules and no budget, once. "
        "*Python-Markdown*: the renderer this replaced (fenced code, tables, nl2br, then nh3), once, in a child "
        "process stopped after the timeout. Goal: the page under "
        f"{GOAL_MS:.0f} ms for every input. The machine is shared: the load average was {load:.1f} on its "
        f"{os.cpu_count()} cores when the runs began, so absolute times are several times an idle machine's.",
        "",
        f"Worst page time: **{worst[0]}**, {worst[1] * 1000:.1f} ms (Python-Markdown on the same input: "
        f"{old_cell(worst[4])} ms). Every input under "
        f"{GOAL_MS:.0f} ms: **{'yes' if worst[1] * 1000 < GOAL_MS else 'no'}**.",
    ]
    for n, rows in tables.items():
        plain = [row[0] for row in rows if row[2] != "markdown"]
        lines += [
            "",
            f"### {n:,} characters ({len(plain)} of {len(rows)} shown as plain text)",
            "",
            "| input | page (ms) | shown as | whole parse (ms) | Python-Markdown (ms) | old / page "
            "| old / whole parse |",
            "|---|---:|---|---:|---:|---:|---:|",
        ]
        for name, new, shown, full, old in rows:
            lines.append(
                f"| {name} | {new * 1000:,.1f} | {shown} | {full * 1000:,.1f} | {old_cell(old)} | {ratio(new, old)} "
                f"| {ratio(full, old)} |"
            )
    from bench.report import write_section

    write_section("render", "\n".join(lines))


if __name__ == "__main__":
    main()
