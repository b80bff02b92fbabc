"""Prompt profiles by name: the built-in families (code) and the profiles a team defined (database), each as the
same plain critic_worker Profile, so that callers never ask where a profile came from."""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from annotations.models import CriticVerdict, Dataset, HumanVerdict, Item, PromptProfile
from critic_worker.profile_specs import profile_from_spec
from critic_worker.profiles import PROFILES, Profile


def profile_named(*, name: str) -> Profile:
    """The profile called ``name``. KeyError (with the known names) when there is none."""
    if name in PROFILES:
        return PROFILES[name]
    row = PromptProfile.objects.filter(name=name).first()
    if row is None:
        known = [*PROFILES, *PromptProfile.objects.values_list("name", flat=True)]
        raise KeyError(f"unknown profile {name!r}; known: {', '.join(known)}")
    return profile_from_spec(row.spec())


def profile_uses(*, name: str) -> dict[str, int]:
    """How many items, datasets (as a default) and verdicts name this profile: in use when any is non-zero."""
    return {
        "items": Item.objects.filter(profile=name).count(),
        "datasets": Dataset.objects.filter(Q(pointwise_profile=name) | Q(pairwise_profile=name)).count(),
        "critic_verdicts": CriticVerdict.objects.filter(profile=name).count(),
        "human_verdicts": HumanVerdict.objects.filter(profile=name).count(),
    }


def _described(profile: Profile, row: PromptProfile | None) -> dict[str, Any]:
    return {
        "name": profile.name,
        "kind": profile.kind,
        "title": profile.title,
        "builtin": row is None,
        "template": profile.template,
        "system": profile.system,
        "score_min": profile.score_min,
        "score_max": profile.score_max,
        "score_step": profile.score_step if row is not None or not profile.is_pointwise else 1.0,
        "allow_tie": profile.allow_tie if not profile.is_pointwise else None,
        "reader": row.reader if row is not None else profile.name,
        "verdict_pattern": row.verdict_pattern if row is not None else "",
        "value_map": dict(row.value_map or {}) if row is not None else {},
        "verdict_line": row.verdict_line if row is not None else "",
    }


def profile_list() -> list[dict[str, Any]]:
    """Every profile, built-ins first, as the API shows them."""
    rows = list(PromptProfile.objects.all())
    return [_described(p, None) for p in PROFILES.values()] + [_described(profile_from_spec(r.spec()), r) for r in rows]
