"""Creating and changing the prompt profiles a team defines. A profile in use (named by an item, a dataset or a
verdict) cannot change: a changed rubric is a new profile, so results never mix rubrics silently."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from annotations.models import PromptProfile
from annotations.selectors.profiles import profile_uses_in_words
from critic_worker.profile_specs import ProfileError, ProfileSpec, profile_from_spec
from critic_worker.profiles import PROFILES, SYSTEM_PROMPT

FIELDS = [
    "name", "kind", "title", "template", "system", "score_min", "score_max", "score_step", "allow_tie", "reader",
    "verdict_pattern", "value_map", "verdict_line",
]  # fmt: skip


def _checked(fields: dict[str, Any]) -> dict[str, Any]:
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise ValidationError({name: "not a profile field" for name in sorted(unknown)})
    values = {"system": SYSTEM_PROMPT, "value_map": {}, **fields}
    if values.get("name") in PROFILES:
        raise ValidationError({"name": f"{values['name']!r} is a built-in profile"})
    try:
        profile_from_spec(ProfileSpec(**values))
    except ProfileError as exc:
        raise ValidationError(exc.errors) from None
    except TypeError as exc:
        raise ValidationError({"__all__": str(exc)}) from None
    return values


def prompt_profile_check(*, fields: dict[str, Any], instance: PromptProfile | None = None) -> None:
    """ValidationError (by field) when these fields cannot make a profile, or when ``instance`` (a stored profile
    being changed) is in use; the checks that creating and changing run, for forms that save themselves."""
    if instance is not None:
        _refuse_if_used(instance.name)
    _checked(fields)


def _refuse_if_used(name: str) -> None:
    said = profile_uses_in_words(name=name)
    if said:
        raise ValidationError({"__all__": f"{name!r} is in use ({said}): create a new profile for a changed rubric"})


PROFILE_LOCK = 1_640_021  # the first key of a profile name's advisory lock (migration 0026, whose triggers take it)


def _locked(profile: PromptProfile) -> PromptProfile:
    """The profile's row, locked for a change, with its name's lock held exclusively; ValidationError at once when a
    transaction that names the profile is running (a dataset being saved, an import writing items: the triggers of
    migration 0026 hold the name's lock, shared, until they commit), rather than a request held for as long as an
    import runs. Inside a transaction."""
    locked = PromptProfile.objects.select_for_update().get(pk=profile.pk)
    if connection.vendor != "postgresql":  # the demo's SQLite: one writer at a time, no triggers
        return locked
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s, hashtext(%s))", [PROFILE_LOCK, locked.name])
        (free,) = cursor.fetchone()
    if not free:
        raise ValidationError(
            {
                "__all__": f"{locked.name!r} is being put to use right now (a dataset or an import is naming it): "
                "it cannot change while that runs; try again when it has finished"
            }
        )
    return locked


def prompt_profile_create(*, created_by: Any = None, **fields: Any) -> PromptProfile:
    """A new profile from its fields (see critic_worker.profile_specs); ValidationError by field when it cannot be
    one, or when the name is taken. Nothing is stored on error."""
    values = _checked(fields)
    try:
        with transaction.atomic():
            return PromptProfile.objects.create(created_by=created_by, **values)
    except IntegrityError:
        raise ValidationError({"name": f"a profile named {values['name']!r} exists"}) from None


def prompt_profile_update(*, profile: PromptProfile, **fields: Any) -> PromptProfile:
    """Change a profile that nothing uses yet; ValidationError when something does (say what), when the new
    fields cannot make a profile, or when its new name is taken. Nothing is changed on error."""
    with transaction.atomic():
        locked = _locked(profile)
        old_name = locked.name
        _refuse_if_used(old_name)
        current = {name: getattr(locked, name) for name in FIELDS}
        values = _checked({**current, **fields})
        for name, value in values.items():
            setattr(locked, name, value)
        try:
            with transaction.atomic():
                locked.save()
        except IntegrityError:
            _refuse_if_used(old_name)  # named meanwhile by an item or dataset: the trigger said no
            raise ValidationError({"name": f"a profile named {values['name']!r} exists"}) from None
    return locked


def prompt_profile_delete(*, profile: PromptProfile) -> None:
    """Delete a profile that nothing uses yet; ValidationError (saying what uses it) when something does. The
    database refuses the deletion of a profile in use too, whichever code asks."""
    with transaction.atomic():
        locked = _locked(profile)
        _refuse_if_used(locked.name)
        try:
            with transaction.atomic():
                locked.delete()
        except IntegrityError:  # named meanwhile by an item or dataset: the trigger said no
            _refuse_if_used(locked.name)
            raise
