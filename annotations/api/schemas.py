"""What the API takes and returns (the OpenAPI document's schemas)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from ninja import Field, Schema

from annotations.importers.formats import FORMATS as IMPORT_FORMATS
from annotations.models import Probe, Split, TrainingExport
from critic_worker.profile_specs import NAME as PROFILE_NAME

# A profile's name, built-in or defined (GET /api/profiles lists them): an unknown one is the service's 422.
ProfileName = Annotated[str, Field(pattern=PROFILE_NAME.pattern, max_length=32)]
# Names a client can only choose from: the OpenAPI document lists them, so a typo is a 422 before any service runs.
ImportFormat = StrEnum("ImportFormat", {name: name for name in ("auto", *IMPORT_FORMATS)})  # type: ignore[misc]
# Form fields cannot say null: "" is the dataset's (or item's) default.
PROFILE_OR_DEFAULT = f"^({PROFILE_NAME.pattern[1:-1]})?$"
PROFILE_HELP = "A prompt profile's name (GET /api/profiles); empty: the dataset's default for the item's kind."
SplitOrDefault = StrEnum("SplitOrDefault", {"default": "", **{n: n for n in Split.values}})  # type: ignore[misc]
SplitName = StrEnum("SplitName", {name: name for name in Split.values})  # type: ignore[misc]
ExportFormat = StrEnum("ExportFormat", {name: name for name in TrainingExport.Format.values})  # type: ignore[misc]
ProbeKind = StrEnum("ProbeKind", {name: name for name in Probe.values})  # type: ignore[misc]

# A primary key in a path: PostgreSQL's bigint, so that no id is a server error.
Id = Annotated[int, Field(ge=1, le=2**63 - 1)]


class Error(Schema):
    detail: str


class FieldErrors(Schema):
    detail: dict[str, list[str]]


class DatasetOut(Schema):
    id: int
    name: str
    description: str
    pointwise_profile: str
    pairwise_profile: str
    review_overlap: int
    gold_fraction: float


class DatasetIn(Schema):
    name: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=100_000)
    pointwise_profile: ProfileName = "pointwise"
    pairwise_profile: ProfileName = "pairwise"
    review_overlap: int = Field(1, ge=1, le=100)
    disagreement_threshold: float = Field(0.1, ge=0, le=1)
    gold_fraction: float = Field(0.0, ge=0, le=1)


class HumanVerdictOut(Schema):
    reviewer: str
    score: float | None
    preference: str | None
    revised_score: float | None
    revised_preference: str | None
    source: str
    committed_at: datetime


class CriticVerdictOut(Schema):
    checkpoint: str
    status: str
    score: float | None
    preference: str | None
    confidence: float | None
    probabilities: dict[str, float]
    forced: bool
    justification: str
    error: str


class ContextTurn(Schema):
    role: str = Field(description='"user", "assistant" or "context" (a note the original judge was given)')
    text: str


class ItemImageOut(Schema):
    sha256: str
    url: str
    width: int
    height: int


class ItemOut(Schema):
    id: int
    dataset: int
    external_id: str
    kind: str
    profile: str
    split: str
    question: str
    reference: str
    response_a: str
    model_a: str
    response_b: str
    model_b: str
    image_sha256: str
    image_url: str
    context: list[ContextTurn] = Field(description="The conversation's earlier turns, given to the critic first.")
    images: list[ItemImageOut]  # every image, in order; the first is image_sha256's
    human_verdicts: list[HumanVerdictOut] | None = None  # None: hidden until you judge the item
    critic_verdicts: list[CriticVerdictOut] | None = None


class ItemPage(Schema):
    count: int
    offset: int
    items: list[ItemOut]


class ProgressOut(Schema):
    items: int
    checkpoint: str | None
    critic_done: int
    critic_failed: int
    critic_pending: int
    critic_forced: int = Field(
        description="Verdicts read from the critic's probabilities (its text was unreadable): for a reviewer, only "
        "on the items they have judged (the blind rule); all for an administrator."
    )
    human_verdicts: int


class ImportOut(Schema):
    id: int
    dataset: int
    status: str
    stage: str
    rows_done: int
    rows_total: int
    report: dict[str, Any]
    error: str
    url: str


class ExportIn(Schema):
    format: ExportFormat
    include_agreements: bool = False
    checkpoint: str = Field("", max_length=200)  # a checkpoint name; empty: the active one
    merge_with_export: int | None = Field(None, ge=1, le=2**31 - 1)  # the number of a finished export of the format


class ExportOut(Schema):
    id: int
    number: int
    dataset: int
    format: str
    status: str
    items_done: int
    items_total: int
    filters: dict[str, Any]
    manifest: dict[str, Any]
    error: str
    url: str
    download_url: str | None


class SwapCheckOut(Schema):
    checkpoint: str
    queued: int


Quantization = StrEnum("Quantization", {name: name for name in ("nf4", "int8", "none")})  # type: ignore[misc]


class DriftAuditIn(Schema):
    checkpoint: str = Field(..., min_length=1, max_length=200)  # a checkpoint's name
    sample: int = Field(100, ge=1, le=2000)  # items drawn from the dataset, each judged once per quantization
    quantizations: list[Quantization] = Field(default_factory=lambda: list(Quantization), min_length=2, max_length=3)
    seed: int | None = Field(None, ge=0, le=2**31 - 1)  # the same seed draws the same items; null: random


class ProbeIn(Schema):
    kind: ProbeKind  # blank-image, other-image or swap
    sample: int | None = Field(None, ge=1, le=2**31 - 1)  # a seeded random sample of this many items; none: all
    checkpoint: str = Field("", max_length=200)  # a checkpoint name; empty: the active one


class ProbeOut(Schema):
    checkpoint: str
    kind: str
    queued: int
