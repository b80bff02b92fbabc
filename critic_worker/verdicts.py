"""Verdicts and readings: the plain values every side of Critic Desk passes around. Django-free and torch-free.

A ``Verdict`` is what a critic (or a reviewer) decided: a score on a profile's range or a preference A / B / tie.
A ``Reading`` is what a reader made of a critic's free text: the verdict, or None, and in both cases the reason
(which statement was read, or why the text is unreadable), so that people and the worker's forced path know why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

PREFERENCES: tuple[str, ...] = ("A", "B", "tie")


@dataclass(frozen=True)
class Verdict:
    """A verdict: a score (pointwise profiles) or a preference A / B / tie (pairwise), with its justification.

    ``strong`` keeps WildVision's five-way strength (A>>B against A>B); other profiles leave it False."""

    score: float | None = None
    preference: str | None = None
    justification: str = ""
    strong: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "justification", self.justification.strip())
        if (self.score is None) == (self.preference is None):
            raise ValueError("a verdict has a score or a preference, not both and not neither")
        if self.preference is not None and self.preference not in PREFERENCES:
            raise ValueError(f"preference must be one of {PREFERENCES}, not {self.preference!r}")
        if self.score is not None:
            if not math.isfinite(self.score):
                raise ValueError("a score must be a finite number")
            object.__setattr__(self, "score", round(float(self.score), 2))

    @property
    def label(self) -> str:
        """The verdict as one word: the score as written, or the preference."""
        return format_score(self.score) if self.score is not None else str(self.preference)


def format_score(score: float) -> str:
    """85.0 -> '85', 7.5 -> '7.5'; scores carry at most two decimals."""
    return str(int(score)) if float(score).is_integer() else f"{score:.2f}".rstrip("0")


@dataclass(frozen=True)
class Reading:
    """A reader's result: ``verdict`` (None when the text is unreadable) and ``reason``, one line that says which
    statement was read (``'Final Score: 8.5/10' -> 85 ...``) or why nothing could be (``two different scores ...``)."""

    verdict: Verdict | None
    reason: str

    @property
    def readable(self) -> bool:
        return self.verdict is not None

    def as_json(self) -> dict[str, object]:
        """{"readable", "score", "preference", "reason"}: the shape ``manage.py parse_verdict`` prints."""
        v = self.verdict
        return {
            "readable": v is not None,
            "score": v.score if v is not None else None,
            "preference": v.preference if v is not None else None,
            "reason": self.reason,
        }


def unreadable(reason: str) -> Reading:
    return Reading(verdict=None, reason=reason)
