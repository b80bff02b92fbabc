"""Roles. A reviewer is any active account; an administrator is a staff account. Reviewers review and upload;
only administrators create datasets, export, retrain and administer."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.http.response import HttpResponseBase


def is_admin(user: AbstractBaseUser | AnonymousUser) -> bool:
    return bool(user.is_authenticated and user.is_active and getattr(user, "is_staff", False))


def acts_as_admin(user: AbstractBaseUser | AnonymousUser | None) -> bool:
    """For services that an administrator or a shell command (no user: whoever runs manage.py has the server) may
    do, and a reviewer may not."""
    return user is None or is_admin(user)


def admin_required(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """403 for anyone logged in who is not an administrator (the login middleware handles the anonymous)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not is_admin(request.user):
            raise PermissionDenied("Only administrators can do this.")
        return view(request, *args, **kwargs)

    return wrapped
