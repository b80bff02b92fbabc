"""Whole numbers read from a page's query string or form fields.

`str.isdigit()` is no test for `int()`: it is true for digits of other scripts and for superscripts ("²"), which
`int()` refuses, and for a string of thousands of digits, which `int()` refuses past Python's conversion limit.
Either reached `int()` as a server error; here they are simply not numbers."""

from __future__ import annotations

MAX_WHOLE = 2**63 - 1  # past every id and count the database holds
_MAX_DIGITS = len(str(MAX_WHOLE))


def whole_number(text: str | None) -> int | None:
    """The whole number `text` writes in the digits 0-9 (spaces around it allowed), at most MAX_WHOLE (a longer
    one is MAX_WHOLE: past anything it could be compared with); None for anything else, a sign included."""
    text = (text or "").strip()
    if not (text.isascii() and text.isdigit()):
        return None
    digits = text.lstrip("0") or "0"
    if len(digits) > _MAX_DIGITS:
        return MAX_WHOLE
    return min(int(digits), MAX_WHOLE)
