"""What the dashboard's filters can choose from, and the checkpoint the metrics are for."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User
from django.core.cache import cache
from django.db.models import Exists, OuterRef

from annotations.models import CriticCheckpoint, CriticVerdict, Dataset, HumanVerdict, Item, Split
from annotations.selectors.judging import checkpoint_named
from annotations.selectors.metrics.dashboard import metrics_scope


def metric_filter_options(*, dataset: Dataset, viewer: User | AnonymousUser | None = None) -> dict[str, list[str]]:
    """What the dashboard's filters can choose from, drawn from the same items as the viewer's metrics (see
    metrics_scope): a reviewer's lists name no model, reviewer or critic seen only on items they have not judged.
    Kept for a minute: a new model name can wait that long."""
    judged_by = metrics_scope(viewer=viewer)
    key = f"metric-filter-options:{dataset.pk}:{'all' if judged_by is None else judged_by}"
    options = cache.get(key)
    if options is None:
        options = _filter_options(dataset, judged_by)
        cache.set(key, options, 60)
    return options


def _filter_options(dataset: Dataset, judged_by: int | None) -> dict[str, list[str]]:
    items = Item.objects.filter(dataset=dataset)
    if judged_by is not None:
        items = items.filter(Exists(HumanVerdict.objects.filter(item=OuterRef("pk"), reviewer_id=judged_by)))
    # One scan of the items for the three lists; unordered, as the default order by id would enter the DISTINCT.
    combos = list(items.order_by().values_list("profile", "model_a", "model_b").distinct())
    models = {a for _p, a, _b in combos} | {b for _p, _a, b in combos}
    judged = CriticVerdict.objects.filter(checkpoint=OuterRef("pk"), item__in=items)
    reviewer_ids = HumanVerdict.objects.filter(item__in=items).order_by().values("reviewer_id").distinct()
    return {
        "checkpoints": list(CriticCheckpoint.objects.filter(Exists(judged)).values_list("name", flat=True)),
        "splits": list(Split.values),
        "profiles": sorted({p for p, _a, _b in combos}),
        "reviewers": sorted(User.objects.filter(pk__in=reviewer_ids).values_list("username", flat=True)),
        "response_models": sorted(models - {""}),
    }


def metrics_checkpoint(*, name: str = "") -> CriticCheckpoint | None:
    """The checkpoint (or external judge) called `name`; with no name, the active one (None if there is none).
    An unknown name is a ValidationError that lists the known ones."""
    if not name:
        return CriticCheckpoint.objects.filter(is_active=True).first()
    return checkpoint_named(name=name)
