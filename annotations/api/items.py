"""Items: read them with the verdicts the caller may see, upload one."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from ninja import File, Form, Query, Status
from ninja.files import UploadedFile

from annotations.api.base import api, responses
from annotations.api.schemas import PROFILE_HELP, PROFILE_OR_DEFAULT, Id, ItemOut, ItemPage, SplitOrDefault
from annotations.importers.fields import MAX_IMAGES
from annotations.models import CriticVerdict, HumanVerdict, Item
from annotations.selectors import datasets as selectors
from annotations.selectors.images import item_images, more_images_prefetch
from annotations.services.items import item_create

MAX_OFFSET = 2**31 - 1  # past any dataset's size; larger would only ever return an empty page
NO_SPLIT = SplitOrDefault("")
TEXT_MAX = 100_000  # a question, a response or a reference, in characters


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
        "context": [{"role": role, "text": text} for role, text in item.context_turns],
        "images": [
            {
                "sha256": image.sha256,
                "url": request.build_absolute_uri(f"/images/{image.sha256}/"),
                "width": image.width,
                "height": image.height,
            }
            for image in item_images(item=item)
        ],
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


@api.get("/datasets/{dataset_id}/items", response=responses({200: ItemPage}, 403, 404, 422), tags=["items"])
def list_items(
    request: HttpRequest,
    dataset_id: Id,
    offset: int = Query(0, ge=0, le=MAX_OFFSET, description="Items to skip, in id order."),
    limit: int = Query(50, ge=1, le=500, description="Items in the page."),
) -> Any:
    dataset = selectors.dataset_get(user=request.user, pk=dataset_id)
    items = selectors.item_list(user=request.user, dataset=dataset)
    page = list(items.prefetch_related(more_images_prefetch())[offset : offset + limit])
    visible = selectors.item_verdicts_visible_many(user=request.user, items=page)
    return {
        "count": items.count(),
        "offset": offset,
        "items": [_item_out(request, item, visible[item.pk]) for item in page],
    }


@api.get("/items/{item_id}", response=responses({200: ItemOut}, 403, 404, 422), tags=["items"])
def get_item(request: HttpRequest, item_id: Id) -> Any:
    item = selectors.item_get(user=request.user, pk=item_id)
    return _item_out(request, item, selectors.item_verdicts_visible(user=request.user, item=item))


@api.post(
    "/datasets/{dataset_id}/items",
    response=responses({201: ItemOut}, 403, 404, 409, 422),
    tags=["items"],
    summary="Upload one item (multipart: the image, optionally more_images, its second, third, ... in order, and "
    "the fields); 422 names each refused field, 409 if the dataset holds the external id already",
)
def upload_item(
    request: HttpRequest,
    dataset_id: Id,
    image: File[UploadedFile],
    more_images: File[list[UploadedFile]] = None,  # type: ignore[assignment]  # optional; `| None` would document null
    question: str = Form(..., min_length=1, max_length=TEXT_MAX),
    response_a: str = Form(..., min_length=1, max_length=TEXT_MAX),
    response_b: str = Form("", max_length=TEXT_MAX),
    model_a: str = Form("", max_length=200),
    model_b: str = Form("", max_length=200),
    reference: str = Form("", max_length=TEXT_MAX),
    external_id: str = Form("", max_length=200),
    profile: str = Form("", pattern=PROFILE_OR_DEFAULT, max_length=32, description=PROFILE_HELP),
    split: Form[SplitOrDefault] = NO_SPLIT,
) -> Any:
    dataset = selectors.dataset_get(user=request.user, pk=dataset_id)
    if (image.size or 0) > settings.IMAGE_MAX_BYTES:
        raise ValidationError({"image": [f"The image is larger than {settings.IMAGE_MAX_BYTES:,} bytes."]})
    more = list(more_images or [])
    if len(more) + 1 > MAX_IMAGES:
        raise ValidationError({"more_images": [f"An item holds at most {MAX_IMAGES} images ({len(more) + 1} given)."]})
    for n, upload in enumerate(more, start=2):
        if (upload.size or 0) > settings.IMAGE_MAX_BYTES:
            raise ValidationError({"more_images": [f"Image {n} is larger than {settings.IMAGE_MAX_BYTES:,} bytes."]})
    item = item_create(
        dataset=dataset,
        image_data=image.read(),
        more_images=[upload.read() for upload in more],
        question=question,
        response_a=response_a,
        response_b=response_b,
        model_a=model_a,
        model_b=model_b,
        reference=reference,
        external_id=external_id,
        profile=profile,
        split=split.value,
        created_by=request.user,  # type: ignore[arg-type]
    )
    return Status(201, _item_out(request, item, None))
