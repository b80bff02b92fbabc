"""Score ranges: each row's profile range, and scores in their profile's units or as a fraction of the range."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from critic_worker.profiles import get_profile


def profile_span(profile: str) -> tuple[float, float]:
    spec = get_profile(profile)
    return float(spec.score_min or 0), float(spec.score_max or 0)


def spans(names: NDArray[np.str_], profiles: NDArray[np.int32]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Each row's profile score range (lo, hi), profiles as codes into names."""
    used = np.unique(profiles)
    table = np.zeros((max(int(used.max()) + 1, 1) if used.size else 1, 2))
    for code in used.tolist():
        table[code] = profile_span(str(names[code]))
    return table[profiles, 0], table[profiles, 1]


def scaled(
    names: NDArray[np.str_], profiles: NDArray[np.int32], *scores: NDArray[np.float64]
) -> tuple[str, list[NDArray[np.float64]]]:
    """Scores in their profile's units, or as a fraction of the range when profiles with different ranges mix."""
    used = [str(names[code]) for code in np.unique(profiles).tolist()]
    if len({profile_span(p) for p in used}) <= 1:
        return (used[0] if used else "none"), list(scores)
    lo, hi = spans(names, profiles)
    width = np.where(hi > lo, hi - lo, 1.0)
    return "fraction of range", [(s - lo) / width for s in scores]
