"""Error pages of the project's own: the CSRF failure says what happened and how to go on."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

CSRF_REASON = (
    "This page's security token is out of date: you logged out and in again, perhaps in another tab. "
    "Reload the page and submit again; what you typed on the desk is kept."
)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """Django's CSRF_FAILURE_VIEW: a 403 inside the layout, with a reason a person can act on."""
    return render(request, "403.html", {"exception": CSRF_REASON, "retry": True}, status=403)
