"""GET /api/profiles (every logged-in account) and POST /api/profiles (administrators): the built-in prompt
profiles and those a team defines. Thin: each endpoint calls one selector or service."""

from __future__ import annotations

from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from annotations.api.auth import ADMIN
from annotations.api.base import responses
from annotations.selectors.datasets import require_active
from annotations.selectors.profiles import profile_list
from annotations.services.profiles import prompt_profile_create
from critic_worker.profiles import SYSTEM_PROMPT

router = Router(tags=["profiles"])


class ProfileIn(Schema):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,31}$", description="1-32 lower-case letters, digits, . _ -")
    kind: Literal["pointwise", "pairwise"]
    template: str
    title: str = ""
    system: str = SYSTEM_PROMPT
    score_min: float | None = None
    score_max: float | None = None
    score_step: float | None = None
    allow_tie: bool = True
    reader: str = "pattern"
    verdict_pattern: str = ""
    value_map: dict[str, str] = {}
    verdict_line: str = ""


class ProfileOut(Schema):
    name: str
    kind: str
    title: str
    builtin: bool
    template: str
    system: str
    score_min: float | None
    score_max: float | None
    score_step: float | None
    allow_tie: bool | None
    reader: str
    verdict_pattern: str
    value_map: dict[str, str]
    verdict_line: str


@router.get(
    "",
    response=responses({200: list[ProfileOut]}, 403),
    summary="Every prompt profile: the built-in families, then the team's",
)
def list_profiles(request: HttpRequest) -> Any:
    require_active(request.user)
    return profile_list()


@router.post(
    "",
    response=responses({201: ProfileOut}, 403, 409, 422),
    summary="Define a prompt profile (administrators)",
    auth=ADMIN,
)
def create_profile(request: HttpRequest, payload: ProfileIn) -> Any:
    created = prompt_profile_create(created_by=request.user, **payload.dict())
    return Status(201, next(p for p in profile_list() if p["name"] == created.name))
