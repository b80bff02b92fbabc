"""Prompt profiles by name: the built-in families (code) and the profiles a team defined (database), each as the
same plain critic_worker Profile, so that callers never ask where a profile came from."""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.db import models
from django.db.models import Count, Q

from annotations.models import CriticVerdict, Dataset, HumanVerdict, Item, PromptProfile
from annotations.wording import counted
from critic_worker.profile_specs import profile_from_spec
from critic_worker.profiles import PROFILES, Kind, Profile, find_profile, get_profile
from critic_worker.verdicts import format_score


class StoredProfiles:
    """The profiles a team defined (PromptProfile rows), as critic_worker's ProfileSource: registered once by
    annotations.apps, so that get_profile(name) finds them everywhere, the workers included."""

    def profile(self, name: str) -> Profile | None:
        row = PromptProfile.objects.filter(name=name).first()
        return profile_from_spec(row.spec(), being_saved=False) if row is not None else None

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


USES_IN_WORDS = {
    "items": "item",
    "datasets": "dataset",
    "critic_verdicts": "critic verdict",
    "human_verdicts": "reviewer verdict",
}


def profile_uses_in_words(*, name: str) -> str:
    """What uses the profile, in words ("3 items, 1 dataset, 2 critic verdicts"); empty when nothing does."""
    return _in_words(profile_uses(name=name))


def _in_words(uses: dict[str, int]) -> str:
    return ", ".join(counted(n, USES_IN_WORDS[kind]) for kind, n in uses.items() if n)


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


def _every_profile() -> list[tuple[Profile, PromptProfile | None]]:
    """Every profile, built-ins first, each with its stored row (None for a built-in)."""
    rows = list(PromptProfile.objects.all())
    return [(p, None) for p in PROFILES.values()] + [(profile_from_spec(r.spec(), being_saved=False), r) for r in rows]


def profile_list() -> list[dict[str, Any]]:
    """Every profile, built-ins first, as the API shows them."""
    return [_described(profile, row) for profile, row in _every_profile()]


def profile_table() -> list[dict[str, Any]]:
    """Every profile as the Profiles page lists it, built-ins first: profile_list()'s fields with ``datasets`` (how
    many datasets name it as a default), ``items`` (how many items are judged with it) and ``in_use`` (either)."""
    items = dict(Item.objects.order_by().values_list("profile").annotate(n=Count("pk")))
    datasets: Counter[str] = Counter()
    for pointwise, pairwise in Dataset.objects.values_list("pointwise_profile", "pairwise_profile"):
        datasets.update({pointwise, pairwise})
    rows = []
    for profile, stored in _every_profile():
        row = _described(profile, stored)
        row["datasets"], row["items"] = datasets[profile.name], items.get(profile.name, 0)
        row["in_use"] = bool(row["datasets"] or row["items"])
        row["scale"] = _scale(profile)
        rows.append(row)
    return rows


def _scale(profile: Profile) -> str:
    """A profile's verdicts in words: "1-5 in steps of 1", "A / B / tie", "A / B (no tie)"."""
    if profile.is_pointwise:
        lo, hi = format_score(profile.score_min or 0), format_score(profile.score_max or 0)
        return f"{lo}-{hi} in steps of {format_score(profile.score_step or 1)}"
    labels = ["A>>B", "A>B", "tie", "B>A", "B>>A"] if profile.five_way else ["A", "B", "tie"]
    if profile.allow_tie:
        return " / ".join(labels)
    return " / ".join(label for label in labels if label != "tie") + " (no tie)"


VERDICT_LINES_SHOWN = 3  # the first ones, then the last: how the verdict lines look without listing 1001


def profile_detail(*, name: str) -> dict[str, Any] | None:
    """One profile as its page shows it, or None when no profile has this name: profile_list()'s fields, plus
    ``scale`` (its verdicts in words), ``verdict_lines`` (how a verdict is written back: the first few and the last;
    ``verdict_count`` in all), ``uses`` (profile_uses) and ``in_use`` (the same in words, empty when unused),
    ``created_at`` / ``created_by`` for a defined one, and ``datasets``: every dataset that names it as a default or
    holds items judged with it, as ``{"dataset", "default_for" (the kinds it is the default for), "items"}``, by
    dataset name."""
    profile = find_profile(name)
    if profile is None:
        return None
    row = PromptProfile.objects.select_related("created_by").filter(name=name).first() if not profile.builtin else None
    detail = _described(profile, row)
    verdicts = profile.verdicts()
    shown = verdicts if len(verdicts) <= VERDICT_LINES_SHOWN + 1 else [*verdicts[:VERDICT_LINES_SHOWN], verdicts[-1]]
    detail["verdict_lines"] = [(v.label + (" (strong)" if v.strong else ""), profile.verdict_line(v)) for v in shown]
    detail["verdict_count"] = len(verdicts)
    detail["scale"] = _scale(profile)
    detail["uses"] = profile_uses(name=name)
    detail["in_use"] = _in_words(detail["uses"])
    detail["created_at"] = row.created_at if row is not None else None
    detail["created_by"] = row.created_by if row is not None else None
    items = dict(Item.objects.filter(profile=name).order_by().values_list("dataset_id").annotate(n=Count("pk")))
    named = Dataset.objects.filter(Q(pk__in=items) | Q(pointwise_profile=name) | Q(pairwise_profile=name))
    detail["datasets"] = [
        {
            "dataset": dataset,
            "default_for": [k for k in ("pointwise", "pairwise") if getattr(dataset, f"{k}_profile") == name],
            "items": items.get(dataset.pk, 0),
        }
        for dataset in named.order_by("name")
    ]
    return detail


def profile_reading(*, name: str, text: str) -> dict[str, Any]:
    """What the profile's reader reads in a critic's text: ``{"readable", "score", "preference", "reason"}`` (the
    object ``manage.py parse_verdict`` prints). KeyError, naming the known profiles, for an unknown name."""
    return get_profile(name).read(text).as_json()
