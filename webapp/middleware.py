"""Middleware of the project's own."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import resolve_url


class RefuseNulCharacters:
    """PostgreSQL's text cannot hold a NUL character (\\0). A request that carries one in a query parameter, a form
    field or a JSON body gets a 400 naming it, instead of a server error wherever the value meets the database
    (a filter, a search, a note). Imports and datasets check their text as well, for callers that are not requests."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        where = self._nul_in(request)
        if where is not None:
            message = f"{where} contains a NUL character, which cannot be stored or searched."
            if request.path.startswith("/api/"):  # the API answers every refusal as JSON, as its document says
                return JsonResponse({"detail": message}, status=400)
            return HttpResponseBadRequest(message)
        return self.get_response(request)

    @staticmethod
    def _nul_in(request: HttpRequest) -> str | None:
        # A form's fields (not its files; Django reads no other body into POST).
        for data in (request.GET, request.POST) if request.method == "POST" else (request.GET,):
            for key, values in data.lists():
                if "\x00" in key or any("\x00" in value for value in values):
                    return f"The field {key.replace(chr(0), '')!r}"
        if request.content_type == "application/json" and b"\\u0000" in request.body:
            return "The JSON body"
        return None


class HtmxLoginRedirect:
    """An htmx request that needs a login (the session expired) would follow the redirect and swap the login page
    into the desk. It gets a 401 with `HX-Redirect` instead: the browser goes to the login page as a whole page,
    with `next` the page the user was on (HX-Current-URL), not the fragment's URL."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.headers.get("HX-Request") != "true" or response.status_code != 302:
            return response
        login = resolve_url(settings.LOGIN_URL)
        if urlsplit(response.get("Location", "")).path != login:
            return response
        current = urlsplit(request.headers.get("HX-Current-URL", ""))
        page = (current.path or "/") + (f"?{current.query}" if current.query else "")
        redirect = redirect_to_login(page)
        refused = HttpResponse("Your session has expired: log in again.", status=401, content_type="text/plain")
        refused["HX-Redirect"] = redirect["Location"]
        return refused
