"""Prompt profiles by name: the built-in families (code) and the profiles a team defined (database), each as the
same plain critic_worker Profile, so that callers never ask where a profile came from."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Q

from annotations.models import CriticVerdict, Dataset, HumanVerdict, Item, PromptProfile
from critic_worker.profile_specs import profile_from_spec
from critic_worker.profiles import PROFILES, Kind, Profile


class StoredProfiles:
    """The profiles a team defined (PromptProfile rows), as critic_worker's ProfileSource: registered once by
    annotations.apps, so that get_profile(name) finds them everywhere, the workers included."""

    def profile(self, name: str) -> Profile | None:
        row = PromptProfile.objects.filter(name=name).first()
        return profile_from_spec(row.spec()) if row is not None else None

    def catalogue(self) -> list[tuple[str, Kind, str]]:
        rows = PromptProfile.objects.values_list("name", "kind", "title")
        return [(name, "pairwise" if kind == "pairwise" else "pointwise", title or name) for name, kind, title in rows]


def score_span_sql(column: str, *, otherwise: str) -> tuple[str, list[Any]]:
    """SQL for the score range (max - min, in the profile's points) of the profile named in ``column``, as
    ``CASE column WHEN %s THEN %s ... ELSE otherwise END``, and its parameters: every pointwise profile, built-in or
    defined; ``otherwise`` (a constant) for the rest. For queries that compare scores across profiles."""
    spans = [(name, p.score_max - p.score_min) for name, p in PROFILES.items() if p.is_pointwise]  # type: ignore[operator]
    defined = PromptProfile.objects.filter(kind="pointwise")
    spans += defined.values_list("name", models.F("score_max") - models.F("score_min"))
    sql = f"CASE {column}" + " WHEN %s THEN %s" * len(spans) + f" ELSE {otherwise} END"
    return sql, [value for name, span in spans for value in (name, float(span))]


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
