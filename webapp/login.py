"""The login page: after logging in, go back to `next` only if it is a page (a URL a browser can GET); the logout,
or any other POST-only URL, leads to the home page instead of a 405."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from django.contrib.auth import views as auth_views
from django.http import HttpRequest
from django.urls import Resolver404, resolve


def _methods_of(view: Callable[..., Any]) -> set[str] | None:
    """The HTTP methods a resolved view answers, when it says (a class view's `http_method_names`, or the list of
    a `require_http_methods` wrapper anywhere in its chain of decorators); None if it accepts any."""
    view_class = getattr(view, "view_class", None)
    if view_class is not None:
        return {name.upper() for name in view_class.http_method_names if hasattr(view_class, name)}
    layer: Any = view
    while layer is not None:
        if inspect.isfunction(layer):
            allowed = inspect.getclosurevars(layer).nonlocals.get("request_method_list")
            if allowed is not None:
                return set(allowed)
        layer = getattr(layer, "__wrapped__", None)
    return None


def is_a_page(url: str) -> bool:
    """Whether `url` (a path on this site) resolves to a view that answers GET."""
    try:
        match = resolve(urlsplit(url).path)
    except Resolver404:
        return False
    methods = _methods_of(match.func)
    return methods is None or "GET" in methods


class LoginView(auth_views.LoginView):
    redirect_authenticated_user = True

    def get_redirect_url(self, request: HttpRequest | None = None) -> str:
        url = super().get_redirect_url()  # "" unless safe (same host, allowed scheme); `request` is only in the stubs
        return url if url and is_a_page(url) else ""
