"""What the API takes and returns (the OpenAPI document's schemas)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Schema


class DatasetOut(Schema):
    id: int
    name: str
    description: str
    pointwise_profile: str
    pairwise_profile: str
    review_overlap: int
    gold_fraction: float


class DatasetIn(Schema):
    name: str
    description: str = ""
    pointwise_profile: str = "pointwise"
    pairwise_profile: str = "pairwise"
    review_overlap: int = 1
    disagreement_threshold: float = 0.1
    gold_fraction: float = 0.0


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
    critic_forced: int
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
    format: str
    include_agreements: bool = False
    checkpoint: str = ""  # a checkpoint name; empty: the active one
    merge_with_export: int | None = None  # the number of a finished export of the same format


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
