"""The item table of a dataset (Label Studio's data manager): filter, search, sort and page through its items,
with each row's review state. A reviewer sees an item's models and the critic's verdict only once they have
committed their own verdict on it (the blind rule); filters and sorts that read those hidden values look only at
the items the reviewer has judged, so that no filter tells a reviewer what the row would hide."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.cache import cache
from django.core.paginator import Page, Paginator
from django.db.models import Count, Exists, F, FilteredRelation, OuterRef, Q, QuerySet
from django.db.models.expressions import RawSQL

from annotations.models import CriticCheckpoint, CriticVerdict, Dataset, HumanVerdict, Item, JobStatus, Kind, Split
from annotations.permissions import is_admin
from annotations.selectors.profiles import score_span_sql
from annotations.selectors.review import verdict_values_agree
from critic_worker.profiles import find_profile

User = AbstractBaseUser | AnonymousUser
PAGE_SIZE = 50
MODEL_NAMES_SECONDS = 60
MINE = {"unjudged": "Not judged by me", "judged": "Judged by me"}
CRITIC = {
    "disagree": "People and the critic disagree",
    "forced": "Critic's verdict read from its probabilities",
    "failed": "Critic failed",
    "pending": "Critic queued or running",
    "missing": "Not sent to the critic",
}
SORTS = {
    "id": "Oldest first",
    "-id": "Newest first",
    "external_id": "Item id",
    "-verdicts": "Most human verdicts",
    "verdicts": "Fewest human verdicts",
}
ADMIN_SORTS = {"confidence": "Least confident critic", "-confidence": "Most confident critic"}

# The items where a human verdict h and the critic's verdict c disagree by the dataset's rule (as on the reveal), as
# one semi-join (a correlated EXISTS per item costs ~10x at 100,000 items). Constants only; values are parameters.
DISAGREEING_ITEMS = (
    "SELECT h.item_id FROM annotations_humanverdict h JOIN annotations_criticverdict c ON c.item_id = h.item_id"
    " AND c.checkpoint_id = %s AND c.status = 'done' AND c.probe = ''"
    " JOIN annotations_item i ON i.id = h.item_id"
    " WHERE i.dataset_id = %s {reviewer}"
    " AND (h.preference <> c.preference OR ABS(h.score - c.score) > %s * ({span}))"
)


@dataclass(frozen=True)
class TableQuery:
    """What the table shows; every field comes from the page's query string and is checked here."""

    q: str = ""
    profile: str = ""
    split: str = ""
    kind: str = ""
    model: str = ""
    mine: str = ""
    critic: str = ""
    sort: str = "id"

    @classmethod
    def from_params(cls, params: Any, *, admin: bool) -> TableQuery:
        """Unknown values fall back to 'no filter' (a stale bookmark still opens)."""
        sorts = SORTS | (ADMIN_SORTS if admin else {})
        get = lambda key: str(params.get(key, "")).strip()  # noqa: E731
        return cls(
            q=get("q")[:200],
            profile=get("profile") if find_profile(get("profile")) else "",
            split=get("split") if get("split") in Split.values else "",
            kind=get("kind") if get("kind") in Kind.values else "",
            model=get("model")[:200],
            mine=get("mine") if get("mine") in MINE else "",
            critic=get("critic") if get("critic") in CRITIC else "",
            sort=get("sort") if get("sort") in sorts else "id",
        )

    def params(self, **change: str) -> dict[str, str]:
        """The query string's values (non-empty), with some changed: for sort links and the pager."""
        values = {k: v for k, v in vars(self).items() if v and not (k == "sort" and v == "id")}
        values.update({k: v for k, v in change.items()})
        return {k: v for k, v in values.items() if v}


@dataclass
class Row:
    item: Item
    human_verdicts: int
    mine: HumanVerdict | None
    revealed: bool  # models and the critic's verdict may be shown to this user
    critic: CriticVerdict | None = None
    disagree: bool = False
    others: list[HumanVerdict] = field(default_factory=list)


@dataclass
class Table:
    query: TableQuery
    page: Page[int]
    rows: list[Row]
    checkpoint: CriticCheckpoint | None
    admin: bool
    models: list[str]

    @property
    def total(self) -> int:
        return self.page.paginator.count


def item_table_queryset(
    *, user: User, dataset: Dataset, query: TableQuery, checkpoint: CriticCheckpoint | None
) -> QuerySet[Item]:
    """The dataset's items that pass the query's filters, in its order (for the page, and for bulk actions on
    'every matching item')."""
    return _sorted(_filtered(user=user, dataset=dataset, query=query, checkpoint=checkpoint), query.sort, checkpoint)


def _filtered(
    *, user: User, dataset: Dataset, query: TableQuery, checkpoint: CriticCheckpoint | None
) -> QuerySet[Item]:
    admin = is_admin(user)
    items = Item.objects.filter(dataset=dataset)
    if query.q:
        items = items.filter(Q(external_id__icontains=query.q) | Q(question__icontains=query.q))
    for name in ("profile", "split", "kind"):
        if value := getattr(query, name):
            items = items.filter(**{name: value})
    mine = HumanVerdict.objects.filter(item=OuterRef("pk"), reviewer_id=user.pk)
    if query.mine == "unjudged":
        items = items.exclude(Exists(mine))
    if query.mine == "judged" or (not admin and (query.model or query.critic)):
        # Hidden values are looked at only where the reviewer has judged, whatever `mine` says: with "unjudged",
        # a model or critic filter would otherwise list exactly the unjudged items that have the hidden value.
        items = items.filter(Exists(mine))
    if query.model:
        items = items.filter(Q(model_a=query.model) | Q(model_b=query.model))
    if query.critic:
        reviewer = None if admin else user.pk
        items = _critic_filter(items, query.critic, checkpoint, user_pk=reviewer, dataset=dataset)
    return items


def _critic_filter(
    items: QuerySet[Item], name: str, checkpoint: CriticCheckpoint | None, user_pk: Any, dataset: Dataset
) -> Any:
    if checkpoint is None:
        return items if name == "missing" else items.none()
    critic = CriticVerdict.objects.filter(item=OuterRef("pk"), checkpoint=checkpoint, probe="")
    if name == "missing":
        return items.exclude(Exists(critic))
    if name == "forced":
        return items.filter(Exists(critic.filter(status=JobStatus.DONE, forced=True)))
    if name == "failed":
        return items.filter(Exists(critic.filter(status=JobStatus.FAILED)))
    if name == "pending":
        return items.filter(Exists(critic.filter(status__in=[JobStatus.QUEUED, JobStatus.RUNNING])))
    span, span_params = score_span_sql("h.profile", otherwise="0")
    sql = DISAGREEING_ITEMS.format(reviewer="AND h.reviewer_id = %s" if user_pk is not None else "", span=span)
    reviewer = [user_pk] if user_pk is not None else []
    params = [checkpoint.pk, dataset.pk, *reviewer, dataset.disagreement_threshold, *span_params]
    return items.filter(pk__in=RawSQL(sql, params))  # noqa: S611 - constants, values as parameters


def _sorted(items: QuerySet[Item], sort: str, checkpoint: CriticCheckpoint | None) -> QuerySet[Item]:
    """Sorted by a column, then by id; counts and the critic's confidence come from joins (a subquery per item costs
    several times as much at 100,000 items)."""
    key = sort.lstrip("-")
    if key == "verdicts":
        items = items.alias(n_verdicts=Count("human_verdicts"))
        expr = F("n_verdicts")
    elif key == "confidence":
        done = Q(
            critic_verdicts__checkpoint=checkpoint,
            critic_verdicts__probe="",
            critic_verdicts__status=JobStatus.DONE,
        )
        items = items.alias(critic=FilteredRelation("critic_verdicts", condition=done))
        expr = F("critic__confidence")
    else:
        expr = F(key)
    ordering = expr.desc(nulls_last=True) if sort.startswith("-") else expr.asc(nulls_last=True)
    return items.order_by(ordering, "id")


def item_table(
    *, user: User, dataset: Dataset, query: TableQuery, checkpoint: CriticCheckpoint | None, page: Any = 1
) -> Table:
    """One page of the table: PAGE_SIZE rows, built with a fixed number of queries whatever the dataset's size."""
    admin = is_admin(user)
    filtered = _filtered(user=user, dataset=dataset, query=query, checkpoint=checkpoint)
    total = filtered.count()  # counted before sorting: a sort by a count would group every row twice
    ids = _sorted(filtered, query.sort, checkpoint).values_list("pk", flat=True)
    current = _Counted(ids, PAGE_SIZE, total=total).get_page(page)
    page_ids = list(current.object_list)
    items = Item.objects.in_bulk(page_ids)
    humans: dict[int, list[HumanVerdict]] = defaultdict(list)
    for verdict in HumanVerdict.objects.filter(item_id__in=page_ids).order_by("committed_at"):
        humans[verdict.item_id].append(verdict)
    critics = (
        {c.item_id: c for c in CriticVerdict.objects.filter(item_id__in=page_ids, checkpoint=checkpoint, probe="")}
        if checkpoint is not None
        else {}
    )
    rows = []
    for pk in page_ids:
        item, verdicts = items[pk], humans[pk]
        mine = next((v for v in verdicts if v.reviewer_id == user.pk), None)
        row = Row(item=item, human_verdicts=len(verdicts), mine=mine, revealed=admin or mine is not None)
        if row.revealed:
            row.critic = critics.get(pk)
            compared = verdicts if admin else [mine] if mine else []
            row.disagree = _any_disagreement(row.critic, compared, dataset)
        rows.append(row)
    return Table(
        query=query,
        page=current,
        rows=rows,
        checkpoint=checkpoint,
        admin=admin,
        models=_model_names(user=user, dataset=dataset, admin=admin),
    )


class _Counted(Paginator):
    """A paginator told its count (the filtered rows, counted without the sort's joins)."""

    def __init__(self, object_list: Any, per_page: int, *, total: int) -> None:
        super().__init__(object_list, per_page)
        self.total = total

    @property
    def count(self) -> int:
        return self.total


def _any_disagreement(critic: CriticVerdict | None, humans: list[HumanVerdict], dataset: Dataset) -> bool:
    if critic is None or critic.status != JobStatus.DONE:
        return False
    return any(
        not verdict_values_agree(
            profile=h.profile,
            threshold=dataset.disagreement_threshold,
            first=(h.score, h.preference),
            second=(critic.score, critic.preference),
        )
        for h in humans
    )


def _model_names(*, user: User, dataset: Dataset, admin: bool) -> list[str]:
    """The response models a user may filter by: all for administrators, those of judged items for reviewers.
    Cached for a minute (two DISTINCT scans of the dataset)."""
    key = f"item-table-models:{dataset.pk}:{'all' if admin else user.pk}"
    names = cache.get(key)
    if names is None:
        items = Item.objects.filter(dataset=dataset).order_by()
        if not admin:
            items = items.filter(Exists(HumanVerdict.objects.filter(item=OuterRef("pk"), reviewer_id=user.pk)))
        found = {
            *items.values_list("model_a", flat=True).distinct(),
            *items.values_list("model_b", flat=True).distinct(),
        }
        names = sorted(name for name in found if name)
        cache.set(key, names, MODEL_NAMES_SECONDS)
    return list(names)
