"""Counterfactual probes: queued through the same verdict rows as the critic's own verdicts, given the changed
picture by the worker's own reading, and never taken for the item's verdict."""

from __future__ import annotations

import pytest
import redis
from django.conf import settings
from django.core.exceptions import ValidationError
from PIL import Image as PILImage

from annotations.models import CriticCheckpoint, CriticVerdict, HumanVerdict, Item, ItemImage
from annotations.selectors.datasets import item_verdicts_visible
from annotations.selectors.judging import critic_progress
from annotations.selectors.review import review_reveal
from annotations.services import judging
from annotations.services.exports import critic_verdicts_done
from annotations.services.images import image_check, image_store
from annotations.services.probes import other_images, probe_sample, probes_queue
from critic_worker import tasks
from tests.factories import AdminFactory, CheckpointFactory, DatasetFactory, ItemFactory, PairwiseItemFactory
from tests.images import png_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def broker():  # type: ignore[no-untyped-def]
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.flushdb()
    yield client
    client.flushdb()


def picture(i: int, size: tuple[int, int] = (64, 48)):  # type: ignore[no-untyped-def]
    return image_store(checked=image_check(data=png_bytes(size=size, colour=(10 * i, 200 - 10 * i, 40))))[0]


def test_a_blank_image_probe_queues_each_item_once_and_retries_failures() -> None:
    dataset = DatasetFactory()
    checkpoint = CheckpointFactory(is_active=True)
    items = [ItemFactory(dataset=dataset) for _ in range(3)] + [PairwiseItemFactory(dataset=dataset)]
    result = probes_queue(dataset=dataset, checkpoint=checkpoint, kind="blank-image")
    assert result.queued == 4
    assert len(result.verdict_ids) == 4
    probes = CriticVerdict.objects.filter(probe="blank-image")
    assert sorted(probes.values_list("item_id", flat=True)) == sorted(i.pk for i in items)
    assert probes_queue(dataset=dataset, checkpoint=checkpoint, kind="blank-image").queued == 0
    probes.filter(item=items[0]).update(status="failed", error="boom")
    assert probes_queue(dataset=dataset, checkpoint=checkpoint, kind="blank-image").queued == 1
    # Each kind is its own probe; the swap probe is the swap check, of the pairwise items only.
    assert probes_queue(dataset=dataset, checkpoint=checkpoint, kind="swap").queued == 1
    assert judging.swap_checks_queue(dataset=dataset, checkpoint=checkpoint).queued == 0


def test_a_sample_is_seeded_and_the_same_sample_is_not_queued_twice() -> None:
    dataset = DatasetFactory()
    checkpoint = CheckpointFactory(is_active=True)
    for _ in range(20):
        ItemFactory(dataset=dataset)
    first = probes_queue(dataset=dataset, checkpoint=checkpoint, kind="blank-image", sample=5)
    assert first.queued == 5
    assert probes_queue(dataset=dataset, checkpoint=checkpoint, kind="blank-image", sample=5).queued == 0
    ids = list(Item.objects.filter(dataset=dataset).values_list("pk", flat=True))
    assert probe_sample(item_ids=ids, sample=5) == probe_sample(item_ids=ids[::-1], sample=5)
    assert probe_sample(item_ids=ids, sample=5, seed=1) != probe_sample(item_ids=ids, sample=5, seed=2)
    assert probe_sample(item_ids=ids, sample=50) == sorted(ids)
    assert set(CriticVerdict.objects.values_list("item_id", flat=True)) == set(probe_sample(item_ids=ids, sample=5))


def test_other_image_gives_each_item_a_different_picture_from_the_dataset_deterministically() -> None:
    dataset = DatasetFactory()
    checkpoint = CheckpointFactory(is_active=True)
    images = [picture(i) for i in range(4)]
    items = [ItemFactory(dataset=dataset, image=images[i % 4]) for i in range(8)]  # two items per picture
    probes_queue(dataset=dataset, checkpoint=checkpoint, kind="other-image")
    shown = dict(CriticVerdict.objects.filter(probe="other-image").values_list("item_id", "probe_image_id"))
    assert all(shown[item.pk] != item.image_id for item in items)
    assert set(shown.values()) == {image.pk for image in images}  # a derangement: every picture used
    assert shown[items[0].pk] == shown[items[4].pk]  # the same picture always gets the same other one
    mapping = other_images(image_ids=[image.pk for image in images])
    assert mapping == other_images(image_ids=[image.pk for image in reversed(images)])
    assert sorted(mapping.values()) == sorted(mapping)
    assert all(k != v for k, v in mapping.items())


def test_bad_requests_are_refused_and_change_nothing() -> None:
    dataset = DatasetFactory(name="one-picture")
    checkpoint = CheckpointFactory(is_active=True)
    ItemFactory(dataset=dataset)
    ItemFactory(dataset=dataset)  # the same picture as the first
    gpt = CriticCheckpoint.objects.create(name="gpt-4o", is_external=True)
    refusals = [
        ({"kind": "upside-down"}, "Unknown probe kind 'upside-down': choose swap, blank-image, other-image"),
        ({"kind": "blank-image", "sample": 0}, "The sample must be a positive number of items"),
        ({"kind": "other-image"}, "needs at least two different images"),
        ({"kind": "swap"}, "'one-picture' has no pairwise items to swap"),
        ({"kind": "blank-image", "checkpoint": gpt}, "external judge: it cannot be asked again with a changed image"),
    ]
    for arguments, message in refusals:
        with pytest.raises(ValidationError, match=message):
            probes_queue(**{"dataset": dataset, "checkpoint": checkpoint, **arguments})  # type: ignore[arg-type]
    assert not CriticVerdict.objects.exists()


def test_the_worker_shows_a_white_picture_of_the_same_size_or_the_other_items_picture() -> None:
    dataset = DatasetFactory()
    checkpoint = CheckpointFactory(is_active=True)
    item = ItemFactory(dataset=dataset, image=picture(1, size=(90, 30)))
    other = ItemFactory(dataset=dataset, image=picture(2, size=(40, 70)))
    blank = probes_queue(dataset=dataset, checkpoint=checkpoint, kind="blank-image").verdict_ids
    swapped_picture = probes_queue(dataset=dataset, checkpoint=checkpoint, kind="other-image").verdict_ids
    claim = judging.verdicts_claim(verdict_ids=blank + swapped_picture, worker="test")
    jobs = {(job.probe, CriticVerdict.objects.get(pk=job.verdict_id).item_id): job for job in claim.jobs}

    (white,) = tasks.item_images(jobs["blank-image", item.pk])
    assert white.size == (90, 30)
    assert white.mode == "RGB"
    assert white.getcolors() == [(90 * 30, (255, 255, 255))]
    (instead,) = tasks.item_images(jobs["other-image", item.pk])
    with PILImage.open(other.image.normalized.path) as original:
        assert instead.tobytes() == original.convert("RGB").tobytes()
    # Everything else is the item's own: the question and the responses.
    assert jobs["other-image", item.pk].question == item.question
    assert jobs["blank-image", other.pk].response_a == other.response_a
    judging.verdicts_release(claim=claim.token)


def test_on_an_item_with_several_images_every_picture_is_blanked_or_replaced() -> None:
    dataset = DatasetFactory()
    checkpoint = CheckpointFactory(is_active=True)
    item = ItemFactory(dataset=dataset, image=picture(1, size=(90, 30)))
    ItemImage.objects.create(item=item, image=picture(4, size=(20, 50)), position=2)
    other = ItemFactory(dataset=dataset, image=picture(2, size=(40, 70)))
    blank = probes_queue(dataset=dataset, checkpoint=checkpoint, kind="blank-image").verdict_ids
    replaced = probes_queue(dataset=dataset, checkpoint=checkpoint, kind="other-image").verdict_ids
    claim = judging.verdicts_claim(verdict_ids=blank + replaced, worker="test")
    jobs = {(job.probe, CriticVerdict.objects.get(pk=job.verdict_id).item_id): job for job in claim.jobs}

    whites = tasks.item_images(jobs["blank-image", item.pk])
    assert [(w.size, w.getcolors()) for w in whites] == [
        ((90, 30), [(90 * 30, (255, 255, 255))]),
        ((20, 50), [(20 * 50, (255, 255, 255))]),
    ]
    with PILImage.open(other.image.normalized.path) as original:
        expected = original.convert("RGB").tobytes()
    assert [p.tobytes() for p in tasks.item_images(jobs["other-image", item.pk])] == [expected, expected]
    judging.verdicts_release(claim=claim.token)


def test_a_probe_verdict_never_shows_or_counts_as_the_critics_verdict() -> None:
    dataset = DatasetFactory()
    checkpoint = CheckpointFactory(is_active=True)
    item = ItemFactory(dataset=dataset)
    for kind in ("blank-image", "other-image"):
        extra = {"probe_image": picture(3)} if kind == "other-image" else {}
        CriticVerdict.objects.create(
            item=item, checkpoint=checkpoint, profile="pointwise", status="done", score=5, probe=kind, **extra
        )
    rita = AdminFactory()
    HumanVerdict.objects.create(item=item, reviewer=rita, profile="pointwise", score=90)
    assert item_verdicts_visible(user=rita, item=item)[1] == []
    reveal = review_reveal(reviewer=rita, item=item, checkpoint=checkpoint)
    assert reveal is not None
    assert reveal.critic is None
    assert not critic_verdicts_done(checkpoint=checkpoint).exists()  # nothing to export
    progress = critic_progress(dataset=dataset, checkpoint=checkpoint)
    assert (progress.done, progress.missing) == (0, 1)
    assert [(p.kind, p.done) for p in progress.image_probes] == [("blank-image", 1), ("other-image", 1)]
    assert judging.verdicts_queue(dataset=dataset, checkpoint=checkpoint).queued == 1  # the item still needs one
