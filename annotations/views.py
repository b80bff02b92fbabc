"""Pages. Thin: parse the request, call one service or selector, render the page or, for htmx, a fragment."""

from __future__ import annotations

import mimetypes

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models.fields.files import FieldFile
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from annotations.forms import DatasetForm, ImportForm, ItemUploadForm
from annotations.models import Dataset, Image, Kind, Split, TrainingExport
from annotations.permissions import admin_required, is_admin
from annotations.selectors import datasets as selectors
from annotations.selectors.judging import critic_inputs_seen, critic_progress
from annotations.services.datasets import dataset_create
from annotations.services.images import image_thumbnail_ensure
from annotations.services.import_jobs import import_job_create
from annotations.services.items import gold_allowed, item_create
from annotations.services.judging import checkpoint_from_settings, checkpoint_resolve, verdicts_queue
from annotations.services.tokens import api_token_create
from annotations.wording import counted

ITEMS_PER_PAGE = 25


@require_GET
def dataset_list(request: HttpRequest) -> HttpResponse:
    return render(request, "annotations/dataset_list.html", {"datasets": selectors.dataset_list(user=request.user)})


@admin_required
@require_http_methods(["GET", "POST"])
def dataset_new(request: HttpRequest) -> HttpResponse:
    form = DatasetForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        dataset = dataset_create(created_by=request.user, **form.cleaned_data)  # type: ignore[arg-type]
        messages.success(request, f"Dataset {dataset.name!r} created.")
        return redirect("dataset-detail", pk=dataset.pk)
    return render(request, "annotations/dataset_new.html", {"form": form})


def _critic_panel(request: HttpRequest, dataset: Dataset, status: int = 200) -> HttpResponse:
    progress = critic_progress(dataset=dataset, checkpoint=checkpoint_from_settings(), viewer=request.user)
    context = {"dataset": dataset, "progress": progress}
    return render(request, "annotations/dataset_detail.html#critic-progress", context, status=status)


@admin_required
@require_POST
def dataset_judge(request: HttpRequest, pk: int) -> HttpResponse:
    """Run the critic on every item that lacks a verdict from the active checkpoint (administrators: it spends the
    critic's GPU time, as the item table's "send to the critic" and the swap check do)."""
    dataset = selectors.dataset_get(user=request.user, pk=pk)
    try:
        result = verdicts_queue(dataset=dataset, checkpoint=checkpoint_resolve(), only_missing=True)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Queued {counted(result.queued, 'item')} for {result.checkpoint.name}.")
    if request.htmx:  # type: ignore[attr-defined]
        return _critic_panel(request, dataset)
    return redirect("dataset-detail", pk=dataset.pk)


@require_GET
def dataset_critic_progress(request: HttpRequest, pk: int) -> HttpResponse:
    return _critic_panel(request, selectors.dataset_get(user=request.user, pk=pk))


@require_GET
def dataset_detail(request: HttpRequest, pk: int) -> HttpResponse:
    dataset = selectors.dataset_get(user=request.user, pk=pk)
    filters = {key: request.GET.get(key, "").strip() for key in ("kind", "split", "q")}
    items = selectors.item_list(
        user=request.user, dataset=dataset, kind=filters["kind"], split=filters["split"], search=filters["q"]
    )
    page = Paginator(items, ITEMS_PER_PAGE).get_page(request.GET.get("page"))
    template = "annotations/dataset_detail.html"
    if request.htmx:  # type: ignore[attr-defined]
        template += "#item-table"
    context = {
        "dataset": dataset,
        "page": page,
        "filters": filters,
        "kinds": Kind.choices,
        "splits": Split.choices,
        "progress": critic_progress(dataset=dataset, checkpoint=checkpoint_from_settings(), viewer=request.user),
        "splits_held": selectors.dataset_split_counts(dataset=dataset),
    }
    return render(request, template, context)


@require_http_methods(["GET", "POST"])
def item_new(request: HttpRequest, pk: int) -> HttpResponse:
    dataset = selectors.dataset_get(user=request.user, pk=pk)
    form = ItemUploadForm(request.POST or None, request.FILES or None, gold=gold_allowed(user=request.user))  # type: ignore[arg-type]
    if request.method == "POST" and form.is_valid():
        try:
            item = item_create(dataset=dataset, created_by=request.user, **form.item_fields())  # type: ignore[arg-type]
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            queued = " and queued for the critic" if item.critic_verdicts.exists() else ""
            messages.success(request, f"Item {item.external_id!r} added to {dataset.name}{queued}.")
            return redirect("item-detail", pk=item.pk)
    status = 400 if form.is_bound else 200
    return render(request, "annotations/item_new.html", {"dataset": dataset, "form": form}, status=status)


@require_GET
def item_detail(request: HttpRequest, pk: int) -> HttpResponse:
    item = selectors.item_get(user=request.user, pk=pk)
    humans, critics = selectors.item_verdicts_visible(user=request.user, item=item)
    context = {
        "item": item,
        "dataset": item.dataset,
        "human_verdicts": humans,
        "critic_verdicts": critics,
        "critic_saw": critic_inputs_seen(user=request.user, item=item),
    }
    return render(request, "annotations/item_detail.html", context)


def _private_file(file: FieldFile) -> HttpResponseBase:
    name = str(file.name)
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    response: HttpResponseBase
    if settings.MEDIA_ACCEL_REDIRECT_PREFIX:
        # The view decided; the web server sends the bytes from its internal location.
        response = HttpResponse(content_type=content_type)
        response["X-Accel-Redirect"] = settings.MEDIA_ACCEL_REDIRECT_PREFIX.rstrip("/") + "/" + name
    else:
        response = FileResponse((settings.MEDIA_ROOT / name).open("rb"), content_type=content_type)
    response["Content-Disposition"] = f'inline; filename="{name.rsplit("/", 1)[-1]}"'
    # Content-addressed, so never stale; private so that no shared cache keeps evaluation data.
    response["Cache-Control"] = "private, max-age=31536000, immutable"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _seen_image(request: HttpRequest, sha256: str) -> Image:
    image = selectors.image_get(user=request.user, sha256=sha256)
    if not image.normalized:
        raise Http404("This image has no rendition: its original could not be read.")
    return image


@require_GET
def image_file(request: HttpRequest, sha256: str) -> HttpResponseBase:
    """The image as everyone sees it: its normalised rendition (PNG), never the original."""
    return _private_file(_seen_image(request, sha256).normalized)


@require_GET
def image_thumbnail(request: HttpRequest, sha256: str) -> HttpResponseBase:
    image = _seen_image(request, sha256)
    image_thumbnail_ensure(image=image)
    return _private_file(image.thumbnail)


@admin_required
@require_GET
def export_list(request: HttpRequest) -> HttpResponse:
    exports = TrainingExport.objects.select_related("dataset", "source_checkpoint")
    return render(request, "annotations/export_list.html", {"exports": exports})


@require_http_methods(["GET", "POST"])
def dataset_import(request: HttpRequest, pk: int) -> HttpResponse:
    dataset = selectors.dataset_get(user=request.user, pk=pk)
    form = ImportForm(request.POST or None, request.FILES or None, admin=is_admin(request.user))
    if request.method == "POST" and form.is_valid():
        try:
            job = import_job_create(
                dataset=dataset,
                user=request.user,  # type: ignore[arg-type]
                data_file=form.cleaned_data["data_file"],
                images_file=form.cleaned_data["images_file"],
                fmt=form.cleaned_data["format"],
                profile=form.cleaned_data["profile"],
                update=form.cleaned_data.get("update", False),
                whole_prompt=form.cleaned_data["whole_prompt"],
                judge=form.cleaned_data.get("judge", ""),
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            return redirect("import-detail", pk=job.pk)
    status = 400 if form.is_bound else 200
    recent = selectors.import_jobs_visible(user=request.user).filter(dataset=dataset)[:10]
    context = {"dataset": dataset, "form": form, "recent": recent}
    return render(request, "annotations/dataset_import.html", context, status=status)


@require_GET
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = selectors.import_job_get(user=request.user, pk=pk)
    template = "annotations/import_detail.html"
    if request.htmx:  # type: ignore[attr-defined]
        template += "#import-status"
    return render(request, template, {"job": job, "dataset": job.dataset})


@require_http_methods(["GET", "POST"])
def account(request: HttpRequest) -> HttpResponse:
    """The user's API tokens; a new key is shown once, right after it is made."""
    key = None
    if request.method == "POST":
        key = api_token_create(user=request.user, name=request.POST.get("name", "")[:100])  # type: ignore[arg-type]
    tokens = request.user.api_tokens.order_by("-created_at")  # type: ignore[union-attr]
    return render(request, "annotations/account.html", {"tokens": tokens, "new_key": key})


@require_GET
def ping(request: HttpRequest) -> HttpResponse:
    """A trivial authenticated page (monitoring, and the baseline of the review benchmark)."""
    return HttpResponse(f"ok {request.user.get_username()}\n".ljust(200), content_type="text/plain")
