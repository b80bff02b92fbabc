"""People, for administrators: the reviewers with their figures; create or invite, deactivate, promote, reset."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_http_methods, require_POST

from annotations.permissions import admin_required
from annotations.selectors.users import reviewer_stats
from annotations.services.judging import checkpoint_from_settings
from annotations.services.users import (
    password_link_path,
    user_create,
    user_password_reset,
    user_set_active,
    user_set_admin,
)

User = get_user_model()


class UserCreateForm(forms.Form):
    username = forms.CharField(label="User name", max_length=150)
    email = forms.EmailField(required=False)
    password = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Leave empty to invite: you get a one-time link that lets them choose their own.",
    )
    is_admin = forms.BooleanField(label="Administrator", required=False)


def _page(request: HttpRequest, form: UserCreateForm, link: str = "", status: int = 200) -> HttpResponse:
    context = {
        "rows": reviewer_stats(checkpoint=checkpoint_from_settings()),
        "form": form,
        "link": request.build_absolute_uri(link) if link else "",
        "link_days": max(1, settings.PASSWORD_RESET_TIMEOUT // 86400),
    }
    return render(request, "annotations/user_list.html", context, status=status)


@admin_required
@require_http_methods(["GET", "POST"])
def user_list(request: HttpRequest) -> HttpResponse:
    """GET: the accounts and their review figures. POST: create an account (with a password, or invited)."""
    form = UserCreateForm(request.POST or None)
    if request.method != "POST":
        return _page(request, form)
    if not form.is_valid():
        return _page(request, form, status=400)
    try:
        user = user_create(**form.cleaned_data)
    except ValidationError as exc:
        form.add_error(None, exc)
        return _page(request, form, status=400)
    role = "administrator" if user.is_staff else "reviewer"
    if user.has_usable_password():
        messages.success(request, f"{user.username} can log in now, as a {role}.")
        return _page(request, UserCreateForm())
    messages.success(request, f"{user.username} is invited as a {role}: send them the link below.")
    return _page(request, UserCreateForm(), link=password_link_path(user=user))


ACTIONS = {"activate", "deactivate", "make-admin", "make-reviewer", "reset-password"}


@admin_required
@require_POST
def user_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    user = get_object_or_404(User, pk=pk)
    link = ""
    try:
        if action == "activate":
            user_set_active(actor=request.user, user=user, active=True)  # type: ignore[arg-type]
            messages.success(request, f"{user.username} can log in again.")
        elif action == "deactivate":
            user_set_active(actor=request.user, user=user, active=False)  # type: ignore[arg-type]
            messages.success(request, f"{user.username} can no longer log in; their verdicts stay.")
        elif action == "make-admin":
            user_set_admin(actor=request.user, user=user, admin=True)  # type: ignore[arg-type]
            messages.success(request, f"{user.username} is now an administrator.")
        elif action == "make-reviewer":
            user_set_admin(actor=request.user, user=user, admin=False)  # type: ignore[arg-type]
            messages.success(request, f"{user.username} is now a reviewer.")
        elif action == "reset-password":
            link = user_password_reset(user=user)
            messages.success(
                request,
                f"{user.username}'s password and API tokens no longer work: send them the link below to choose "
                "a new password.",
            )
        else:
            messages.error(request, f"Unknown action {action!r}; one of: {', '.join(sorted(ACTIONS))}.")
            return _page(request, UserCreateForm(), status=404)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return _page(request, UserCreateForm(), status=400)
    return _page(request, UserCreateForm(), link=link)
