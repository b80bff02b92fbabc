"""The API object, how it answers errors, and the responses every operation documents.

Every refusal is JSON with a `detail`: a sentence (`Error`), or, for 422, the reasons by field (`FieldErrors`), so
that a client reads one shape whatever refused it: the token check, a permission, a missing row, the request's own
validation or a service's rule."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest
from ninja import NinjaAPI
from ninja.errors import HttpError
from ninja.errors import ValidationError as RequestValidationError
from ninja.operation import Operation

from annotations.api.auth import TokenAuth, session_or_token
from annotations.api.schemas import Error, FieldErrors
from annotations.models import CriticCheckpoint
from annotations.selectors.judging import checkpoint_named


class CriticDeskApi(NinjaAPI):
    def get_openapi_operation_id(self, operation: Operation) -> str:
        # The endpoint's own name, stable when a module moves (ninja's default prefixes the module path).
        return operation.view_func.__name__


api = CriticDeskApi(
    title="Critic Desk API",
    version="1",
    description="Upload items and batches, read items with their verdicts and a dataset's progress. "
    "Authenticate with `Authorization: Bearer <token>` (make a token on your account page). "
    "Every refusal is JSON with a `detail`: 401 no or a wrong token, 403 not allowed for your role, 404 no such "
    "row, 409 the request is well formed but the data's state refuses it (the reason says why), 422 the reasons "
    "by field, 400 a text holds a NUL character (PostgreSQL cannot store it) or the body is not JSON.",
    auth=TokenAuth(),
    docs_decorator=session_or_token,
    urls_namespace="api",
)

_DESCRIPTIONS = {
    400: "The body is not JSON, or a text holds a NUL character.",
    401: "No token, or not a valid one.",
    403: "Your role may not do this (the detail says why).",
    404: "No such row.",
    409: "Well formed, but refused by the state of the data (the detail says why).",
    413: "The upload is larger than the limit.",
    422: "The reasons, by field.",
}


def responses(ok: dict[int, Any], *codes: int) -> dict[int, Any]:
    """`ok` plus the refusals an operation can give (401 always, 400 for NUL characters always), each with its
    schema, for the OpenAPI document."""
    out: dict[int, Any] = dict(ok)
    for code in sorted({400, 401, *codes}):
        out[code] = FieldErrors if code == 422 else Error
    return out


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    # ("query", "offset") -> "offset"; ("body", "payload", "name") -> "name"; ("body", "payload") -> "__all__"
    names = [str(part) for part in loc[1:] if part != "payload"]
    return ".".join(names) or "__all__"


@api.exception_handler(RequestValidationError)
def request_invalid(request: HttpRequest, exc: RequestValidationError) -> Any:
    detail: dict[str, list[str]] = {}
    for error in exc.errors:
        detail.setdefault(_field(error.get("loc", ())), []).append(str(error.get("msg", "Invalid.")))
    return api.create_response(request, {"detail": detail}, status=422)


@api.exception_handler(ValidationError)
def validation_error(request: HttpRequest, exc: ValidationError) -> Any:
    """A service's refusal: reasons by field are 422; a reason about the data as a whole (a duplicate, nothing to
    export, no critic configured) is 409 with that sentence."""
    if hasattr(exc, "error_dict") and set(exc.message_dict) != {"__all__"} and not _conflict_only(exc):
        return api.create_response(request, {"detail": exc.message_dict}, status=422)
    return api.create_response(request, {"detail": " ".join(exc.messages)}, status=409)


def _conflict_only(exc: ValidationError) -> bool:
    # "A dataset with this name already exists": the request is well formed; another row holds the name.
    codes = {error.code for errors in exc.error_dict.values() for error in errors}
    return codes <= {"unique", "unique_together"}


@api.exception_handler(PermissionDenied)
def permission_denied(request: HttpRequest, exc: PermissionDenied) -> Any:
    return api.create_response(request, {"detail": str(exc) or "Forbidden."}, status=403)


def checkpoint_or_404(name: str, known: Collection[str] | None = None) -> CriticCheckpoint:
    """The checkpoint a request names; a 404 that lists the known ones otherwise (`known`: those the caller may be
    told of, None for all)."""
    try:
        return checkpoint_named(name=name, known=known)
    except ValidationError as exc:
        raise HttpError(404, " ".join(exc.messages)) from None
