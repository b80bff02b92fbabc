"""The item table of a dataset (Label Studio's data manager): filter, search, sort and page through its items,
with each row's review state. A reviewer sees an item's models and the critic's verdict only once they have
committed their own verdict on it (the blind rule); filters and sorts that read those hidden values look only at
the items the reviewer has judged, so that no filter tells a reviewer what the row would hide."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.cache import cache
from django.core.paginator import Page, Paginator
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet
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
# The columns a row shows (a critic verdict's prompt and probabilities, an item's responses, run to kilobytes).
ITEM_SHOWN = ("external_id", "question", "profile", "split", "kind", "model_a", "model_b")
HUMAN_SHOWN = (
    *("item_id", "reviewer_id", "profile", "score", "preference"),
    *("revised_score", "revised_preference", "revised_at"),
)
CRITIC_SHOWN = ("item_id", "status", "score", "preference", "confidence", "forced")

# The items where the reviewer's own verdict h and the critic's verdict c disagree by the dataset's rule (as on the
# reveal), as one semi-join (a correlated EXISTS per item costs ~10x at 100,000 items). Constants only; values are
# parameters. Administrators' filter reads the critic verdicts' humans_disagree instead (kept by the services).
MY_DISAGREEING_ITEMS = (
    "SELECT h.item_id FROM annotations_humanverdict h JOIN annotations_criticverdict c ON c.item_id = h.item_id"
    " AND c.checkpoint_id = %s AND c.status = 'done' AND c.probe = ''"
    " WHERE h.reviewer_id = %s AND (h.preference <> c.preference OR ABS(h.score - c.score) > %s * ({span}))"
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
    """The dataset's items that pass the query's filters, by id (for bulk actions on 'every matching item')."""
    return _filtered(user=user, dataset=dataset, query=query, checkpoint=checkpoint).order_by("id")


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
    if user_pk is None:  # an administrator: anyone's verdict
        return items.filter(Exists(critic.filter(status=JobStatus.DONE, humans_disagree=True)))
    span, span_params = score_span_sql("h.profile", otherwise="0")
    params = [checkpoint.pk, user_pk, dataset.disagreement_threshold, *span_params]
    sql = MY_DISAGREEING_ITEMS.format(span=span)
    return items.filter(pk__in=RawSQL(sql, params))  # noqa: S611 - constants, values as parameters


def _in_order(items: QuerySet[Item], sort: str, checkpoint: CriticCheckpoint | None, total: int) -> Any:
    """The items' ids in the sort's order, for the paginator to slice: by a column, then by id, both ascending or
    both descending (the order of an index); by the critic's confidence, the items whose verdict has one, then the
    others by id (confidence nulls last)."""
    descending = sort.startswith("-")
    key = sort.lstrip("-")

    def by(*names: str) -> list[Any]:
        return [F(name).desc() if descending else F(name).asc() for name in names]

    if key == "confidence" and checkpoint is not None:
        done = {"checkpoint": checkpoint, "probe": "", "status": JobStatus.DONE, "confidence__isnull": False}
        rated = items.filter(**{f"critic_verdicts__{name}": value for name, value in done.items()})
        others = items.exclude(Exists(CriticVerdict.objects.filter(item=OuterRef("pk"), **done)))
        return _ByConfidence(
            rated.order_by(*by("critic_verdicts__confidence", "id")).values_list("pk", flat=True),
            others.order_by(*by("id")).values_list("pk", flat=True),
            total=total,
            descending=descending,
        )
    column = {"verdicts": "human_verdict_count", "confidence": "id"}.get(key, key)
    return _FromEitherEnd(items.order_by(*by(*dict.fromkeys([column, "id"]))).values_list("pk", flat=True), total)


def item_table(
    *, user: User, dataset: Dataset, query: TableQuery, checkpoint: CriticCheckpoint | None, page: Any = 1
) -> Table:
    """One page of the table: PAGE_SIZE rows, built with a fixed number of queries whatever the dataset's size."""
    with _planned_for_their_values():
        return _table(user=user, dataset=dataset, query=query, checkpoint=checkpoint, page=page)


@contextmanager
def _planned_for_their_values() -> Iterator[None]:
    """PostgreSQL plans the table's queries for their values each time. With the app's prepared statements it would
    otherwise, after five runs on a connection, settle on one plan for any value: for a search, one that walks every
    item in id order looking for rows a rare term has few of; for a filter, one that cannot use a partial index."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL plan_cache_mode = force_custom_plan")
        yield


def _table(*, user: User, dataset: Dataset, query: TableQuery, checkpoint: CriticCheckpoint | None, page: Any) -> Table:
    admin = is_admin(user)
    filtered = _filtered(user=user, dataset=dataset, query=query, checkpoint=checkpoint)
    first: list[int] = []
    if _is_first(page):  # one row more than a page, read forward: fewer, and they are all there are
        first = _in_order(filtered, query.sort, checkpoint, PAGE_SIZE + 1)[0 : PAGE_SIZE + 1]
    total = len(first) if _is_first(page) and len(first) <= PAGE_SIZE else filtered.count()
    ids = _in_order(filtered, query.sort, checkpoint, total)
    current = _Counted(_Read(ids, first), PAGE_SIZE, total=total).get_page(page)
    page_ids = list(current.object_list)
    items = Item.objects.only(*ITEM_SHOWN).in_bulk(page_ids)
    humans: dict[int, list[HumanVerdict]] = defaultdict(list)
    for verdict in HumanVerdict.objects.filter(item_id__in=page_ids).only(*HUMAN_SHOWN).order_by("committed_at"):
        humans[verdict.item_id].append(verdict)
    shown = CriticVerdict.objects.filter(item_id__in=page_ids, checkpoint=checkpoint, probe="").only(*CRITIC_SHOWN)
    critics = {c.item_id: c for c in shown} if checkpoint is not None else {}
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


def _is_first(page: Any) -> bool:
    """Whether the paginator will show the first page (it does for what is not a whole number)."""
    try:
        return int(str(page)) == 1
    except ValueError:
        return True


class _Read:
    """Ids sliced from `ids`, the first page's from `first` when they were read already."""

    def __init__(self, ids: Any, first: list[int]) -> None:
        self.ids, self.first = ids, first

    def __getitem__(self, window: slice) -> list[int]:
        if self.first and not window.start and window.stop <= len(self.first):
            return self.first[: window.stop]
        return list(self.ids[window])


class _FromEitherEnd:
    """Ids in a queryset's order (`total` of them), sliced for the paginator; a window in the second half is read
    from the end in the reverse order, so that a page near the end skips few rows, not most."""

    def __init__(self, ids: QuerySet[Any], total: int) -> None:
        self.ids, self.total = ids, total

    def __getitem__(self, window: slice) -> list[int]:
        start, stop = window.start or 0, min(window.stop, self.total)
        if start > self.total - stop:
            return list(self.ids.reverse()[self.total - stop : self.total - start])[::-1]
        return list(self.ids[start:stop])


class _ByConfidence:
    """The items whose verdict has a confidence (`rated`, in its order, read along an index), then the `others` by
    id, sliced for the paginator as one list of `total` ids: what sorting every row by confidence (nulls last), then
    id, gives, without sorting every row. A window in the second half is read from the end."""

    # Fewer others than this are read whole when met from the end: asked for "the last 50" of a few rare rows, the
    # database looks up every item's verdict in turn.
    FETCH_ALL = 10_000

    def __init__(self, rated: QuerySet[Any], others: QuerySet[Any], *, total: int, descending: bool) -> None:
        self.rated, self.others, self.total, self.descending = rated, others, total, descending

    def __getitem__(self, window: slice) -> list[int]:
        start, stop = window.start or 0, min(window.stop, self.total)
        if start <= self.total - stop:
            ids = list(self.rated[start:stop])
            if len(ids) == stop - start:
                return ids
            # The window ends among the others; they are at least half the items here, so found at once.
            rated = start + len(ids) if ids or not start else self.rated.count()
            return ids + list(self.others[max(0, start - rated) : stop - rated])
        # From the end: the others first, counted (all of them at once) rather than searched for.
        start, stop = self.total - stop, self.total - start
        n_others = self.others.count()
        ids = []
        if start < n_others:
            if n_others <= self.FETCH_ALL:
                ids = sorted(self.others.order_by(), reverse=not self.descending)[start:stop]
            else:
                ids = list(self.others.reverse()[start:stop])
        ids += self.rated.reverse()[max(0, start - n_others) : max(0, stop - n_others)]
        return ids[::-1]


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
