"""Who is calling: a bearer token for the API, a session or token for its documents."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.models import User
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from ninja.security import HttpBearer

from annotations.permissions import is_admin
from annotations.services.tokens import api_token_user


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        user = api_token_user(key=token)
        if user is not None:
            request.user = user
        return user


def session_or_token(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """The API's own documents (schema, docs) open to a logged-in browser or a valid token, no one else."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        header = request.headers.get("Authorization", "")
        if not request.user.is_authenticated and header.startswith("Bearer "):
            user = api_token_user(key=header.removeprefix("Bearer ").strip())
            if user is not None:
                request.user = user
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        return view(request, *args, **kwargs)

    return wrapped


class AdminTokenAuth(TokenAuth):
    """The token of an administrator, for their operations. The role is checked here, with the token and before
    ninja reads the request's parameters and body: a reviewer gets 403 whatever they send (not a 422 that would
    teach them the body's shape, nor a 404 that would say which rows exist)."""

    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        user = super().authenticate(request, token)
        if user is not None and not is_admin(user):
            raise PermissionDenied("Only administrators can do this.")
        return user


ADMIN = AdminTokenAuth()
