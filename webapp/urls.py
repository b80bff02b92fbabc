from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponseRedirect
from django.templatetags.static import static
from django.urls import URLPattern, URLResolver, include, path
from django.views.decorators.http import require_GET

from annotations.api import api
from webapp.health import healthz
from webapp.login import LoginView


@login_not_required
@require_GET
def favicon(request: HttpRequest) -> HttpResponseRedirect:
    return HttpResponseRedirect(static("annotations/favicon.svg"))


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
    # Browsers ask for /favicon.ico whatever the page says; send them to the one the pages name.
    path("favicon.ico", favicon),
    path("accounts/login/", LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    # The one-time links of invitations and password resets (annotations/services/users.py).
    path(
        "accounts/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(template_name="annotations/password_set.html"),
        name="password_reset_confirm",
    ),
    path(
        "accounts/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(template_name="annotations/password_set_done.html"),
        name="password_reset_complete",
    ),
    path("admin/", admin.site.urls),
    path("", include("annotations.urls")),
]
