"""Who is calling: a bearer token for the API, a session or token for its documents."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.models import User
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from ninja.errors import HttpError
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


def admin_only(request: HttpRequest) -> None:
    if not is_admin(request.user):
        raise HttpError(403, "Only administrators can do this.")
