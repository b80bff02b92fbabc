"""The choices every model shares, and the database's rule for a verdict's shape."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from critic_worker.profiles import PREFERENCES, PROFILES


class Kind(models.TextChoices):
    POINTWISE = "pointwise", "Pointwise (one response, a score)"
    PAIRWISE = "pairwise", "Pairwise (two responses, a preference)"


class Split(models.TextChoices):
    POOL = "pool", "Pool"
    GOLD = "gold", "Gold (frozen, never exported for training)"


class Preference(models.TextChoices):
    A = "A", "A is better"
    B = "B", "B is better"
    TIE = "tie", "Tie"


assert tuple(Preference.values) == PREFERENCES


class Probe(models.TextChoices):
    """A counterfactual probe: the item judged again with one thing changed, to see what the critic's verdict
    depends on. A probe's verdict is never the item's critic verdict (those have probe "")."""

    SWAP = "swap", "Responses swapped (A and B exchanged)"
    BLANK_IMAGE = "blank-image", "Blank image (white, of the same size)"
    OTHER_IMAGE = "other-image", "Another item's image"


class JobStatus(models.TextChoices):
    """The life of a critic verdict or a retraining job; moved on only by guarded updates in services."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


# The built-in profiles are checked by the constraints below; a team's own (PromptProfile rows, whose names can be
# none of these) by the triggers of migration 0021, which read the profile's kind and range from its row.
BUILTIN_POINTWISE = [name for name, p in PROFILES.items() if p.kind == "pointwise"]
BUILTIN_PAIRWISE = [name for name, p in PROFILES.items() if p.kind == "pairwise"]


def verdict_shape(score: str, preference: str, *, required: bool) -> Q:
    """A verdict (score or preference, by the profile's kind) that fits the row's profile: a built-in's range here,
    a defined profile's by trigger (only the shape here: a score, or one of A / B / tie, not both).

    With required=False both may be empty (no verdict yet, or no revision)."""
    # Each branch says isnull=False outright: a comparison with NULL is unknown, and CHECK lets unknown pass.
    a_preference = {f"{score}__isnull": True, f"{preference}__isnull": False, f"{preference}__in": PREFERENCES}
    a_score = {f"{preference}__isnull": True, f"{score}__isnull": False}
    fits = Q(profile__in=BUILTIN_PAIRWISE, **a_preference)
    fits |= ~Q(profile__in=[*BUILTIN_POINTWISE, *BUILTIN_PAIRWISE]) & (Q(**a_preference) | Q(**a_score))
    for name in BUILTIN_POINTWISE:
        p = PROFILES[name]
        fits |= Q(
            profile=name,
            **{
                f"{preference}__isnull": True,
                f"{score}__isnull": False,
                f"{score}__gte": p.score_min,
                f"{score}__lte": p.score_max,
            },
        )
    if required:
        return fits
    return fits | Q(**{f"{score}__isnull": True, f"{preference}__isnull": True})
