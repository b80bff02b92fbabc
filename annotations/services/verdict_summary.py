"""What the item table sorts and filters by at any size, kept on the rows by the services that write verdicts:
each item's number of human verdicts (Item.human_verdict_count) and, on each of the item's critic verdicts, whether
some human verdict disagrees with it by the dataset's rule (CriticVerdict.humans_disagree, for administrators).

Every writer ends its transaction with one of these, after its own writes:
- the desk adds one verdict: the review service's COMPLETE counts it and `desk_verdict_disagreement_mark` ORs its
  disagreement in (both read the row as it is when the statement gets its lock, so no concurrent change is lost);
- anything else (imports, the critic's results, re-reads, deletions, a changed threshold) calls
  `critic_disagreement_refresh`, and `items_recount` first where human verdicts changed: they lock the rows first
  and compute in a later statement, so that they see every verdict committed before they got the lock; a writer
  that commits after them runs its own.
Items are locked before critic verdicts everywhere, so writers never wait on each other in a cycle."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from django.db import connection, transaction

from annotations.models import CriticVerdict, Dataset, HumanVerdict, Item
from annotations.selectors.profiles import score_span_sql
from critic_worker.profiles import get_profile

CHUNK = 5000  # item ids per statement: well under the databases' limits on parameters
REFRESH = (
    "UPDATE annotations_criticverdict AS c SET humans_disagree = {flag} WHERE c.probe = '' AND c.item_id IN ({items})"
    " AND c.humans_disagree <> {flag}"
)
# Done, and some human verdict h disagrees with critic verdict c by the dataset d's rule (as on the reveal).
FLAG = (
    "(c.status = 'done' AND EXISTS(SELECT 1 FROM annotations_humanverdict h"
    " JOIN annotations_item i ON i.id = h.item_id JOIN annotations_dataset d ON d.id = i.dataset_id"
    " WHERE h.item_id = c.item_id AND (h.preference <> c.preference"
    " OR ABS(h.score - c.score) > d.disagreement_threshold * ({span}))))"
)
RECOUNT = (
    "UPDATE annotations_item SET human_verdict_count ="
    " (SELECT COUNT(*) FROM annotations_humanverdict h WHERE h.item_id = annotations_item.id) WHERE id IN ({items})"
)
DESK_DISAGREES = (
    "UPDATE annotations_criticverdict SET humans_disagree = humans_disagree OR COALESCE(status = 'done'"
    " AND (preference <> %s OR ABS(score - %s) > %s), FALSE) WHERE item_id = %s AND probe = ''"
)


def desk_verdict_disagreement_mark(*, cursor: Any, item: Item, verdict: HumanVerdict) -> None:
    """The desk has just recorded `verdict` on `item` (and counted it, in the review service's COMPLETE), in the
    transaction `cursor` runs in: the item's critic verdicts that it disagrees with, marked so. One statement."""
    spec = get_profile(item.profile)
    span = (spec.score_max or 0) - (spec.score_min or 0) if spec.is_pointwise else 0
    tolerance = item.dataset.disagreement_threshold * span
    cursor.execute(DESK_DISAGREES, [verdict.preference, verdict.score, tolerance, item.pk])


def items_recount(*, item_ids: Iterable[int] = (), dataset: Dataset | None = None) -> None:
    """Count the human verdicts of these items (or of all the dataset's) again, after verdicts were written some
    other way than at the desk (imports)."""
    for where, params in _items_sql(item_ids, dataset):
        with transaction.atomic():
            items = Item.objects.select_for_update(no_key=True)
            locked = items.filter(dataset=dataset) if dataset is not None else items.filter(pk__in=params)
            if list(locked.order_by("pk").values_list("pk", flat=True)):
                with connection.cursor() as cursor:
                    cursor.execute(RECOUNT.format(items=where), params)


def critic_disagreement_refresh(*, item_ids: Iterable[int] = (), dataset: Dataset | None = None) -> None:
    """Mark again which critic verdicts on these items (or on all the dataset's: after its threshold changed) some
    human verdict disagrees with; writes only the rows that change."""
    span, span_params = score_span_sql("h.profile", otherwise="0")
    flag = FLAG.format(span=span)
    for where, params in _items_sql(item_ids, dataset):
        with transaction.atomic():
            verdicts = CriticVerdict.objects.select_for_update(of=("self",)).filter(probe="")  # not the items
            locked = verdicts.filter(item__dataset=dataset) if dataset is not None else verdicts.filter(item__in=params)
            if list(locked.order_by("pk").values_list("pk", flat=True)):
                with connection.cursor() as cursor:
                    cursor.execute(REFRESH.format(flag=flag, items=where), [*span_params, *params, *span_params])


def _items_sql(item_ids: Iterable[int], dataset: Dataset | None) -> Iterator[tuple[str, list[Any]]]:
    """The items as SQL for `id IN (...)` with its parameters: the dataset's in one, or the ids in chunks."""
    if dataset is not None:
        yield "SELECT id FROM annotations_item WHERE dataset_id = %s", [dataset.pk]
        return
    ids = sorted(set(item_ids))
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        yield ", ".join(["%s"] * len(chunk)), chunk
