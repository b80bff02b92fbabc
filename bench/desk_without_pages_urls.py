"""The review desk's two requests with their database work only — the item leased, the verdict committed, by the
same services — and a few bytes instead of the page: how far the desk could go if drawing the page were free.
Only bench/review_desk.py serves these (bench/desk_without_pages.py); the rest of the app is unchanged."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import include, path

from annotations.selectors.review import review_item
from annotations.services import review


def next_item(request: HttpRequest, pk: int) -> HttpResponse:
    item = review.review_next(reviewer=request.user, dataset_id=pk)  # type: ignore[arg-type]
    return HttpResponse(f'<form action="/items/{item.pk}/verdict/"></form>' if item is not None else "")


def submit(request: HttpRequest, pk: int) -> HttpResponse:
    item = review_item(user=request.user, pk=pk)
    preference = request.POST.get("preference")
    review.human_verdict_submit(reviewer=request.user, item=item, preference=preference)  # type: ignore[arg-type]
    return HttpResponse("ok")


urlpatterns: list[Any] = [
    path("datasets/<int:pk>/review/", next_item),
    path("items/<int:pk>/verdict/", submit),
    path("", include("webapp.urls")),
]
