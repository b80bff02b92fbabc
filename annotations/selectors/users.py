"""Reviewers at a glance, for administrators: how much each has judged, how often they agree with the others and
with the critic, and how long an item takes them."""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db import connection
from django.db.models import Count, OuterRef, Subquery

from annotations.models import CriticCheckpoint, HumanVerdict, ReviewSlot
from annotations.selectors.review import verdict_values_agree


@dataclass(frozen=True)
class Rate:
    """A share of agreeing pairs: `agreeing` of `n`; `value` is None when there is no pair."""

    agreeing: int
    n: int

    @property
    def value(self) -> float | None:
        return self.agreeing / self.n if self.n else None


@dataclass(frozen=True)
class ReviewerStats:
    user: User
    verdicts: int
    with_others: Rate
    with_critic: Rate
    seconds_per_item: float | None  # median, desk verdicts only: from the item shown to the verdict committed

    @property
    def time_per_item(self) -> str:
        """The median as people say it: '42 s', '3 min 5 s', or '—' without desk verdicts."""
        if self.seconds_per_item is None:
            return "—"
        seconds = round(self.seconds_per_item)
        return f"{seconds} s" if seconds < 60 else f"{seconds // 60} min {seconds % 60} s"


def _tally(
    pairs: list[tuple[int, str, float, tuple[float | None, str | None], tuple[float | None, str | None]]],
) -> dict[int, Rate]:
    counts: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for reviewer, profile, threshold, mine, theirs in pairs:
        counts[reviewer][0] += verdict_values_agree(profile=profile, threshold=threshold, first=mine, second=theirs)
        counts[reviewer][1] += 1
    return {reviewer: Rate(agreeing=a, n=n) for reviewer, (a, n) in counts.items()}


def _agreement_with_others() -> dict[int, Rate]:
    """Each reviewer's blind verdicts against every other reviewer's blind verdict on the same item (the dataset's
    disagreement rule: the same preference, or scores within its threshold)."""
    sql = (
        "SELECT h.reviewer_id, h.profile, d.disagreement_threshold, h.score, h.preference, o.score, o.preference"
        " FROM annotations_humanverdict h"
        " JOIN annotations_humanverdict o ON o.item_id = h.item_id AND o.reviewer_id <> h.reviewer_id"
        " JOIN annotations_item i ON i.id = h.item_id JOIN annotations_dataset d ON d.id = i.dataset_id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql)
        rows = cursor.fetchall()
    return _tally([(r, p, t, (s, pr), (s2, pr2)) for r, p, t, s, pr, s2, pr2 in rows])


def _agreement_with_critic(checkpoint: CriticCheckpoint | None) -> dict[int, Rate]:
    """Each reviewer's blind verdicts against the checkpoint's verdict on the same item."""
    if checkpoint is None:
        return {}
    rows = HumanVerdict.objects.filter(
        item__critic_verdicts__checkpoint=checkpoint,
        item__critic_verdicts__status="done",
        item__critic_verdicts__probe="",
    ).values_list(
        "reviewer_id",
        "profile",
        "item__dataset__disagreement_threshold",
        "score",
        "preference",
        "item__critic_verdicts__score",
        "item__critic_verdicts__preference",
    )
    return _tally([(r, p, t, (s, pr), (s2, pr2)) for r, p, t, s, pr, s2, pr2 in rows])


def _seconds_per_item() -> dict[int, float]:
    shown = ReviewSlot.objects.filter(item_id=OuterRef("item_id"), reviewer_id=OuterRef("reviewer_id"))
    rows = (
        HumanVerdict.objects.filter(source=HumanVerdict.Source.DESK)
        .annotate(shown_at=Subquery(shown.values("created_at")[:1]))
        .filter(shown_at__isnull=False)
        .values_list("reviewer_id", "committed_at", "shown_at")
    )
    spans: dict[int, list[float]] = defaultdict(list)
    for reviewer, committed, shown_at in rows:
        spans[reviewer].append(max(0.0, (committed - shown_at).total_seconds()))
    return {reviewer: statistics.median(values) for reviewer, values in spans.items()}


def reviewer_stats(*, checkpoint: CriticCheckpoint | None) -> list[ReviewerStats]:
    """Every account, administrators first then by name, with its review figures (`checkpoint`: the critic to
    compare with, usually the active one; None leaves that column empty)."""
    counts = dict(
        HumanVerdict.objects.values_list("reviewer_id").annotate(n=Count("id")).values_list("reviewer_id", "n")
    )
    others = _agreement_with_others()
    critic = _agreement_with_critic(checkpoint)
    seconds = _seconds_per_item()
    empty = Rate(agreeing=0, n=0)
    return [
        ReviewerStats(
            user=user,
            verdicts=counts.get(user.pk, 0),
            with_others=others.get(user.pk, empty),
            with_critic=critic.get(user.pk, empty),
            seconds_per_item=seconds.get(user.pk),
        )
        for user in User.objects.order_by("-is_active", "-is_staff", "username")
    ]
