from __future__ import annotations

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
    if human.preference is not None:
        return human.preference == critic.preference
    spec = get_profile(human.profile)
    span = (spec.score_max or 0) - (spec.score_min or 0)
    return abs((human.score or 0) - (critic.score or 0)) <= dataset.disagreement_threshold * span


def review_reveal(*, reviewer: User, item: Item, checkpoint: CriticCheckpoint | None) -> Reveal | None:
    """The reviewer's verdict and the critic's beside it — only once the reviewer has committed theirs."""
    human = HumanVerdict.objects.filter(item=item, reviewer=reviewer).first()
    if human is None:
        return None
    critic = None
    if checkpoint is not None:
        critic = (
            CriticVerdict.objects.filter(item=item, checkpoint=checkpoint, swapped=False)
            .select_related("checkpoint")
            .first()
        )
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


def review_progress(*, reviewer: User, dataset: Dataset) -> ReviewProgress:
    """This reviewer's count (exact) and the dataset's coverage (counted at most every PROGRESS_TTL seconds:
    counting a large dataset on every next-item request would cost more than the rest of the request)."""
    key = f"review-coverage:{dataset.pk}"
    coverage = cache.get(key)
    if coverage is None:
        coverage = (dataset.items.count(), dataset.items.filter(review_complete=True).count())
        cache.set(key, coverage, PROGRESS_TTL)
    items, complete = coverage
    mine = HumanVerdict.objects.filter(reviewer=reviewer, item__dataset=dataset, source="desk").count()
    return ReviewProgress(mine=mine, items=items, complete=complete)


def review_history(*, reviewer: User) -> QuerySet[HumanVerdict]:
    return HumanVerdict.objects.filter(reviewer=reviewer).select_related("item__dataset").order_by("-committed_at")
