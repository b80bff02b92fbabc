"""Counterfactual probes: the dataset's items (or a seeded sample) judged again by the same critic workers with one
thing changed, to see what the critic's verdict depends on. A probe verdict is a CriticVerdict row with `probe`
set: it goes through the same queue, claim and record as the item's verdict, and is never read as that verdict.

- swap (pairwise items): the two responses exchanged; the preference is stored back in the item's own order
  (position bias; the swap check on the dataset page is this probe).
- blank-image: the item with a white image of the same size as its rendition. A critic whose verdicts do not move
  when the picture is blank is not judging the picture.
- other-image: the item with another item's image from the same dataset, chosen by a seeded cyclic derangement of
  the dataset's distinct images (so never the item's own picture, nor an identical one).

The statistics (flip rate, mean score shift) are in annotations/trust/probes.py; the dashboard's card reads them
through annotations/selectors/probes.py."""

from __future__ import annotations

import numpy as np
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from annotations.models import CriticCheckpoint, CriticVerdict, Dataset, Image, Item, JobStatus, Kind, Probe
from annotations.services.judging import QueueResult, verdict_requeue_fields, verdicts_wake

PROBE_SEED = 20241002  # the default seed of samples and derangements: the same dataset gives the same probes


def probe_kind_check(kind: str) -> Probe:
    """The probe called `kind`; a ValidationError that lists the kinds otherwise."""
    if kind not in Probe.values:
        raise ValidationError(f"Unknown probe kind {kind!r}: choose {', '.join(Probe.values)}.")
    return Probe(kind)


def other_images(*, image_ids: list[int], seed: int = PROBE_SEED) -> dict[int, int]:
    """A seeded cyclic derangement of distinct images: {image id: the image shown instead}. The ids are shuffled
    with `seed` and each image is given the next one in that order (the last the first), so no image maps to
    itself and the same images and seed always give the same map. ValidationError with fewer than two images."""
    distinct = sorted(set(image_ids))
    if len(distinct) < 2:
        raise ValidationError("An other-image probe needs at least two different images in the dataset.")
    order = np.random.default_rng(seed).permutation(len(distinct))
    cycle = [distinct[i] for i in order.tolist()]
    return {image: cycle[(j + 1) % len(cycle)] for j, image in enumerate(cycle)}


def probe_sample(*, item_ids: list[int], sample: int | None, seed: int = PROBE_SEED) -> list[int]:
    """`sample` of these items drawn without replacement with `seed` (all of them when sample is None or not
    smaller), in id order. The same ids, sample and seed give the same items."""
    ids = sorted(item_ids)
    if sample is None or sample >= len(ids):
        return ids
    picked = np.random.default_rng([seed, 1]).choice(len(ids), size=sample, replace=False)
    return [ids[i] for i in sorted(picked.tolist())]


def probe_image_for(*, item: Item, checkpoint: CriticCheckpoint, seed: int = PROBE_SEED) -> Image:
    """The picture an other-image probe of `item` shows (or showed) the checkpoint: the one its stored probe verdict
    names, else the one probes_queue would choose now. ValidationError with fewer than two images in the dataset."""
    stored = CriticVerdict.objects.filter(item=item, checkpoint=checkpoint, probe=Probe.OTHER_IMAGE).first()
    if stored is not None and stored.probe_image_id is not None:
        return Image.objects.get(pk=stored.probe_image_id)
    ids = list(Item.objects.filter(dataset_id=item.dataset_id).values_list("image_id", flat=True))
    return Image.objects.get(pk=other_images(image_ids=ids, seed=seed)[item.image_id])


def probes_queue(
    *,
    dataset: Dataset,
    checkpoint: CriticCheckpoint,
    kind: str,
    sample: int | None = None,
    seed: int = PROBE_SEED,
    wake: bool = True,
) -> QueueResult:
    """Queue a probe of `kind` (swap, blank-image, other-image) for the dataset's items under the checkpoint: every
    item the probe applies to (swap: the pairwise items), or a seeded random `sample` of them. Items that already
    have this probe (queued, running or done) are left; failed ones are tried again. `wake=False` sends no message
    (``probe --inline`` claims the rows itself; the sweeper finds any it leaves).

    Returns the QueueResult (verdict_ids: the probe verdicts queued now). Raises ValidationError, changing nothing,
    for an unknown kind, a sample under 1, an external judge, a dataset with no item the probe applies to, or (for
    other-image) fewer than two different images."""
    probe = probe_kind_check(kind)
    if sample is not None and sample < 1:
        raise ValidationError(f"The sample must be a positive number of items, not {sample}.")
    if checkpoint.is_external:
        raise ValidationError(
            f"{checkpoint.name!r} is an external judge: it cannot be asked again with "
            + ("the order swapped." if probe == Probe.SWAP else "a changed image.")
        )
    items = Item.objects.filter(dataset=dataset)
    if probe == Probe.SWAP:
        items = items.filter(kind=Kind.PAIRWISE)
    rows = list(items.order_by("pk").values_list("pk", "profile", "image_id"))
    if not rows:
        what = "pairwise items to swap" if probe == Probe.SWAP else "items"
        raise ValidationError(f"{dataset.name!r} has no {what}.")
    instead = other_images(image_ids=[r[2] for r in rows], seed=seed) if probe == Probe.OTHER_IMAGE else {}
    chosen = set(probe_sample(item_ids=[r[0] for r in rows], sample=sample, seed=seed))
    now = timezone.now()
    with transaction.atomic():
        mine = CriticVerdict.objects.filter(checkpoint=checkpoint, probe=probe)
        mine = mine.filter(item__dataset=dataset) if len(chosen) == len(rows) else mine.filter(item_id__in=chosen)
        have = set(mine.values_list("item_id", flat=True))
        CriticVerdict.objects.bulk_create(
            [
                CriticVerdict(
                    item_id=pk,
                    checkpoint=checkpoint,
                    profile=profile,
                    queued_at=now,
                    probe=probe,
                    probe_image_id=instead.get(image_id),
                )
                for pk, profile, image_id in rows
                if pk in chosen and pk not in have
            ],
            ignore_conflicts=True,  # a concurrent request queued some already: the unique constraint decides
        )
        mine.filter(status=JobStatus.FAILED).exclude(queued_at=now).update(**verdict_requeue_fields(now))
        ids = list(mine.filter(status=JobStatus.QUEUED, queued_at=now).order_by("pk").values_list("pk", flat=True))
        batches = verdicts_wake(ids) if wake else 0
    return QueueResult(checkpoint=checkpoint, queued=len(ids), batches=batches, verdict_ids=ids)
