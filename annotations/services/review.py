"""The review desk: assignment under the dataset's overlap, blind verdicts, and what happens after the reveal.

Assignment is optimistic and lock-free: a reviewer asks for a few candidate items, then claims one of the item's
k slots by inserting it; the database's unique constraints decide any race, so no item ever gets more than k
reviewers, and a lease that ran out can be taken over by exactly one other reviewer."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from annotations.models import Dataset, HumanVerdict, Item, ReviewSkip, ReviewSlot
from annotations.permissions import is_admin
from annotations.selectors.profiles import score_span_sql
from annotations.selectors.review import (
    ITEM_COLUMNS,
    ITEM_TABLES,
    informative_order,
    review_item,
    review_item_from_row,
    review_progress_counted,
    review_progress_forget,
)
from annotations.services.verdict_summary import (
    critic_disagreement_refresh,
    desk_verdict_disagreement_mark,
    items_recount,
)
from critic_worker.profiles import PREFERENCES, Profile, get_profile

LEASE = timedelta(minutes=30)
CANDIDATES = 8
ORDERS = {
    "default": "In order",
    "disagreement-first": "Where people and the critic disagree first",
    "least-confident": "Least confident critic first",
    "most-informative": "Most informative first (where the critic's verdict distribution is least certain)",
}
# The orders that read the active critic's verdicts.
ORDERS_BY_CRITIC = {"disagreement-first", "least-confident", "most-informative"}


def review_orders(*, reviewer: User) -> dict[str, str]:
    """The orders this user may choose. Those that read the critic's or other people's verdicts are for
    administrators (adjudication): to a reviewer, an item's place in them would hint at verdicts not yet seen."""
    if is_admin(reviewer):
        return dict(ORDERS)
    return {name: label for name, label in ORDERS.items() if name not in ORDERS_BY_CRITIC}


DISAGREED = (
    "EXISTS(SELECT 1 FROM annotations_humanverdict h JOIN annotations_criticverdict c ON c.item_id = h.item_id"
    " AND c.checkpoint_id = %s AND c.status = 'done' AND c.probe = '' WHERE h.item_id = i.id"
    " AND (h.preference <> c.preference OR ABS(h.score - c.score) > d.disagreement_threshold * {span})) DESC, i.id"
)


HELD = (
    "(SELECT s.item_id FROM annotations_reviewslot s JOIN annotations_item h ON h.id = s.item_id"
    " WHERE s.reviewer_id = %s AND s.leased_until > %s AND h.dataset_id = %s ORDER BY s.created_at LIMIT 1)"
)


@dataclass(frozen=True)
class ReviewScope:
    """A part of a dataset the desk serves (the item table's "Review these"): its filters that read nothing of
    anyone's verdicts. Empty fields do not filter."""

    q: str = ""
    profile: str = ""
    split: str = ""
    kind: str = ""

    def where(self) -> tuple[list[str], list[Any]]:
        """SQL conditions on the item `i` and their parameters (portable: SQLite has no ILIKE)."""
        where: list[str] = []
        params: list[Any] = []
        for column in ("profile", "split", "kind"):
            if value := getattr(self, column):
                where.append(f"i.{column} = %s")
                params.append(value)
        if self.q:
            like = "LIKE UPPER(%s) ESCAPE '\\'"
            where.append(f"(UPPER(i.external_id) {like} OR UPPER(i.question) {like})")
            pattern = "%" + self.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            params += [pattern, pattern]
        return where, params

    def __bool__(self) -> bool:
        return any(vars(self).values())

    def parts(self) -> list[tuple[str, str]]:
        """The filters set, as (what, value) in the order the desk names them: profile, split, kind, search."""
        named = [("profile", self.profile), ("split", self.split), ("kind", self.kind), ("matching", self.q)]
        return [(what, value) for what, value in named if value]


def _candidates(
    *, reviewer: User, dataset_id: int, order: str, checkpoint_id: int | None, scope: ReviewScope | None = None
) -> tuple[int | None, list[Sequence[Any]]]:
    """The item this reviewer holds in the dataset, if any, and the first few items they may take, in the chosen
    order (rows of ITEM_COLUMNS): not complete, not theirs, not skipped by them, with a free review place.

    In SQL because it runs on every "next": each condition is a subquery probed per item while the open items are
    walked in order, so the cost is the few items looked at. (The ORM's Exists becomes an anti-join that reads all
    of the reviewer's past slots on every request, and building the query took the ORM longer than running it.)
    The held item comes on every row and the dataset's settings are joined in, so that this is one round trip;
    with no row, the held item is asked for alone."""
    now = timezone.now()
    where = [
        "i.dataset_id = %s AND NOT i.review_complete",
        "(SELECT 1 FROM annotations_reviewskip k WHERE k.item_id = i.id AND k.reviewer_id = %s) IS NULL",
        # A label of theirs imported from elsewhere counts: one verdict per reviewer and item.
        "(SELECT 1 FROM annotations_humanverdict h WHERE h.item_id = i.id AND h.reviewer_id = %s) IS NULL",
        "(SELECT 1 FROM annotations_reviewslot s WHERE s.item_id = i.id AND s.reviewer_id = %s) IS NULL",
        # Fewer than k places taken: committed, or leased and not lapsed.
        "(SELECT COUNT(*) FROM annotations_reviewslot s WHERE s.item_id = i.id"
        " AND (s.leased_until IS NULL OR s.leased_until > %s)) < d.review_overlap",
    ]
    params: list[Any] = [reviewer.pk, now, dataset_id, dataset_id, reviewer.pk, reviewer.pk, reviewer.pk, now]
    if scope:
        scoped, scope_params = scope.where()
        where += scoped
        params += scope_params
    order_by = "i.id"
    if order == "least-confident" and checkpoint_id is not None:
        order_by = (
            "(SELECT c.confidence FROM annotations_criticverdict c WHERE c.item_id = i.id AND c.checkpoint_id = %s"
            " AND c.status = 'done' AND c.probe = '') ASC NULLS LAST, i.id"
        )
        params.append(checkpoint_id)
    elif order == "most-informative" and checkpoint_id is not None:
        order_by, order_params = informative_order(checkpoint_id=checkpoint_id)
        params += order_params
    elif order == "disagreement-first" and checkpoint_id is not None:
        # The dataset's rule, as on the reveal: another preference, or scores further apart than the threshold
        # times the profile's range.
        span, span_params = score_span_sql("h.profile", otherwise="0")
        order_by = DISAGREED.format(span=span)
        params += [checkpoint_id, *span_params]
    sql = "SELECT {} AS held, {} FROM {} WHERE {} ORDER BY {} LIMIT {}"
    with connection.cursor() as cursor:
        cursor.execute(sql.format(HELD, ITEM_COLUMNS, ITEM_TABLES, " AND ".join(where), order_by, CANDIDATES), params)
        rows = cursor.fetchall()
        if not rows:
            cursor.execute(f"SELECT {HELD}", params[:3])
            return cursor.fetchone()[0], []
    return rows[0][0], [row[1:] for row in rows]


CLAIM = (
    "INSERT INTO annotations_reviewslot (item_id, slot, reviewer_id, leased_until, created_at)"
    " VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING id"
)


def _claim(*, item_id: int, reviewer: User, overlap: int) -> bool:
    """Take a free slot of the item, or one whose lease ran out; False when all k are held."""
    now = timezone.now()
    with connection.cursor() as cursor:
        for slot in range(overlap):
            # One statement, its own transaction: a slot held by someone (or a second one for this reviewer) is
            # refused by the unique constraints, and the INSERT then simply returns no row.
            cursor.execute(CLAIM, [item_id, slot, reviewer.pk, now + LEASE, now])
            if cursor.fetchone() is not None:
                return True
    expired = ReviewSlot.objects.filter(item_id=item_id, leased_until__lt=now).values("pk")[:1]
    # A guarded update: of two reviewers taking over the same lapsed lease, the second updates nothing.
    try:
        with transaction.atomic():
            return bool(
                ReviewSlot.objects.filter(pk__in=expired, leased_until__lt=now).update(
                    reviewer=reviewer, leased_until=now + LEASE
                )
            )
    except IntegrityError:
        return False


def review_next(
    *,
    reviewer: User,
    dataset_id: int,
    order: str = "default",
    checkpoint_id: int | None = None,
    scope: ReviewScope | None = None,
) -> Item | None:
    """The item this reviewer should judge now (with its dataset): the one they hold, or a newly claimed one; None
    when nothing is left for them (or there is no such dataset). PermissionDenied for an order this user may not
    choose (review_orders)."""
    if order in ORDERS_BY_CRITIC and not is_admin(reviewer):
        raise PermissionDenied("Orders that read the critic's or other people's verdicts are for administrators.")
    for _ in range(3):  # each round looks at fresh candidates, in case others took the first ones
        held, rows = _candidates(
            reviewer=reviewer, dataset_id=dataset_id, order=order, checkpoint_id=checkpoint_id, scope=scope
        )
        if held is not None:
            return review_item(user=reviewer, pk=held)
        for row in rows:
            item = review_item_from_row(row)
            if _claim(item_id=item.pk, reviewer=reviewer, overlap=item.dataset.review_overlap):
                return item
        if not rows:
            return None
    return None


def score_steps(spec: Profile, *, shown: int = 7) -> str:
    """The scores a profile can give, as a reviewer reads them: "1, 2, 3, 4, 5", or "0, 1, 2, …, 100" when long."""
    scores = [f"{v.score:g}" for v in spec.verdicts()]
    return ", ".join(scores if len(scores) <= shown else [*scores[:3], "…", scores[-1]])


def score_refusal(spec: Profile, score: float) -> str:
    """What is wrong with a score the profile cannot give ("" when it can): above or below its range, or off its
    steps. The desk says the same as the reviewer types (review.js)."""
    if not math.isfinite(score):  # "nan" and "inf" parse as floats, but are no score
        return f"Give a score from {spec.score_min:g} to {spec.score_max:g}."
    if spec.score_max is not None and score > spec.score_max:
        return f"{score:g} is above the highest score, {spec.score_max:g}."
    if spec.score_min is not None and score < spec.score_min:
        return f"{score:g} is below the lowest score, {spec.score_min:g}."
    if not spec.on_grid(score):
        return f"{score:g} is not on this rubric's steps ({score_steps(spec)})."
    return ""


def _verdict_fields(item: Item, score: float | None, preference: str | None) -> dict[str, object]:
    spec = get_profile(item.profile)
    if spec.is_pointwise:
        if score is None:
            raise ValidationError({"score": [f"Give a score from {spec.score_min:g} to {spec.score_max:g}."]})
        if refusal := score_refusal(spec, score):
            raise ValidationError({"score": [refusal]})
        return {"score": score, "preference": None}
    if preference not in PREFERENCES or (preference == "tie" and not spec.allow_tie):
        raise ValidationError({"preference": ["Choose A, B or tie." if spec.allow_tie else "Choose A or B (no ties)."]})
    return {"score": None, "preference": preference}


CLOSE = (
    "UPDATE annotations_reviewslot SET leased_until = NULL"
    " WHERE item_id = %s AND reviewer_id = %s AND leased_until IS NOT NULL"
)
# No row when a verdict of this reviewer's is there already: a label imported in their name while they held the item.
RECORD = (
    "INSERT INTO annotations_humanverdict (item_id, reviewer_id, profile, score, preference, rationale, source,"
    " committed_at, justification_flagged, corrected_justification) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
    " ON CONFLICT (item_id, reviewer_id) DO NOTHING RETURNING id"
)
IMPORTED_MEANWHILE = (
    "A verdict in your name on this item was imported while you held it: it counts as yours (and shows you the other "
    "verdicts), so the desk records no second, no longer blind one. Go on to the next item."
)
# An item is complete once its k review places hold committed verdicts; a verdict recorded is counted on it (the item
# table sorts by the count: annotations/services/verdict_summary.py).
COMPLETE = (
    "UPDATE annotations_item SET human_verdict_count = human_verdict_count + %s, review_complete = review_complete"
    " OR (SELECT COUNT(*) FROM annotations_reviewslot s WHERE s.item_id = %s AND s.leased_until IS NULL) >= %s"
    " WHERE id = %s"
)


def human_verdict_submit(
    *, reviewer: User, item: Item, score: float | None = None, preference: str | None = None, rationale: str = ""
) -> HumanVerdict:
    """Commit the reviewer's blind verdict. Submitting again (a double click, a retry) returns the first one
    unchanged; an item this reviewer does not hold is refused. (Plain SQL: this runs on every verdict.)"""
    fields = _verdict_fields(item, score, preference)
    verdict = HumanVerdict(
        item=item, reviewer=reviewer, profile=item.profile, rationale=rationale[:10_000], committed_at=timezone.now()
    )
    verdict.score, verdict.preference = fields["score"], fields["preference"]  # type: ignore[assignment]
    overlap = item.dataset.review_overlap
    with transaction.atomic(), connection.cursor() as cursor:
        if overlap > 1:
            # The last two of an item's k verdicts, committed at once, would each count the other's slot as still
            # open and neither would mark the item complete: verdicts on one item wait for each other here.
            list(Item.objects.select_for_update().filter(pk=item.pk).values_list("pk"))
        # Closing the reviewer's slot (a lapsed lease nobody took over is still theirs) is the guard: of two
        # submits at once, the second waits for the first's row lock, then finds the slot closed.
        cursor.execute(CLOSE, [item.pk, reviewer.pk])
        if not cursor.rowcount:
            existing = HumanVerdict.objects.filter(item=item, reviewer=reviewer).first()
            if existing is not None:
                return existing
            raise PermissionDenied("This item is not assigned to you (your lease ran out and it went to someone).")
        values = [verdict.score, verdict.preference, verdict.rationale, str(verdict.source), verdict.committed_at]
        cursor.execute(RECORD, [item.pk, reviewer.pk, verdict.profile, *values, False, ""])
        recorded = cursor.fetchone()
        # The place stays closed either way: the reviewer has a verdict on the item (the desk must not serve it again).
        cursor.execute(COMPLETE, [int(recorded is not None), item.pk, overlap, item.pk])
        if recorded is not None:
            desk_verdict_disagreement_mark(cursor=cursor, item=item, verdict=verdict)
        transaction.on_commit(lambda: review_progress_counted(reviewer=reviewer, dataset_id=item.dataset_id))
    if recorded is None:
        raise PermissionDenied(IMPORTED_MEANWHILE)
    verdict.pk = recorded[0]
    verdict._state.adding = False
    return verdict


def dataset_overlap_apply(*, dataset: Dataset) -> None:
    """After the overlap k changed: an item is complete exactly when k reviewers have committed at the desk, so
    raising k reopens items and lowering it closes them."""
    committed = (
        ReviewSlot.objects.filter(item=OuterRef("pk"), leased_until__isnull=True)
        .order_by()
        .values("item")
        .annotate(n=Count("pk"))
        .values("n")[:1]
    )
    items = dataset.items.annotate(committed=Coalesce(Subquery(committed), 0))
    k = dataset.review_overlap
    with transaction.atomic():
        items.filter(review_complete=True, committed__lt=k).update(review_complete=False)
        items.filter(review_complete=False, committed__gte=k).update(review_complete=True)
    review_progress_forget(dataset=dataset)


def review_skip(*, reviewer: User, item: Item) -> None:
    """Give the item back and do not offer it to this reviewer again."""
    with transaction.atomic():
        ReviewSlot.objects.filter(item=item, reviewer=reviewer, leased_until__isnull=False).delete()
        ReviewSkip.objects.get_or_create(item=item, reviewer=reviewer)


def human_verdict_revise(
    *, verdict: HumanVerdict, score: float | None = None, preference: str | None = None
) -> HumanVerdict:
    """A change of mind after the reveal, kept beside the blind verdict (which never changes)."""
    fields = _verdict_fields(verdict.item, score, preference)
    verdict.revised_score, verdict.revised_preference = fields["score"], fields["preference"]  # type: ignore[assignment]
    verdict.revised_at = timezone.now()
    verdict.save(update_fields=["revised_score", "revised_preference", "revised_at"])
    return verdict


def human_verdict_correct_critic(*, verdict: HumanVerdict, corrected_justification: str) -> HumanVerdict:
    """The reviewer marks the critic's justification wrong and writes the right one."""
    text = corrected_justification.strip()
    if not text:
        raise ValidationError({"corrected_justification": ["Write the justification the critic should have given."]})
    verdict.justification_flagged, verdict.corrected_justification = True, text[:20_000]
    verdict.save(update_fields=["justification_flagged", "corrected_justification"])
    return verdict


def human_verdicts_delete(*, verdicts: QuerySet[HumanVerdict]) -> int:
    """Delete these human verdicts (an administrator removing wrong ones); their items' verdict counts and the
    critic verdicts' disagreement marks follow. Returns how many were deleted."""
    with transaction.atomic():
        item_ids = set(verdicts.values_list("item_id", flat=True))
        deleted, _ = verdicts.delete()
        items_recount(item_ids=item_ids)
        critic_disagreement_refresh(item_ids=item_ids)
    return deleted
