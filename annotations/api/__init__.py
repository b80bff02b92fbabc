"""The REST API (django-ninja): token auth, an OpenAPI document at /api/openapi.json, docs at /api/docs.
Thin, like the views: each endpoint calls one service or selector. Reviewers' tokens cannot reach what only
administrators may do, and see verdicts on an item only once they have judged it, as on the pages.

One module per area: `auth` (tokens), `base` (the API object and its error answers), `schemas`, and the
endpoints of `datasets`, `items`, `imports`, `exports`, `metrics` and `drift`, registered on import below, and the
`profiles` router."""

from __future__ import annotations

from annotations.api import datasets, drift, exports, imports, items, metrics  # noqa: F401  (registers the endpoints)
from annotations.api.base import api
from annotations.api.profiles import router as profiles_router

api.add_router("/profiles", profiles_router)

__all__ = ["api"]
