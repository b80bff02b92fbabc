"""The API object, and how it answers errors raised by services."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest
from ninja import NinjaAPI

from annotations.api.auth import TokenAuth, session_or_token

api = NinjaAPI(
    title="Critic Desk API",
    version="1",
    description="Upload items and batches, read items with their verdicts and a dataset's progress. "
    "Authenticate with `Authorization: Bearer <token>` (make a token on your account page).",
    auth=TokenAuth(),
    docs_decorator=session_or_token,
    urls_namespace="api",
)


@api.exception_handler(ValidationError)
def validation_error(request: HttpRequest, exc: ValidationError) -> Any:
    detail = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
    return api.create_response(request, {"detail": detail}, status=422)


@api.exception_handler(PermissionDenied)
def permission_denied(request: HttpRequest, exc: PermissionDenied) -> Any:
    return api.create_response(request, {"detail": str(exc) or "Forbidden."}, status=403)
