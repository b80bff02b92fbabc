"""Which of a text's verdict statements is the critic's verdict."""

from __future__ import annotations

from critic_worker.reading.text import REVISION, Statement, quote


def decide(statements: list[Statement], *, what: str, text: str) -> tuple[Statement | None, str]:
    """The most explicit kind of statement wins (labelled over prose over bare numbers); among those, the last one,
    the critic's conclusion. Two of them that differ on the winner's own line make the text ambiguous, unless words
    between them revise the first ('Initially [[A>B]], but on reflection [[B>A]]'). ``text`` is the cleaned text
    the statements' positions point into.

    Returns (statement, "") or (None, the reason the text is unreadable)."""
    if not statements:
        return None, f"no {what} is stated"
    top = max(s.tier for s in statements)
    best = [s for s in statements if s.tier == top]
    winner = max(best, key=lambda s: s.position)
    # The nearest differing one decides: words that revise it also stand before any earlier one.
    rival = max(
        (s for s in best if s.line == winner.line and s is not winner and s.value != winner.value),
        key=lambda s: s.position,
        default=None,
    )
    if rival is not None and not REVISION.search(text[rival.position + len(rival.quote) : winner.position]):
        return None, f"two different {what}s in one line: {quote(rival.quote)} and {quote(winner.quote)}"
    if winner.problem:
        return None, winner.problem
    return winner, ""
