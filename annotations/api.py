"""The REST API (django-ninja): token auth, an OpenAPI document at /api/openapi.json, docs at /api/docs.
Thin, like the views: each endpoint calls one service or selector. Reviewers' tokens cannot reach what only
administrators may do, and see verdicts on an item only once they have judged it, as on the pages."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from ninja import File, Form, NinjaAPI, Schema, Status
from ninja.errors import HttpError
from ninja.files import UploadedFile
from ninja.security import HttpBearer

from annotations.models import CriticVerdict, HumanVerdict, ImportJob, Item, TrainingExport
from annotations.permissions import is_admin
from annotations.selectors import datasets as selectors
from annotations.selectors.judging import checkpoint_named, critic_progress
from annotations.selectors.metrics import agreement_for_dataset, metrics_checkpoint
from annotations.services.datasets import dataset_create
from annotations.services.exports import export_data_file, export_file, training_export_queue
from annotations.services.import_jobs import import_job_create
from annotations.services.items import item_create
from annotations.services.judging import checkpoint_from_settings, checkpoint_resolve, swap_checks_queue
from annotations.services.tokens import api_token_user


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        user = api_token_user(key=token)
        if user is not None:
            request.user = user
        return user


def session_or_token(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """The API's own documents (schema, docs) open to a logged-in browser or a valid token, no one else."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        header = request.headers.get("Authorization", "")
        if not request.user.is_authenticated and header.startswith("Bearer "):
            user = api_token_user(key=header.removeprefix("Bearer ").strip())
            if user is not None:
                request.user = user
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        return view(request, *args, **kwargs)

    return wrapped


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


def _admin(request: HttpRequest) -> None:
    if not is_admin(request.user):
        raise HttpError(403, "Only administrators can do this.")


# -- schemas ----------------------------------------------------------------------------------------------------


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


def _item_out(
    request: HttpRequest, item: Item, verdicts: tuple[list[HumanVerdict], list[CriticVerdict]] | None
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": item.pk,
        "dataset": item.dataset_id,
        "external_id": item.external_id,
        "kind": item.kind,
        "profile": item.profile,
        "split": item.split,
        "question": item.question,
        "reference": item.reference,
        "response_a": item.response_a,
        "model_a": item.model_a,
        "response_b": item.response_b,
        "model_b": item.model_b,
        "image_sha256": item.image.sha256,
        "image_url": request.build_absolute_uri(f"/images/{item.image.sha256}/"),
    }
    if verdicts is not None and (verdicts[0] or verdicts[1]):
        humans, critics = verdicts
        out["human_verdicts"] = [
            {
                "reviewer": v.reviewer.get_username(),
                "score": v.score,
                "preference": v.preference,
                "revised_score": v.revised_score,
                "revised_preference": v.revised_preference,
                "source": v.source,
                "committed_at": v.committed_at,
            }
            for v in humans
        ]
        out["critic_verdicts"] = [
            {
                "checkpoint": v.checkpoint.name,
                "status": v.status,
                "score": v.score,
                "preference": v.preference,
                "confidence": v.confidence,
                "probabilities": v.probabilities,
                "forced": v.forced,
                "justification": v.justification,
                "error": v.error,
            }
            for v in critics
        ]
    return out


def _import_out(request: HttpRequest, job: ImportJob) -> dict[str, Any]:
    return {
        "id": job.pk,
        "dataset": job.dataset_id,
        "status": job.status,
        "stage": job.stage,
        "rows_done": job.rows_done,
        "rows_total": job.rows_total,
        "report": job.report,
        "error": job.error,
        "url": request.build_absolute_uri(f"/imports/{job.pk}/"),
    }


# -- endpoints --------------------------------------------------------------------------------------------------


@api.get("/datasets", response=list[DatasetOut], tags=["datasets"])
def list_datasets(request: HttpRequest) -> Any:
    return selectors.dataset_list(user=request.user)


@api.post("/datasets", response={201: DatasetOut}, tags=["datasets"], summary="Create a dataset (administrators)")
def create_dataset(request: HttpRequest, payload: DatasetIn) -> Any:
    _admin(request)
    return Status(201, dataset_create(created_by=request.user, **payload.dict()))  # type: ignore[arg-type]


@api.get("/datasets/{dataset_id}/progress", response=ProgressOut, tags=["datasets"])
def dataset_progress(request: HttpRequest, dataset_id: int) -> Any:
    dataset = selectors.dataset_get(user=request.user, pk=dataset_id)
    progress = critic_progress(dataset=dataset, checkpoint=checkpoint_from_settings())
    return {
        "items": progress.items,
        "checkpoint": progress.checkpoint.name if progress.checkpoint else None,
        "critic_done": progress.done,
        "critic_failed": progress.failed,
        "critic_pending": progress.pending,
        "critic_forced": progress.forced,
        "human_verdicts": HumanVerdict.objects.filter(item__dataset=dataset).count(),
    }


@api.get("/datasets/{dataset_id}/items", response=ItemPage, tags=["items"])
def list_items(request: HttpRequest, dataset_id: int, offset: int = 0, limit: int = 50) -> Any:
    dataset = selectors.dataset_get(user=request.user, pk=dataset_id)
    limit = max(1, min(limit, 500))
    items = selectors.item_list(user=request.user, dataset=dataset)
    page = list(items[offset : offset + limit])
    visible = selectors.item_verdicts_visible_many(user=request.user, items=page)
    return {
        "count": items.count(),
        "offset": offset,
        "items": [_item_out(request, item, visible[item.pk]) for item in page],
    }


@api.get("/items/{item_id}", response=ItemOut, tags=["items"])
def get_item(request: HttpRequest, item_id: int) -> Any:
    item = selectors.item_get(user=request.user, pk=item_id)
    return _item_out(request, item, selectors.item_verdicts_visible(user=request.user, item=item))


@api.post(
    "/datasets/{dataset_id}/items",
    response={201: ItemOut},
    tags=["items"],
    summary="Upload one item (multipart: the image and the fields)",
)
def upload_item(
    request: HttpRequest,
    dataset_id: int,
    image: File[UploadedFile],
    question: Form[str],
    response_a: Form[str],
    response_b: Form[str] = "",
    model_a: Form[str] = "",
    model_b: Form[str] = "",
    reference: Form[str] = "",
    external_id: Form[str] = "",
    profile: Form[str] = "",
    split: Form[str] = "",
) -> Any:
    dataset = selectors.dataset_get(user=request.user, pk=dataset_id)
    if (image.size or 0) > settings.IMAGE_MAX_BYTES:
        raise ValidationError({"image": [f"The image is larger than {settings.IMAGE_MAX_BYTES:,} bytes."]})
    item = item_create(
        dataset=dataset,
        image_data=image.read(),
        question=question,
        response_a=response_a,
        response_b=response_b,
        model_a=model_a,
        model_b=model_b,
        reference=reference,
        external_id=external_id,
        profile=profile,
        split=split,
        created_by=request.user,  # type: ignore[arg-type]
    )
    return Status(201, _item_out(request, item, None))


@api.post(
    "/datasets/{dataset_id}/imports",
    response={202: ImportOut},
    tags=["imports"],
    summary="Upload a batch (multipart: the data file, and a zip of images if its rows name paths)",
)
def upload_batch(
    request: HttpRequest,
    dataset_id: int,
    data_file: File[UploadedFile],
    images_file: File[UploadedFile] | None = None,
    format: Form[str] = "auto",
    profile: Form[str] = "",
    update: Form[bool] = False,
) -> Any:
    dataset = selectors.dataset_get(user=request.user, pk=dataset_id)
    job = import_job_create(
        dataset=dataset,
        user=request.user,  # type: ignore[arg-type]
        data_file=data_file,
        images_file=images_file,
        fmt=format,
        profile=profile,
        update=update,
    )
    return Status(202, _import_out(request, job))


@api.get("/imports/{import_id}", response=ImportOut, tags=["imports"])
def get_import(request: HttpRequest, import_id: int) -> Any:
    return _import_out(request, selectors.import_job_get(user=request.user, pk=import_id))


# -- training exports (administrators) --------------------------------------------------------------------------


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


def _export_out(request: HttpRequest, export: TrainingExport) -> dict[str, Any]:
    done = export.status == "done"
    return {
        "id": export.pk,
        "number": export.number,
        "dataset": export.dataset_id,
        "format": export.format,
        "status": export.status,
        "items_done": export.items_done,
        "items_total": export.items_total,
        "filters": export.filters,
        "manifest": export.manifest,
        "error": export.error,
        "url": request.build_absolute_uri(f"/api/exports/{export.pk}"),
        "download_url": request.build_absolute_uri(f"/api/exports/{export.pk}/file") if done else None,
    }


@api.post(
    "/datasets/{dataset_id}/exports",
    response={202: ExportOut},
    tags=["exports"],
    summary="Export corrected disagreements as training rows (administrators); runs in the background",
)
def create_export(request: HttpRequest, dataset_id: int, payload: ExportIn) -> Any:
    _admin(request)
    dataset = selectors.dataset_get(user=request.user, pk=dataset_id)
    checkpoint = None
    if payload.checkpoint:
        try:
            checkpoint = checkpoint_named(name=payload.checkpoint)
        except ValidationError as exc:
            raise ValidationError({"checkpoint": exc.messages}) from None
    merge_with = ""
    if payload.merge_with_export is not None:
        merge = TrainingExport.objects.filter(number=payload.merge_with_export, status="done").first()
        if merge is None:
            raise ValidationError({"merge_with_export": [f"No finished export #{payload.merge_with_export}."]})
        if merge.format != payload.format:
            raise ValidationError({"merge_with_export": [f"Export #{merge.number} is {merge.format}."]})
        merge_with = str(export_data_file(export=merge))
    export = training_export_queue(
        dataset=dataset,
        fmt=payload.format,
        user=request.user,
        include_agreements=payload.include_agreements,
        checkpoint=checkpoint,
        merge_with=merge_with,
    )
    return Status(202, _export_out(request, export))


@api.get("/exports/{export_id}", response=ExportOut, tags=["exports"], summary="An export's status and manifest")
def get_export(request: HttpRequest, export_id: int) -> Any:
    _admin(request)
    return _export_out(request, get_object_or_404(TrainingExport, pk=export_id))


@api.get("/exports/{export_id}/file", tags=["exports"], summary="Download an export's data file (or ?name=...)")
def download_export(request: HttpRequest, export_id: int, name: str = "") -> FileResponse:
    _admin(request)
    export = get_object_or_404(TrainingExport, pk=export_id)
    try:
        path = export_file(export=export, name=name or export.manifest.get("data_file", ""))
    except ValueError as exc:
        raise HttpError(404, str(exc)) from None
    return FileResponse(path.open("rb"), as_attachment=True, filename=f"export-{export.number}-{path.name}")


# -- metrics ----------------------------------------------------------------------------------------------------


@api.get(
    "/datasets/{dataset_id}/metrics",
    response=dict[str, Any],
    tags=["metrics"],
    summary="Critic-human agreement with bootstrap 95% intervals (the JSON of `critic_metrics --json`)",
)
def dataset_metrics(
    request: HttpRequest,
    dataset_id: int,
    checkpoint: str = "",
    split: str = "",
    profile: str = "",
    reviewer: str = "",
    response_model: str = "",
) -> Any:
    dataset = selectors.dataset_get(user=request.user, pk=dataset_id)
    return agreement_for_dataset(
        dataset=dataset,
        checkpoint=metrics_checkpoint(name=checkpoint),
        split=split,
        profile=profile,
        reviewer=reviewer,
        response_model=response_model,
    )


@api.post(
    "/datasets/{dataset_id}/swap-check",
    response={202: dict[str, Any]},
    tags=["metrics"],
    summary="Queue a swap check of the pairwise items: judged again with A and B exchanged (administrators)",
)
def dataset_swap_check(request: HttpRequest, dataset_id: int, checkpoint: str = "") -> Any:
    _admin(request)
    dataset = selectors.dataset_get(user=request.user, pk=dataset_id)
    result = swap_checks_queue(dataset=dataset, checkpoint=checkpoint_resolve(name=checkpoint))
    return Status(202, {"checkpoint": result.checkpoint.name, "queued": result.queued})


# Profiles have their own module (annotations/api_profiles.py); mounted here so they share auth and error handlers.
from annotations.api_profiles import router as profiles_router  # noqa: E402

api.add_router("/profiles", profiles_router)
