"""Prompt profiles, for administrators: every profile with where it is used, one profile's page with a box that
reads a critic's text with it, and the form that defines one (new, new from an existing one, or an edit while
nothing uses it). The services decide what may be saved, changed or deleted, as they do for the API."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from annotations.forms_profiles import ProfileForm, profile_form_defaults, profile_form_initial
from annotations.models import PromptProfile
from annotations.permissions import admin_required
from annotations.selectors.profiles import profile_detail as profile_described
from annotations.selectors.profiles import profile_reading, profile_table, profile_uses_in_words
from annotations.services.items import MAX_TEXT_CHARS
from annotations.services.profiles import FIELDS, prompt_profile_create, prompt_profile_delete, prompt_profile_update


def _described(name: str) -> dict[str, Any]:
    detail = profile_described(name=name)
    if detail is None:
        raise Http404(f"No profile named {name!r}.")
    return detail


@admin_required
@require_GET
def profile_list(request: HttpRequest) -> HttpResponse:
    return render(request, "annotations/profile_list.html", {"profiles": profile_table()})


@admin_required
@require_GET
def profile_detail(request: HttpRequest, name: str) -> HttpResponse:
    return render(request, "annotations/profile_detail.html", {"profile": _described(name), "text": ""})


@admin_required
@require_POST
def profile_read(request: HttpRequest, name: str) -> HttpResponse:
    """Read the pasted text with the profile's reader (as manage.py parse_verdict does) and show the reading: the
    page, or for htmx its reading fragment."""
    profile = _described(name)
    text = request.POST.get("text", "")
    context: dict[str, Any] = {"profile": profile, "text": text, "read": True}
    status = 200
    if len(text) > MAX_TEXT_CHARS:
        context["too_long"] = f"The text has {len(text):,} characters; the box reads at most {MAX_TEXT_CHARS:,}."
        status = 400
    else:
        context["reading"] = profile_reading(name=name, text=text)
        context["reading_json"] = json.dumps(context["reading"])
    template = "annotations/profile_detail.html"
    if request.htmx:  # type: ignore[attr-defined]
        template += "#reading"
    return render(request, template, context, status=status)


def _form_page(request: HttpRequest, form: ProfileForm, *, status: int = 200, **context: Any) -> HttpResponse:
    return render(request, "annotations/profile_form.html", {"form": form, **context}, status=status)


@admin_required
@require_http_methods(["GET", "POST"])
def profile_new(request: HttpRequest) -> HttpResponse:
    """GET: the form, with a new profile's defaults (``?kind=pairwise`` for a pairwise one) or a copy of another
    profile's fields (``?from=NAME``: how a team changes a rubric in use). POST: define the profile."""
    source = request.GET.get("from", "")
    if request.method == "POST":
        form = ProfileForm(request.POST)
        if form.is_valid():
            try:
                created = prompt_profile_create(created_by=request.user, **form.profile_fields())
            except ValidationError as exc:
                form.add_service_errors(exc)
            else:
                messages.success(request, f"Profile {created.name!r} saved: datasets and imports can use it now.")
                return redirect("profile-detail", name=created.name)
        return _form_page(request, form, status=400, source=source)
    if source:
        initial = profile_form_initial(_described(source), copy=True)
    else:
        initial = profile_form_defaults(request.GET.get("kind", ""))
    return _form_page(request, ProfileForm(initial=initial), source=source)


@admin_required
@require_http_methods(["GET", "POST"])
def profile_edit(request: HttpRequest, name: str) -> HttpResponse:
    """Change a defined profile while nothing uses it (the service refuses otherwise, and so does the database)."""
    row = get_object_or_404(PromptProfile, name=name)
    if request.method == "POST":
        form = ProfileForm(request.POST)
        if form.is_valid():
            try:
                changed = prompt_profile_update(profile=row, **form.profile_fields())
            except ValidationError as exc:
                form.add_service_errors(exc)
            else:
                messages.success(request, f"Profile {changed.name!r} saved.")
                return redirect("profile-detail", name=changed.name)
        return _form_page(request, form, status=400, editing=row, in_use=profile_uses_in_words(name=name))
    in_use = profile_uses_in_words(name=name)
    initial = profile_form_initial({field: getattr(row, field) for field in FIELDS}, copy=False)
    return _form_page(request, ProfileForm(initial=initial), status=409 if in_use else 200, editing=row, in_use=in_use)


@admin_required
@require_POST
def profile_delete(request: HttpRequest, name: str) -> HttpResponse:
    row = get_object_or_404(PromptProfile, name=name)
    try:
        prompt_profile_delete(profile=row)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("profile-detail", name=name)
    messages.success(request, f"Profile {name!r} deleted.")
    return redirect("profile-list")
