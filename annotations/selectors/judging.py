from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import ValidationError
from django.db.models import Count

from annotations.models import (
    CriticCheckpoint,
    CriticVerdict,
    Dataset,
    HumanVerdict,
    Image,
    Item,
    JobStatus,
    Kind,
    Probe,
)
from annotations.permissions import is_admin
from annotations.selectors.images import item_images

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def checkpoint_named(*, name: str, known: Collection[str] | None = None) -> CriticCheckpoint:
    """The checkpoint (or external judge) called `name`; a ValidationError that lists the known ones otherwise.
    `known`: the names the asker may be told of (None: all); one outside them is not found either, so that neither
    the list nor a different answer tells that it exists."""
    found = CriticCheckpoint.objects.filter(name=name).first() if known is None or name in known else None
    if found is None:
        names = CriticCheckpoint.objects.values_list("name", flat=True) if known is None else sorted(known)
        raise ValidationError(f"No checkpoint named {name!r} (known: {', '.join(names) or 'none yet'}).")
    return found


@dataclass(frozen=True)
class ProbeProgress:
    """One image probe's verdicts on the dataset (blank-image, other-image) for the checkpoint."""

    kind: str
    label: str
    pending: int = 0
    done: int = 0
    failed: int = 0


@dataclass(frozen=True)
class CriticProgress:
    checkpoint: CriticCheckpoint | None
    items: int
    queued: int = 0
    running: int = 0
    done: int = 0
    failed: int = 0
    forced: int = 0
    # The swap check (the pairwise items judged again with A and B exchanged), on the same checkpoint.
    pairwise_items: int = 0
    swap_pending: int = 0
    swap_done: int = 0
    swap_failed: int = 0
    image_probes: tuple[ProbeProgress, ...] = ()  # the blank-image and other-image probes

    @property
    def pending(self) -> int:
        """Verdicts, swap checks and probes still to come: the panel polls while there are any."""
        return self.queued + self.running + self.swap_pending + sum(p.pending for p in self.image_probes)

    @property
    def probe_kinds(self) -> list[tuple[str, str]]:
        """(value, label) of each probe an administrator can queue from the panel."""
        return [(str(value), str(label)) for value, label in Probe.choices]

    @property
    def swap_missing(self) -> int:
        """Pairwise items with no swap check at all: what the swap-check button would queue."""
        return self.pairwise_items - self.swap_pending - self.swap_done - self.swap_failed

    @property
    def missing(self) -> int:
        """Items with no verdict row at all for this checkpoint."""
        return self.items - self.queued - self.running - self.done - self.failed

    @property
    def percent_done(self) -> int:
        return round(100 * self.done / self.items) if self.items else 0


def critic_progress(
    *, dataset: Dataset, checkpoint: CriticCheckpoint | None, viewer: AbstractBaseUser | AnonymousUser | None = None
) -> CriticProgress:
    """How far the critic is through the dataset: its verdicts' states (queued, running, done, failed: the work's
    progress, the same for everyone) and how many were read from its probabilities (`forced`: what a verdict says,
    so for a reviewer `viewer` counted only on the items they have judged, as the blind rule wants; all for an
    administrator or with no viewer, the command line)."""
    items = dataset.items.count()
    if checkpoint is None:
        return CriticProgress(checkpoint=None, items=items)
    by_probe = _status_counts(dataset=dataset, checkpoint=checkpoint)
    counts, swaps = by_probe.get("", {}), by_probe.get(Probe.SWAP, {})
    forced_verdicts = CriticVerdict.objects.filter(
        item__dataset=dataset, checkpoint=checkpoint, status=JobStatus.DONE, forced=True, probe=""
    )
    if viewer is not None and not is_admin(viewer):
        judged = HumanVerdict.objects.filter(reviewer_id=viewer.pk, item__dataset=dataset).values("item_id")
        forced_verdicts = forced_verdicts.filter(item_id__in=judged)
    forced = forced_verdicts.count()
    image_probes = tuple(
        ProbeProgress(
            kind=kind.value,
            label=str(kind.label),
            pending=by_probe.get(kind, {}).get(JobStatus.QUEUED, 0) + by_probe.get(kind, {}).get(JobStatus.RUNNING, 0),
            done=by_probe.get(kind, {}).get(JobStatus.DONE, 0),
            failed=by_probe.get(kind, {}).get(JobStatus.FAILED, 0),
        )
        for kind in (Probe.BLANK_IMAGE, Probe.OTHER_IMAGE)
    )
    return CriticProgress(
        checkpoint=checkpoint,
        items=items,
        queued=counts.get(JobStatus.QUEUED, 0),
        running=counts.get(JobStatus.RUNNING, 0),
        done=counts.get(JobStatus.DONE, 0),
        failed=counts.get(JobStatus.FAILED, 0),
        forced=forced,
        pairwise_items=dataset.items.filter(kind=Kind.PAIRWISE).count(),
        swap_pending=swaps.get(JobStatus.QUEUED, 0) + swaps.get(JobStatus.RUNNING, 0),
        swap_done=swaps.get(JobStatus.DONE, 0),
        swap_failed=swaps.get(JobStatus.FAILED, 0),
        image_probes=image_probes,
    )


def _status_counts(*, dataset: Dataset, checkpoint: CriticCheckpoint) -> dict[str, dict[str, int]]:
    """{probe ("" for the items' own verdicts): {status: count}} in one query."""
    out: dict[str, dict[str, int]] = {}
    rows = (
        CriticVerdict.objects.filter(item__dataset=dataset, checkpoint=checkpoint)
        .values_list("probe", "status")
        .annotate(n=Count("pk"))
        .values_list("probe", "status", "n")
    )
    for probe, status, n in rows:
        out.setdefault(probe, {})[status] = n
    return out


def verdict_failures(*, verdict_ids: list[int], limit: int = 5) -> list[tuple[str, str]]:
    """(item id, reason) of the failed verdicts among these, at most `limit`: what a script's summary shows."""
    rows = CriticVerdict.objects.filter(pk__in=verdict_ids, status=JobStatus.FAILED).order_by("pk")
    return list(rows.values_list("item__external_id", "error")[:limit])


@dataclass(frozen=True)
class CriticSaw:
    """What one checkpoint was given for an item, as its worker recorded it ('' until a worker has judged it)."""

    checkpoint: CriticCheckpoint
    status: str
    swapped: bool
    prompt: str
    probe: str = ""  # "" for the item's verdict, else the probe's kind


@dataclass(frozen=True)
class CriticInputsSeen:
    pictures: list[Image]  # the item's pictures in the order the critic is given them
    prompts: list[CriticSaw]


def critic_inputs_seen(*, user: User | AnonymousUser, item: Item) -> CriticInputsSeen | None:
    """For administrators, the pictures the critic is given for this item and the prompt each checkpoint was given
    (its probes' too), by checkpoint name; None for anyone else (the page then shows no such section)."""
    if not is_admin(user):
        return None
    rows = CriticVerdict.objects.filter(item=item).select_related("checkpoint").order_by("checkpoint__name", "probe")
    prompts = [CriticSaw(v.checkpoint, v.status, v.swapped, v.prompt, v.probe) for v in rows]
    return CriticInputsSeen(pictures=item_images(item=item), prompts=prompts)
