"""Prompt profiles: one per LLaVA-Critic prompt family. Django-free and torch-free.

A profile says what kind of item it judges (one response or two), and the verdict's shape: a score on a
closed range, or a preference among A / B / tie. The database's check constraints are generated from this
registry, so a score outside its profile's range cannot be stored by any code path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["pointwise", "pairwise"]
PREFERENCES: tuple[str, ...] = ("A", "B", "tie")


@dataclass(frozen=True)
class Profile:
    name: str
    kind: Kind
    title: str
    score_min: float | None = None
    score_max: float | None = None
    needs_reference: bool = False

    @property
    def is_pointwise(self) -> bool:
        return self.kind == "pointwise"


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile("pointwise", "pointwise", "Score out of 100 (model card)", 0, 100),
        Profile("caption", "pointwise", "Detailed caption, Final Score 0-100", 0, 100),
        Profile("llava-bench", "pointwise", "LLaVA-Bench, 1-10 against a reference", 1, 10, needs_reference=True),
        Profile("pairwise", "pairwise", "First or second response (model card)"),
        Profile("wildvision", "pairwise", "WildVision, [[A>B]] ... [[B>A]]"),
    )
}


def profile_names(kind: Kind | None = None) -> list[str]:
    return [name for name, p in PROFILES.items() if kind is None or p.kind == kind]


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise KeyError(f"unknown profile {name!r}; known: {', '.join(PROFILES)}") from None
