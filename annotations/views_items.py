"""The item table of a dataset, and its bulk actions for administrators."""

from __future__ import annotations

import re
import shlex

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import content_disposition_header, urlencode
from django.views.decorators.http import require_GET, require_POST

from annotations.models import Kind, Split
from annotations.params import whole_number
from annotations.permissions import admin_required, is_admin
from annotations.selectors import datasets as selectors
from annotations.selectors.item_table import (
    ADMIN_SORTS,
    CRITIC,
    MINE,
    SORTS,
    TableQuery,
    item_table,
    item_table_queryset,
)
from annotations.services.item_bulk import (
    items_delete_unjudged,
    items_export_zip,
    items_move_split,
    items_send_to_critic,
)
from annotations.services.judging import checkpoint_from_settings, checkpoint_resolve
from annotations.wording import counted
from critic_worker.profiles import profile_names


@require_GET
def item_table_view(request: HttpRequest, pk: int) -> HttpResponse:
    dataset = selectors.dataset_get(user=request.user, pk=pk)
    admin = is_admin(request.user)
    query = TableQuery.from_params(request.GET, admin=admin)
    table = item_table(
        user=request.user,
        dataset=dataset,
        query=query,
        checkpoint=checkpoint_from_settings(),
        page=request.GET.get("page", 1),
    )
    context = {
        "dataset": dataset,
        "table": table,
        "query_string": urlencode(query.params()),
        "sort_links": {key: urlencode(query.params(sort=key)) for key in ("id", "-id", "external_id", "verdicts")},
        "choices": {
            "profile": [(name, name) for name in profile_names()],
            "split": Split.choices,
            "kind": Kind.choices,
            "mine": list(MINE.items()),
            "critic": list(CRITIC.items()),
            "sort": list((SORTS | (ADMIN_SORTS if admin else {})).items()),
        },
    }
    template = "annotations/item_table.html"
    if request.htmx:  # type: ignore[attr-defined]
        template += "#table"
    return render(request, template, context)


# What a file name cannot hold on some system (Windows forbids these; a browser turns them into "_").
NOT_IN_FILE_NAMES = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]+')
BULK_ACTIONS = {
    "judge": "Send to the critic",
    "to-gold": "Move to gold",
    "to-pool": "Move to the pool",
    "delete": "Delete (items nobody has judged)",
    "export": "Export as an importable zip",
}


@admin_required
@require_POST
def item_bulk(request: HttpRequest, pk: int) -> HttpResponse:
    """Apply an action to the ticked rows, or (`all`) to every item the table's filters match."""
    dataset = selectors.dataset_get(user=request.user, pk=pk)
    query = TableQuery.from_params(request.POST, admin=True)
    back = redirect(f"{request.path.removesuffix('bulk/')}?{urlencode(query.params())}")
    items = item_table_queryset(user=request.user, dataset=dataset, query=query, checkpoint=checkpoint_from_settings())
    if request.POST.get("all") != "1":
        ids = [n for n in map(whole_number, request.POST.getlist("ids")) if n is not None]
        items = items.filter(pk__in=ids)
    action = request.POST.get("action", "")
    if action not in BULK_ACTIONS:
        messages.error(request, f"Choose an action: {', '.join(BULK_ACTIONS.values())}.")
        return back
    if not items.exists():
        messages.error(request, "No item is selected: tick rows, or choose every matching item.")
        return back
    try:
        if action == "export":
            response = HttpResponse(items_export_zip(items=items), content_type="application/zip")
            # The name as the administrator typed it, accents included (encoded by Django's helper), less what a
            # file name cannot hold; a control character (a line break) would also be a server error in a header.
            name = " ".join(NOT_IN_FILE_NAMES.sub(" ", dataset.name[:60]).split()) or "dataset"
            response["Content-Disposition"] = content_disposition_header(True, f"{name}-items.zip")
            return response
        if action == "judge":
            result = items_send_to_critic(dataset=dataset, items=items, checkpoint=checkpoint_resolve())
            left = f" Left: {result.reason}." if result.skipped else ""
            again = (
                f" To judge every item of the dataset again (its verdicts replaced): manage.py judge --dataset"
                f" {shlex.quote(dataset.name)}."
                if result.judged
                else ""
            )
            messages.success(request, f"Queued {counted(result.done, 'item')} for the critic.{left}{again}")
        elif action in ("to-gold", "to-pool"):
            split = Split.GOLD if action == "to-gold" else Split.POOL
            result = items_move_split(dataset=dataset, items=items, split=split)
            messages.success(request, f"Moved {counted(result.done, 'item')} to {split}.")
        else:
            result = items_delete_unjudged(dataset=dataset, items=items)
            kept = f"; kept {counted(result.skipped, 'item')}: {result.reason}" if result.skipped else ""
            messages.success(request, f"Deleted {counted(result.done, 'item')}{kept}.")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return back
