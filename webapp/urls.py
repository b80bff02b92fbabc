from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import URLPattern, URLResolver, include, path

from annotations.api import api
from webapp.health import healthz
from webapp.login import LoginView


def _api_urls() -> tuple[list[URLPattern | URLResolver], str, str]:
    """The API answers 401 itself (token auth), instead of the pages' redirect to the login form."""
    patterns, app_name, namespace = api.urls
    for pattern in patterns:
        if isinstance(pattern, URLPattern):
            login_not_required(pattern.callback)
    return patterns, app_name, namespace


urlpatterns = [
    path("api/", _api_urls()),
    path("healthz", healthz, name="healthz"),
    path("accounts/login/", LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("", include("annotations.urls")),
]
