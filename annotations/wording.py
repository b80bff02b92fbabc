"""How the app says counts in messages built in Python (templates use Django's `pluralize`)."""

from __future__ import annotations


def counted(n: int, noun: str, plural: str = "") -> str:
    """'1 item', '2 items', '0 items'; `plural` for nouns that do not take an s ('1 reply', '2 replies')."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"
