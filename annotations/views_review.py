"""The review desk's pages: the next item, the blind verdict, the reveal, and what a reviewer does after it."""

from __future__ import annotations

from typing import cast

from django.contrib import messages
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from annotations.models import HumanVerdict, Item
from annotations.params import whole_number
from annotations.selectors import datasets as selectors
from annotations.selectors.review import review_history, review_item, review_progress, review_reveal
from annotations.services import review
from annotations.services.judging import checkpoint_from_settings


def _user(request: HttpRequest) -> User:
    """The logged-in reviewer (the login middleware lets no one else reach these views)."""
    return cast(User, request.user)


def _htmx(request: HttpRequest) -> bool:
    return bool(getattr(request, "htmx", False))


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        return None


def _reveal(
    request: HttpRequest, item: Item, human: HumanVerdict | None = None, *, after_submit: bool = False
) -> HttpResponse:
    reveal = review_reveal(reviewer=_user(request), item=item, human=human)
    if reveal is None:
        raise PermissionDenied("Give your own verdict first.")
    context = {
        "item": item,
        "dataset": item.dataset,
        "reveal": reveal,
        "orders": review.review_orders(reviewer=_user(request)),
        "progress": review_progress(reviewer=_user(request), dataset=item.dataset),
    }
    if not _htmx(request):
        return render(request, "annotations/review.html", context)
    response = render(request, "annotations/review.html#reveal", context)
    if after_submit:  # the counter above the item moves with the verdict (an out-of-band swap)
        context["oob"] = True
        response.write(render_to_string("annotations/review.html#progress", context, request))
    return response


def _next(request: HttpRequest, dataset_id: int) -> HttpResponse:
    # The chosen order sticks for the session: "Next", skips and reloads keep it without carrying it around.
    order = request.GET.get("order") or request.session.get("review_order", "default")
    orders = review.review_orders(reviewer=_user(request))
    if order not in orders:  # unknown, or one that reads others' verdicts asked for by a reviewer
        order = "default"
    if request.session.get("review_order") != order:
        request.session["review_order"] = order  # written only when it changes: a session save is a query
    checkpoint = checkpoint_from_settings() if order in review.ORDERS_BY_CRITIC else None
    scope = _scope(request, dataset_id)
    item = review.review_next(
        reviewer=_user(request),
        dataset_id=dataset_id,
        order=order,
        checkpoint_id=checkpoint.pk if checkpoint else None,
        scope=scope,
    )
    # The item brings its dataset along; when none is left, the dataset is read (or found missing) on its own.
    dataset = item.dataset if item is not None else selectors.dataset_get(user=_user(request), pk=dataset_id)
    context = {
        "dataset": dataset,
        "item": item,
        "order": order,
        "orders": orders,
        "scope": scope,
        "progress": review_progress(reviewer=_user(request), dataset=dataset),
        "spec": item.profile_spec if item is not None else None,
    }
    # With htmx, "Next" and "Skip" swap the desk alone: no page reload, no layout rendered again.
    template = "annotations/review.html#desk" if _htmx(request) else "annotations/review.html"
    response = render(request, template, context)
    if _htmx(request):
        response["HX-Push-Url"] = reverse("review-next", args=[dataset.pk])
    return response


def _scope(request: HttpRequest, dataset_id: int) -> review.ReviewScope | None:
    """The part of the dataset the desk serves: set by the item table's "Review these" (?scope=table with its
    filters), kept for the session, cleared by ?scope=all."""
    key = f"review_scope_{dataset_id}"
    if request.GET.get("scope") == "table":
        fields = {name: request.GET.get(name, "").strip()[:200] for name in ("q", "profile", "split", "kind")}
        request.session[key] = fields
    elif request.GET.get("scope") == "all" and key in request.session:
        del request.session[key]
    scope = review.ReviewScope(**request.session.get(key, {}))
    return scope or None


def _desk_instead(response: HttpResponse) -> HttpResponse:
    """An htmx answer that replaces the whole desk rather than the element that asked."""
    response["HX-Retarget"] = "#desk"
    response["HX-Reswap"] = "outerHTML"
    return response


@require_GET
def review_next_view(request: HttpRequest, pk: int) -> HttpResponse:
    selectors.require_active(_user(request))
    return _next(request, pk)


@require_POST
def review_submit(request: HttpRequest, pk: int) -> HttpResponse:
    item = review_item(user=_user(request), pk=pk)
    try:
        verdict = review.human_verdict_submit(
            reviewer=_user(request),
            item=item,
            score=_number(request.POST.get("score")),
            preference=request.POST.get("preference") or None,
            rationale=request.POST.get("rationale", ""),
        )
    except ValidationError as exc:
        context = {
            "dataset": item.dataset,
            "item": item,
            "spec": item.profile_spec,
            "errors": exc.messages,
            "orders": review.review_orders(reviewer=_user(request)),
            "progress": review_progress(reviewer=_user(request), dataset=item.dataset),
        }
        if _htmx(request):  # htmx swaps only 2xx answers: the desk comes back with the error in its form
            return _desk_instead(render(request, "annotations/review.html#desk", context))
        return render(request, "annotations/review.html", context, status=400)
    except PermissionDenied as exc:
        if not _htmx(request):
            raise
        messages.error(request, str(exc))  # the lease went to someone else: say so, and go on to the next item
        return _desk_instead(_next(request, item.dataset_id))
    if _htmx(request):
        return _reveal(request, item, verdict, after_submit=True)
    return redirect("review-reveal", pk=item.pk)


@require_GET
def review_reveal_view(request: HttpRequest, pk: int) -> HttpResponse:
    return _reveal(request, review_item(user=_user(request), pk=pk))


@require_GET
def review_previous(request: HttpRequest, pk: int) -> HttpResponse:
    """The reviewer's previous item in the dataset: their last verdict (before `?before=<verdict id>`), shown as after
    the reveal — read-only except the revision."""
    user = _user(request)
    selectors.require_active(user)
    verdicts = HumanVerdict.objects.filter(reviewer=user, item__dataset_id=pk)
    before = whole_number(request.GET.get("before"))
    if before is not None:
        verdicts = verdicts.filter(pk__lt=before)
    last = verdicts.order_by("-pk").values_list("item_id", flat=True).first()
    if last is None:
        messages.info(request, "No earlier verdict of yours in this dataset.")
        return redirect("review-next", pk=pk)
    return redirect("review-reveal", pk=last)


@require_POST
def review_skip_view(request: HttpRequest, pk: int) -> HttpResponse:
    item = review_item(user=_user(request), pk=pk)
    review.review_skip(reviewer=_user(request), item=item)
    if _htmx(request):
        return _next(request, item.dataset_id)
    return redirect("review-next", pk=item.dataset_id)


def _own_verdict(request: HttpRequest, pk: int) -> HumanVerdict:
    item = review_item(user=_user(request), pk=pk)
    return get_object_or_404(
        HumanVerdict.objects.select_related("item__dataset", "item__image"), item=item, reviewer=_user(request)
    )


@require_POST
def review_revise(request: HttpRequest, pk: int) -> HttpResponse:
    verdict = _own_verdict(request, pk)
    try:
        review.human_verdict_revise(
            verdict=verdict, score=_number(request.POST.get("score")), preference=request.POST.get("preference") or None
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return _reveal(request, verdict.item, verdict) if _htmx(request) else redirect("review-reveal", pk=pk)


@require_POST
def review_correct(request: HttpRequest, pk: int) -> HttpResponse:
    verdict = _own_verdict(request, pk)
    try:
        review.human_verdict_correct_critic(
            verdict=verdict, corrected_justification=request.POST.get("corrected_justification", "")
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return _reveal(request, verdict.item, verdict) if _htmx(request) else redirect("review-reveal", pk=pk)


@require_GET
def history(request: HttpRequest) -> HttpResponse:
    page = Paginator(review_history(reviewer=_user(request)), 50).get_page(request.GET.get("page"))
    return render(request, "annotations/history.html", {"page": page})
