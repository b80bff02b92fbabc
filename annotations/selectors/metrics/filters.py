"""What the dashboard's filters can choose from, and the checkpoint the metrics are for."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.core.cache import cache
from django.db.models import Count, Exists, Max, Min, OuterRef, Q

from annotations import stats
from annotations.models import CriticCheckpoint, CriticVerdict, Dataset, HumanVerdict, Item, Split
from annotations.selectors.judging import checkpoint_named
from annotations.selectors.metrics.dashboard import metrics_scope
from annotations.selectors.metrics.fetch import ScopedItems


def metric_filter_options(
    *, dataset: Dataset, viewer: User | AnonymousUser | None = None, scoped: ScopedItems | None = None
) -> dict[str, list[str]]:
    """What the dashboard's filters can choose from, drawn from the same items as the viewer's metrics (see
    metrics_scope): a reviewer's lists name no model, reviewer or critic seen only on items they have not judged.
    Kept for a minute: a new model name can wait that long. `scoped`: the viewer's items (scoped_items), read here
    when the lists are not kept, and then reused by the metrics of the same view."""
    judged_by = metrics_scope(viewer=viewer)
    key = f"metric-filter-options:{dataset.pk}:{'all' if judged_by is None else judged_by}"
    options = cache.get(key)
    if options is None:
        options = _filter_options(dataset, judged_by, scoped)
        cache.set(key, options, 60)
    return options


def _filter_options(dataset: Dataset, judged_by: int | None, scoped: ScopedItems | None) -> dict[str, list[str]]:
    items = Item.objects.filter(dataset=dataset)
    if judged_by is not None:
        items = items.filter(Exists(HumanVerdict.objects.filter(item=OuterRef("pk"), reviewer_id=judged_by)))
    if scoped is not None and scoped.serves(dataset, judged_by):
        combos, lo, hi, n = _combos_read(scoped.items())
    else:
        # One scan of the items for the three lists and the range of their ids; unordered, as the default order by
        # id would enter the GROUP BY.
        grouped = items.order_by().values_list("profile", "model_a", "model_b")
        rows = list(grouped.annotate(lo=Min("id"), hi=Max("id"), n=Count("id")))
        combos = {tuple(r[:3]) for r in rows}
        lo = min((r[3] for r in rows), default=0)
        hi = max((r[4] for r in rows), default=-1)
        n = sum(r[5] for r in rows)
    models = {c[1] for c in combos} | {c[2] for c in combos}
    # When the ids are exactly lo..hi (a dataset imported in one go), a range of item_id reads the verdicts through
    # their item index, with no semi-join over the items (~100 ms at 100k items); else the items themselves.
    on_items = Q(item__gte=lo, item__lte=hi) if hi - lo + 1 == n else Q(item__in=items)
    judged = CriticVerdict.objects.filter(on_items, checkpoint=OuterRef("pk"))
    reviewer_ids = HumanVerdict.objects.filter(on_items).order_by().values("reviewer_id").distinct()
    return {
        "checkpoints": list(CriticCheckpoint.objects.filter(Exists(judged)).values_list("name", flat=True)),
        "splits": list(Split.values),
        "profiles": sorted({c[0] for c in combos}),
        "reviewers": sorted(User.objects.filter(pk__in=reviewer_ids).values_list("username", flat=True)),
        "response_models": sorted(models - {""}),
    }


def _combos_read(items: dict[str, Any]) -> tuple[set[tuple[str, ...]], int, int, int]:
    """The (profile, model_a, model_b) combinations of items already read, and the range and number of their ids."""
    ids, names = items["id"], items["names"]
    if not ids.size:
        return set(), 0, -1, 0
    (p, a, b), _counts = stats.distinct(items["profile"], items["model_a"], items["model_b"])
    combos = {tuple(str(names[code]) for code in row) for row in zip(p.tolist(), a.tolist(), b.tolist(), strict=True)}
    return combos, int(ids[0]), int(ids[-1]), int(ids.size)


def metrics_checkpoint(*, name: str = "", known: Collection[str] | None = None) -> CriticCheckpoint | None:
    """The checkpoint (or external judge) called `name`; with no name, the active one (None if there is none).
    An unknown name is a ValidationError that lists the known ones; `known` (metric_checkpoints_known): the names
    the viewer may be told of, None for all."""
    if not name:
        return CriticCheckpoint.objects.filter(is_active=True).first()
    return checkpoint_named(name=name, known=known)


def metric_checkpoints_known(
    *, dataset: Dataset, viewer: User | AnonymousUser | None, options: dict[str, list[str]] | None = None
) -> list[str] | None:
    """The checkpoints a viewer may name on the dashboard, and be told of when they name another: every one (None)
    for administrators; for a reviewer, the active one (every page names it) and those with a verdict on an item
    they have judged (the dashboard's list). A judge met only on items they have not judged stays unnamed, as its
    verdicts stay unseen. `options`: the viewer's metric_filter_options, when the caller has them."""
    if metrics_scope(viewer=viewer) is None:
        return None
    if options is None:
        options = metric_filter_options(dataset=dataset, viewer=viewer)
    active = CriticCheckpoint.objects.filter(is_active=True).values_list("name", flat=True).first()
    return sorted({*options["checkpoints"], *([active] if active else [])})
