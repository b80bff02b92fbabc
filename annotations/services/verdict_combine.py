"""Several reviewers' verdicts on one item, combined into one verdict the item's profile can produce: what a
training row states as the people's verdict (annotations.services.exports).

Scores: the median of the reviewers' scores (robust to one reviewer far off), put on the profile's scale by rounding
half up to its step (whole points for the built-ins; a team's profile has its own: halves, hundredths, hundreds), so
two reviewers' 85 and 90 give 88, never 87.5, and one reviewer's 4.5 on a 1-5 scale in halves stays 4.5.
Preferences: the choice of a strict majority of the reviewers; without one (one A and one B, or A, B and tie) there is
no combined preference and the item is left out."""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Sequence

from critic_worker.profiles import Profile

WHOLE_POINTS = 1.0  # the step of a profile that names none: the built-ins (Profile.verdicts)


def combine_rule(*, threshold: float) -> dict[str, str]:
    """How an export combines reviewers, in words, for its manifest."""
    return {
        "scores": (
            "the median of the reviewers' scores, rounded half up to the profile's step "
            "(whole points unless the profile has its own) and kept within its range; a single reviewer's score is "
            "rounded the same way"
        ),
        "preferences": "the preference of a strict majority of the reviewers",
        "left_out_as_reviewers_disagree": (
            "preferences without a strict majority (e.g. one A and one B); scores of two reviewers further apart "
            f"than the dataset's disagreement threshold ({threshold:g} of the profile's range)"
        ),
    }


def score_on_scale(*, score: float, profile: Profile) -> float:
    """The nearest score the profile can produce: rounded half up to the profile's step (WHOLE_POINTS when it names
    none) from its minimum, within its range. Raises ValueError for a profile without a score range."""
    if profile.score_min is None or profile.score_max is None:
        raise ValueError(f"the profile {profile.name!r} gives preferences, not scores")
    step = profile.score_step or WHOLE_POINTS
    # a score on the grid lands on itself: (score - min) / step is a whole number give or take the float's last bits
    steps = math.floor(round((score - profile.score_min) / step, 9) + 0.5)
    on_scale = round(profile.score_min + steps * step, 2)  # scores carry two decimals (Verdict rounds them so)
    return float(min(profile.score_max, max(profile.score_min, on_scale)))


def scores_combine(*, scores: Sequence[float], profile: Profile) -> float:
    """The reviewers' scores as one score the profile can produce (the median, on the profile's scale).
    Raises ValueError when `scores` is empty."""
    if not scores:
        raise ValueError("no scores to combine")
    return score_on_scale(score=statistics.median(scores), profile=profile)


def preferences_combine(*, preferences: Sequence[str]) -> str | None:
    """The preference ("A", "B" or "tie") chosen by more than half of the reviewers; None when none is."""
    if not preferences:
        return None
    choice, votes = Counter(preferences).most_common(1)[0]
    return choice if 2 * votes > len(preferences) else None
