from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.core.cache import cache
from django.db.models import QuerySet

from annotations.models import CriticCheckpoint, CriticVerdict, Dataset, HumanVerdict, Item
from critic_worker.profiles import get_profile


@dataclass(frozen=True)
class Reveal:
    human: HumanVerdict
    critic: CriticVerdict | None
    agrees: bool | None  # None while the critic's verdict is not in

    @property
    def waiting(self) -> bool:
        return self.critic is None or self.critic.status in ("queued", "running")


def verdicts_agree(*, human: HumanVerdict, critic: CriticVerdict, dataset: Dataset) -> bool:
    """The dataset's disagreement rule: another preference, or scores further apart than the threshold."""
    return verdict_values_agree(
        profile=human.profile,
        threshold=dataset.disagreement_threshold,
        first=(human.score, human.preference),
        second=(critic.score, critic.preference),
    )


def verdict_values_agree(
    *, profile: str, threshold: float, first: tuple[float | None, str | None], second: tuple[float | None, str | None]
) -> bool:
    """The same rule on plain (score, preference) pairs, for code that streams values rather than rows."""
    if first[1] is not None:
        return first[1] == second[1]
    spec = get_profile(profile)
    span = (spec.score_max or 0) - (spec.score_min or 0)
    return abs((first[0] or 0) - (second[0] or 0)) <= threshold * span


def review_reveal(
    *, reviewer: User, item: Item, checkpoint: CriticCheckpoint | None = None, human: HumanVerdict | None = None
) -> Reveal | None:
    """The reviewer's verdict and the critic's beside it (`checkpoint`'s, by default the active one's) — only once
    the reviewer has committed theirs (`human`, when the caller has just stored it)."""
    if human is None or human.reviewer_id != reviewer.pk or human.item_id != item.pk:
        human = HumanVerdict.objects.filter(item=item, reviewer=reviewer).first()
    if human is None:
        return None
    by = {"checkpoint": checkpoint} if checkpoint is not None else {"checkpoint__is_active": True}
    critic = CriticVerdict.objects.filter(item=item, swapped=False, **by).select_related("checkpoint").first()
    agrees = None
    if critic is not None and critic.status == "done":
        agrees = verdicts_agree(human=human, critic=critic, dataset=item.dataset)
    return Reveal(human=human, critic=critic, agrees=agrees)


@dataclass(frozen=True)
class ReviewProgress:
    mine: int
    items: int
    complete: int  # items with all k verdicts

    @property
    def coverage(self) -> int:
        return round(100 * self.complete / self.items) if self.items else 0


PROGRESS_TTL = 10  # seconds: the dataset's counts on every desk page are allowed to be this old
MINE_TTL = 3600  # a reviewer's own count is kept exact: counted once, then moved by each verdict they commit


def _coverage_key(dataset_id: int) -> str:
    return f"review-coverage:{dataset_id}"


def _mine_key(reviewer_id: int, dataset_id: int) -> str:
    return f"review-mine:{dataset_id}:{reviewer_id}"


def review_progress(*, reviewer: User, dataset: Dataset) -> ReviewProgress:
    """This reviewer's count and the dataset's coverage, from the cache (one round trip): counting a large
    dataset, or a busy reviewer's verdicts, on every next-item request would cost more than the rest of it."""
    coverage_key, mine_key = _coverage_key(dataset.pk), _mine_key(reviewer.pk, dataset.pk)
    cached = cache.get_many([coverage_key, mine_key])
    coverage = cached.get(coverage_key)
    if coverage is None:
        coverage = (dataset.items.count(), dataset.items.filter(review_complete=True).count())
        cache.set(coverage_key, coverage, PROGRESS_TTL)
    mine = cached.get(mine_key)
    if mine is None:
        mine = HumanVerdict.objects.filter(reviewer=reviewer, item__dataset=dataset, source="desk").count()
        cache.set(mine_key, mine, MINE_TTL)
    items, complete = coverage
    return ReviewProgress(mine=mine, items=items, complete=complete)


def review_progress_counted(*, reviewer: User, dataset_id: int) -> None:
    """One more desk verdict by this reviewer (called once it is committed)."""
    with suppress(ValueError):  # not cached: the next page counts it
        cache.incr(_mine_key(reviewer.pk, dataset_id))


def review_progress_forget(*, dataset: Dataset) -> None:
    cache.delete(_coverage_key(dataset.pk))


def review_history(*, reviewer: User) -> QuerySet[HumanVerdict]:
    return HumanVerdict.objects.filter(reviewer=reviewer).select_related("item__dataset").order_by("-committed_at")
