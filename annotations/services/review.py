"""The review desk: assignment under the dataset's overlap, blind verdicts, and what happens after the reveal.

Assignment is optimistic and lock-free: a reviewer asks for a few candidate items, then claims one of the item's
k slots by inserting it; the database's unique constraints decide any race, so no item ever gets more than k
reviewers, and a lease that ran out can be taken over by exactly one other reviewer."""

from __future__ import annotations

from contextlib import nullcontext
from datetime import timedelta

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Case, Count, Exists, F, FloatField, OuterRef, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from annotations.models import CriticVerdict, Dataset, HumanVerdict, Item, ReviewSkip, ReviewSlot
from annotations.selectors.review import review_progress_counted, review_progress_forget
from critic_worker.profiles import PREFERENCES, PROFILES, get_profile

LEASE = timedelta(minutes=30)
CANDIDATES = 8
ORDERS = {
    "default": "In order",
    "disagreement-first": "Where people and the critic disagree first",
    "least-confident": "Least confident critic first",
}
ORDERS_BY_CRITIC = {"disagreement-first", "least-confident"}  # the orders that read the active critic's verdicts


def _disagreement(dataset: Dataset, checkpoint_id: int) -> Exists:
    """An item where some human verdict disagrees with the checkpoint's (the dataset's rule, as on the reveal)."""
    critic = CriticVerdict.objects.filter(
        item=OuterRef(OuterRef("pk")), checkpoint_id=checkpoint_id, status="done", swapped=False
    )
    spans = [
        When(profile=name, then=Value(float((p.score_max or 0) - (p.score_min or 0))))
        for name, p in PROFILES.items()
        if p.is_pointwise
    ]
    humans = HumanVerdict.objects.filter(item=OuterRef("pk")).annotate(
        critic_preference=Subquery(critic.values("preference")[:1]),
        critic_score=Subquery(critic.values("score")[:1]),
        allowed=Case(*spans, default=Value(0.0), output_field=FloatField()) * dataset.disagreement_threshold,
    )
    return Exists(
        humans.filter(
            Q(preference__isnull=False, critic_preference__isnull=False) & ~Q(preference=F("critic_preference"))
            | Q(score__isnull=False, critic_score__isnull=False, score__gt=F("critic_score") + F("allowed"))
            | Q(score__isnull=False, critic_score__isnull=False, score__lt=F("critic_score") - F("allowed"))
        )
    )


def _open_items(*, reviewer: User, dataset: Dataset, order: str, checkpoint_id: int | None) -> QuerySet[Item]:
    """Items this reviewer may take: not complete, not theirs, not skipped by them, with a free review place.
    Each condition is a correlated subquery on an index, so finding the first few costs the same at any size."""
    now = timezone.now()
    active = ReviewSlot.objects.filter(item=OuterRef("pk")).filter(
        Q(leased_until__isnull=True) | Q(leased_until__gt=now)
    )
    items = (
        Item.objects.filter(dataset=dataset, review_complete=False)
        .exclude(Exists(ReviewSlot.objects.filter(item=OuterRef("pk"), reviewer=reviewer)))
        .exclude(Exists(ReviewSkip.objects.filter(item=OuterRef("pk"), reviewer=reviewer)))
        # A label of theirs imported from elsewhere counts: one verdict per reviewer and item.
        .exclude(Exists(HumanVerdict.objects.filter(item=OuterRef("pk"), reviewer=reviewer)))
    )
    if dataset.review_overlap == 1:
        items = items.exclude(Exists(active))
    else:
        taken = active.order_by().values("item").annotate(n=Count("pk")).values("n")[:1]
        items = items.annotate(taken=Coalesce(Subquery(taken), 0)).filter(taken__lt=dataset.review_overlap)
    if order == "disagreement-first" and checkpoint_id is not None:
        return items.annotate(disagreed=_disagreement(dataset, checkpoint_id)).order_by(F("disagreed").desc(), "pk")
    if order == "least-confident" and checkpoint_id is not None:
        confidence = CriticVerdict.objects.filter(
            item=OuterRef("pk"), checkpoint_id=checkpoint_id, status="done", swapped=False
        )
        return items.annotate(critic_confidence=confidence.values("confidence")[:1]).order_by(
            F("critic_confidence").asc(nulls_last=True), "pk"
        )
    return items.order_by("pk")


def _claim(*, item_id: int, reviewer: User, overlap: int) -> bool:
    """Take a free slot of the item, or one whose lease ran out; False when all k are held."""
    until = timezone.now() + LEASE
    for slot in range(overlap):
        try:
            # Alone, one INSERT is its own transaction (no BEGIN/COMMIT round trips on the hot path); inside a
            # caller's transaction it needs a savepoint so that a refused INSERT does not spoil the rest.
            with transaction.atomic() if connection.in_atomic_block else nullcontext():
                ReviewSlot.objects.create(item_id=item_id, slot=slot, reviewer=reviewer, leased_until=until)
            return True
        except IntegrityError:
            continue  # held by someone (or this reviewer already has one)
    expired = ReviewSlot.objects.filter(item_id=item_id, leased_until__lt=timezone.now()).values("pk")[:1]
    # A guarded update: of two reviewers taking over the same lapsed lease, the second updates nothing.
    try:
        with transaction.atomic():
            return bool(
                ReviewSlot.objects.filter(pk__in=expired, leased_until__lt=timezone.now()).update(
                    reviewer=reviewer, leased_until=until
                )
            )
    except IntegrityError:
        return False


def review_next(
    *, reviewer: User, dataset: Dataset, order: str = "default", checkpoint_id: int | None = None
) -> Item | None:
    """The item this reviewer should judge now: the one they hold, or a newly claimed one; None when done."""
    held = (
        ReviewSlot.objects.filter(reviewer=reviewer, item__dataset=dataset, leased_until__gt=timezone.now())
        .select_related("item")
        .order_by("created_at")
        .first()
    )
    if held is not None:
        return held.item
    for _ in range(3):  # each round looks at fresh candidates, in case others took the first ones
        open_items = _open_items(reviewer=reviewer, dataset=dataset, order=order, checkpoint_id=checkpoint_id)
        # Ids only: with the rows' columns and the image joined in, PostgreSQL picks a plan five times slower.
        candidates = list(open_items.values_list("pk", flat=True)[:CANDIDATES])
        if not candidates:
            return None
        for item_id in candidates:
            if _claim(item_id=item_id, reviewer=reviewer, overlap=dataset.review_overlap):
                return Item.objects.select_related("image", "dataset").get(pk=item_id)
    return None


def _verdict_fields(item: Item, score: float | None, preference: str | None) -> dict[str, object]:
    spec = get_profile(item.profile)
    if spec.is_pointwise:
        if score is None:
            raise ValidationError({"score": [f"Give a score from {spec.score_min:g} to {spec.score_max:g}."]})
        if not spec.in_range(score):
            raise ValidationError({"score": [f"The score must be from {spec.score_min:g} to {spec.score_max:g}."]})
        return {"score": score, "preference": None}
    if preference not in PREFERENCES:
        raise ValidationError({"preference": ["Choose A, B or tie."]})
    return {"score": None, "preference": preference}


def human_verdict_submit(
    *, reviewer: User, item: Item, score: float | None = None, preference: str | None = None, rationale: str = ""
) -> HumanVerdict:
    """Commit the reviewer's blind verdict. Submitting again (a double click, a retry) returns the first one
    unchanged; an item this reviewer does not hold is refused."""
    fields = _verdict_fields(item, score, preference)
    with transaction.atomic():
        # Closing the reviewer's slot (a lapsed lease nobody took over is still theirs) is the guard: of two
        # submits at once, the second waits for the first's row lock, then finds the slot closed.
        closed = ReviewSlot.objects.filter(item=item, reviewer=reviewer, leased_until__isnull=False)
        if not closed.update(leased_until=None):
            existing = HumanVerdict.objects.filter(item=item, reviewer=reviewer).first()
            if existing is not None:
                return existing
            raise PermissionDenied("This item is not assigned to you (your lease ran out and it went to someone).")
        verdict = HumanVerdict.objects.create(
            item=item, reviewer=reviewer, profile=item.profile, rationale=rationale[:10_000], **fields
        )
        overlap = item.dataset.review_overlap
        if overlap == 1 or ReviewSlot.objects.filter(item=item, leased_until__isnull=True).count() >= overlap:
            Item.objects.filter(pk=item.pk).update(review_complete=True)
        transaction.on_commit(lambda: review_progress_counted(reviewer=reviewer, dataset_id=item.dataset_id))
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
