"""Middleware of the project's own."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse


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
