"""The app's URLs plus a view that raises (a server error) and one that refuses (403), for the log test."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.urls import path

from webapp.urls import urlpatterns as app_urlpatterns


@login_not_required
def fails(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("a bug for the log test")


@login_not_required
def refuses(request: HttpRequest) -> HttpResponse:
    raise PermissionDenied("Only administrators can do this.")


urlpatterns = [path("fails/", fails), path("refuses/", refuses), *app_urlpatterns]
