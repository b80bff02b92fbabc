"""Judging jobs live in the database: queueing, claiming, recording and sweeping are guarded updates."""

from __future__ import annotations

from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from annotations.models import CriticCheckpoint, CriticVerdict
from annotations.services import judging
from tests.factories import CheckpointFactory, DatasetFactory, ItemFactory, PairwiseItemFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def broker():  # type: ignore[no-untyped-def]
    """The test broker (a real Redis database): emptied before and after, read to count wake-up calls."""
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.flushdb()
    yield client
    client.flushdb()


def result(**fields: object) -> judging.VerdictResult:
    base = dict(
        score=70.0,
        preference=None,
        confidence=0.4,
        probabilities={"70": 0.4},
        expected_score=65.0,
        justification="ok",
        raw_output="ok Score: 70/100",
        forced=False,
        latency_ms=12.0,
    )
    return judging.VerdictResult(**(base | fields))  # type: ignore[arg-type]


def test_queue_creates_one_verdict_per_item_and_wakes_workers_in_batches(
    settings,
    broker,
    django_capture_on_commit_callbacks,  # type: ignore[no-untyped-def]
) -> None:
    settings.CRITIC_BATCH_SIZE = 2
    dataset, checkpoint = DatasetFactory(), CheckpointFactory()
    image = ItemFactory(dataset=dataset).image
    for _ in range(4):
        ItemFactory(dataset=dataset, image=image)
    with django_capture_on_commit_callbacks(execute=True):
        queued = judging.verdicts_queue(dataset=dataset, checkpoint=checkpoint)
    assert (queued.queued, queued.batches) == (5, 3)
    assert CriticVerdict.objects.filter(status="queued").count() == 5
    assert broker.llen("critic") == 3  # one message per batch, on the critic queue
    with django_capture_on_commit_callbacks(execute=True):
        again = judging.verdicts_queue(dataset=dataset, checkpoint=checkpoint, only_missing=True)
    assert again.queued == 0
    assert CriticVerdict.objects.count() == 5


def test_verdicts_take_the_items_profile() -> None:
    dataset, checkpoint = DatasetFactory(), CheckpointFactory()
    PairwiseItemFactory(dataset=dataset, profile="wildvision")
    judging.verdicts_queue(dataset=dataset, checkpoint=checkpoint)
    assert CriticVerdict.objects.get().profile == "wildvision"


def test_only_missing_requeues_failures_and_all_redoes_finished_ones() -> None:
    dataset, checkpoint = DatasetFactory(), CheckpointFactory()
    done, failed = ItemFactory(dataset=dataset), ItemFactory(dataset=dataset)
    CriticVerdict.objects.create(item=done, checkpoint=checkpoint, profile="pointwise", status="done", score=10)
    CriticVerdict.objects.create(item=failed, checkpoint=checkpoint, profile="pointwise", status="failed", error="x")
    assert judging.verdicts_queue(dataset=dataset, checkpoint=checkpoint, only_missing=True).queued == 1
    assert CriticVerdict.objects.get(item=failed).error == ""
    assert CriticVerdict.objects.get(item=done).score == 10
    assert judging.verdicts_queue(dataset=dataset, checkpoint=checkpoint, only_missing=False).queued == 2
    assert CriticVerdict.objects.get(item=done).score is None


def test_a_verdict_is_claimed_once_and_written_once() -> None:
    item, checkpoint = ItemFactory(), CheckpointFactory()
    verdict = CriticVerdict.objects.create(item=item, checkpoint=checkpoint, profile="pointwise")
    first = judging.verdicts_claim(verdict_ids=[verdict.pk], worker="w1")
    second = judging.verdicts_claim(verdict_ids=[verdict.pk], worker="w2")  # a repeated message
    assert [j.verdict_id for j in first.jobs] == [verdict.pk]
    assert second.jobs == []
    assert first.jobs[0].image_paths[0].endswith(".png")
    assert judging.verdict_record(verdict_id=verdict.pk, claim=second.token, result=result()) is False
    assert judging.verdict_record(verdict_id=verdict.pk, claim=first.token, result=result()) is True
    assert judging.verdict_record(verdict_id=verdict.pk, claim=first.token, result=result(score=5.0)) is False
    verdict.refresh_from_db()
    assert (verdict.status, verdict.score, verdict.worker, verdict.attempts) == ("done", 70.0, "w1", 1)


def test_a_lost_claim_cannot_write(settings) -> None:  # type: ignore[no-untyped-def]
    """A worker presumed dead (swept) that wakes up later must not overwrite the new worker's verdict."""
    verdict = CriticVerdict.objects.create(item=ItemFactory(), checkpoint=CheckpointFactory(), profile="pointwise")
    slow = judging.verdicts_claim(verdict_ids=[verdict.pk], worker="slow")
    silent = timezone.now() - timedelta(minutes=5)
    CriticVerdict.objects.filter(pk=verdict.pk).update(started_at=silent, heartbeat_at=silent)
    assert judging.verdicts_sweep(stuck_after=timedelta(hours=1), heartbeat_timeout=timedelta(minutes=2)) == 1
    fresh = judging.verdicts_claim(verdict_ids=[verdict.pk], worker="fresh")
    assert judging.verdict_record(verdict_id=verdict.pk, claim=fresh.token, result=result(score=40.0))
    assert not judging.verdict_record(verdict_id=verdict.pk, claim=slow.token, result=result(score=99.0))
    verdict.refresh_from_db()
    assert (verdict.score, verdict.worker, verdict.attempts) == (40.0, "fresh", 2)


def test_the_sweeper_leaves_live_work_alone() -> None:
    checkpoint = CheckpointFactory()
    old = timezone.now() - timedelta(hours=3)
    stuck = CriticVerdict.objects.create(
        item=ItemFactory(), checkpoint=checkpoint, profile="pointwise", status="running", started_at=old, claim="dead"
    )
    live = CriticVerdict.objects.create(
        item=ItemFactory(),
        checkpoint=checkpoint,
        profile="pointwise",
        status="running",
        started_at=timezone.now(),
        claim="alive",
    )
    lost = CriticVerdict.objects.create(item=ItemFactory(), checkpoint=checkpoint, profile="pointwise", queued_at=old)
    done = CriticVerdict.objects.create(
        item=ItemFactory(), checkpoint=checkpoint, profile="pointwise", status="done", score=3, started_at=old
    )
    assert judging.verdicts_sweep(stuck_after=timedelta(hours=1)) == 2
    statuses = {v.pk: (v.status, v.claim) for v in CriticVerdict.objects.all()}
    assert statuses[stuck.pk] == ("queued", "")
    assert statuses[live.pk] == ("running", "alive")
    assert statuses[lost.pk] == ("queued", "")
    assert statuses[done.pk] == ("done", "")


def test_a_silent_worker_is_noticed_by_its_heartbeat_long_before_the_stuck_limit() -> None:
    """Running verdicts whose worker stopped beating for the heartbeat timeout are requeued; a long batch whose
    worker still beats is left alone however long it has run."""
    checkpoint = CheckpointFactory()
    now = timezone.now()
    silent = CriticVerdict.objects.create(item=ItemFactory(), checkpoint=checkpoint, profile="pointwise")
    beating = CriticVerdict.objects.create(item=ItemFactory(), checkpoint=checkpoint, profile="pointwise")
    dead = judging.verdicts_claim(verdict_ids=[silent.pk], worker="dead")
    alive = judging.verdicts_claim(verdict_ids=[beating.pk], worker="alive")
    CriticVerdict.objects.filter(claim=dead.token).update(
        started_at=now - timedelta(minutes=3), heartbeat_at=now - timedelta(minutes=3)
    )
    CriticVerdict.objects.filter(claim=alive.token).update(started_at=now - timedelta(hours=3))
    assert judging.verdicts_heartbeat(claim=alive.token) == 1
    assert judging.verdicts_sweep(stuck_after=timedelta(hours=1), heartbeat_timeout=timedelta(minutes=2)) == 1
    statuses = {v.pk: (v.status, v.claim, v.heartbeat_at) for v in CriticVerdict.objects.all()}
    assert statuses[silent.pk] == ("queued", "", None)
    assert statuses[beating.pk][:2] == ("running", alive.token)
    assert judging.verdicts_heartbeat(claim=dead.token) == 0  # the dead worker's claim holds nothing any more


def test_release_gives_a_claim_back_to_the_queue() -> None:
    verdict = CriticVerdict.objects.create(item=ItemFactory(), checkpoint=CheckpointFactory(), profile="pointwise")
    claim = judging.verdicts_claim(verdict_ids=[verdict.pk], worker="w")
    assert judging.verdicts_release(claim=claim.token, error="CUDA out of memory") == 1
    verdict.refresh_from_db()
    assert (verdict.status, verdict.claim, verdict.error) == ("queued", "", "CUDA out of memory")


def test_critic_model_setting_registers_the_active_checkpoint(settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "critic_desk.json").write_text('{"random_weights": true}')
    settings.CRITIC_MODEL, settings.CRITIC_QUANTIZATION = str(tmp_path), "int8"
    checkpoint = judging.checkpoint_resolve()
    assert (checkpoint.model, checkpoint.quantization, checkpoint.is_active, checkpoint.is_demo) == (
        str(tmp_path),
        "int8",
        True,
        True,
    )
    assert judging.checkpoint_resolve() == checkpoint
    assert CriticCheckpoint.objects.count() == 1


def test_unknown_or_external_checkpoints_are_refused(settings) -> None:  # type: ignore[no-untyped-def]
    settings.CRITIC_MODEL = ""
    with pytest.raises(ValidationError, match="No critic is configured"):
        judging.checkpoint_resolve()
    with pytest.raises(ValidationError, match="No checkpoint named 'nope'"):
        judging.checkpoint_resolve(name="nope")
    CriticCheckpoint.objects.create(name="gpt-4o", is_external=True)
    with pytest.raises(ValidationError, match="external judge"):
        judging.checkpoint_resolve(name="gpt-4o")


def test_model_output_with_nul_bytes_is_stored() -> None:
    """Random (or broken) models emit NUL bytes, which PostgreSQL refuses in text: the verdict still lands."""
    verdict = CriticVerdict.objects.create(item=ItemFactory(), checkpoint=CheckpointFactory(), profile="pointwise")
    claim = judging.verdicts_claim(verdict_ids=[verdict.pk], worker="w")
    assert judging.verdict_record(
        verdict_id=verdict.pk, claim=claim.token, result=result(raw_output="a\x00b", justification="\x00")
    )
    verdict.refresh_from_db()
    assert verdict.raw_output == "a\ufffdb"


def test_a_claim_that_keeps_failing_is_failed_with_its_error() -> None:
    verdict = CriticVerdict.objects.create(item=ItemFactory(), checkpoint=CheckpointFactory(), profile="pointwise")
    claim = judging.verdicts_claim(verdict_ids=[verdict.pk], worker="w")
    assert judging.verdicts_fail_claim(claim=claim.token, error="failed after 5 retries: OOM") == 1
    verdict.refresh_from_db()
    assert (verdict.status, verdict.error) == ("failed", "failed after 5 retries: OOM")
