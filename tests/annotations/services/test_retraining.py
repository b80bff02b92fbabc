"""The retraining service without a model: creating jobs, metrics on gold, the gate, promotion."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

import pytest
import redis
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from scipy import stats

from annotations.models import CriticCheckpoint, CriticVerdict, HumanVerdict, RetrainingJob, TrainingExport
from annotations.selectors.metrics import agreement_for_dataset
from annotations.services import retraining
from annotations.services.exports import export_data_file
from critic_worker import tasks
from critic_worker.profiles import Verdict
from tests.factories import (
    AdminFactory,
    CheckpointFactory,
    DatasetFactory,
    ItemFactory,
    UserFactory,
)
from tests.training_exports import export_for

pytestmark = pytest.mark.django_db


def stat(value: float | None, lo: float | None = None, hi: float | None = None) -> dict[str, Any]:
    return {"value": value, "ci95": [lo, hi] if value is not None else [None, None]}


def metrics(*, accuracy=None, pearson=None, mae=None) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    def s(x):  # type: ignore[no-untyped-def]
        return stat(*x) if x is not None else stat(None)

    return {
        "pointwise": {"n": 10, "pearson": s(pearson), "mae": s(mae)},
        "pairwise": {"n": 10, "accuracy_with_tie": s(accuracy)},
    }


# -- the gate, over hand-built metric dicts ---------------------------------------------------------------------

POINT = metrics(pearson=(0.8, 0.7, 0.9), mae=(10, 8, 12))


@pytest.mark.parametrize(
    ("parent", "child", "passed", "worse"),
    [
        # Pairwise accuracy: worse only below the parent's lower bound.
        (metrics(accuracy=(0.70, 0.60, 0.80)), metrics(accuracy=(0.61, 0.5, 0.7)), True, []),
        (metrics(accuracy=(0.70, 0.60, 0.80)), metrics(accuracy=(0.60, 0.5, 0.7)), True, []),
        (metrics(accuracy=(0.70, 0.60, 0.80)), metrics(accuracy=(0.59, 0.5, 0.7)), False, ["accuracy_with_tie"]),
        (metrics(accuracy=(0.70, 0.60, 0.80)), metrics(accuracy=(0.95, 0.9, 1.0)), True, []),
        # Pointwise: pearson below the lower bound, or mae above the upper bound (lower is better).
        (metrics(pearson=(0.8, 0.7, 0.9), mae=(10, 8, 12)), metrics(pearson=(0.75, 0, 1), mae=(11, 9, 13)), True, []),
        (
            metrics(pearson=(0.8, 0.7, 0.9), mae=(10, 8, 12)),
            metrics(pearson=(0.6, 0, 1), mae=(9, 7, 11)),
            False,
            ["pearson"],
        ),
        (
            metrics(pearson=(0.8, 0.7, 0.9), mae=(10, 8, 12)),
            metrics(pearson=(0.9, 0, 1), mae=(12.5, 9, 14)),
            False,
            ["mae"],
        ),
        # A child with no value where the parent has one (constant scores: no correlation) is worse.
        (metrics(pearson=(0.8, 0.7, 0.9)), metrics(), False, ["pearson"]),
        # Both kinds are checked; one worse statistic is enough.
        (
            metrics(accuracy=(0.7, 0.6, 0.8), pearson=(0.8, 0.7, 0.9)),
            metrics(accuracy=(0.9, 0.8, 1.0), pearson=(0.5, 0.3, 0.7)),
            False,
            ["pearson"],
        ),
    ],
)
def test_the_gate_refuses_a_child_worse_beyond_the_parents_interval(parent, child, passed, worse) -> None:  # type: ignore[no-untyped-def]
    decided, report = retraining.gate_decide(parent=parent, child=child)
    assert decided is passed
    assert [entry["statistic"] for entry in report if entry["worse"]] == worse


def test_the_gate_has_no_verdict_when_the_parent_gives_nothing_to_compare() -> None:
    assert retraining.gate_decide(parent=metrics(), child=metrics(accuracy=(0.9, 0.8, 1))) == (None, [])


# -- metrics on gold ------------------------------------------------------------------------------------------


def test_the_gate_reads_the_dashboards_statistics_on_gold_only() -> None:
    dataset = DatasetFactory()
    checkpoint = CheckpointFactory()
    reviewer = UserFactory()
    for critic, human in [(80, 75), (55, 60), (70, 50), (20, 30), (90, 95)]:
        item = ItemFactory(dataset=dataset, split="gold")
        CriticVerdict.objects.create(item=item, checkpoint=checkpoint, profile="pointwise", status="done", score=critic)
        HumanVerdict.objects.create(item=item, reviewer=reviewer, profile="pointwise", score=human)
    pool = ItemFactory(dataset=dataset)  # never counted
    CriticVerdict.objects.create(item=pool, checkpoint=checkpoint, profile="pointwise", status="done", score=0)
    HumanVerdict.objects.create(item=pool, reviewer=reviewer, profile="pointwise", score=100)

    result = retraining.gold_metrics(dataset=dataset, checkpoint=checkpoint)
    shown = agreement_for_dataset(dataset=dataset, checkpoint=checkpoint, split="gold")
    assert result == {"pointwise": shown["pointwise"], "pairwise": shown["pairwise"]}
    assert result["pointwise"]["n"] == 5
    assert result["pointwise"]["pearson"]["value"] == pytest.approx(
        stats.pearsonr([80, 55, 70, 20, 90], [75, 60, 50, 30, 95]).statistic
    )


# -- creating jobs ---------------------------------------------------------------------------------------------


@pytest.fixture
def export() -> TrainingExport:
    item = ItemFactory()
    return export_for(item.dataset, [(item, Verdict(score=70, justification="Close."))])


def test_a_job_is_created_queued_with_its_options(export: TrainingExport) -> None:
    CheckpointFactory(is_active=True)
    admin = AdminFactory()
    job = retraining.retraining_job_create(export=export, created_by=admin, options={"max_steps": "12"})
    assert (job.status, job.base, job.created_by) == ("queued", export.source_checkpoint, admin)
    assert job.options == {**retraining.DEFAULT_OPTIONS, "max_steps": 12}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda e: setattr(e, "format", "dpo-jsonl"), "is dpo-jsonl: retraining reads llava-json"),
        (lambda e: setattr(e, "status", "running"), "is running: only a finished export can be trained on"),
        (lambda e: setattr(e, "status", "failed"), "is failed: only a finished export can be trained on"),
        (lambda e: export_data_file(export=e).unlink(), r"has no data file at .*/exports/\d+/train.json"),
    ],
)
def test_an_export_that_cannot_be_trained_on_is_refused(export: TrainingExport, change, message: str) -> None:  # type: ignore[no-untyped-def]
    CheckpointFactory(is_active=True)
    change(export)
    with pytest.raises(ValidationError, match=message):
        retraining.retraining_job_create(export=export, created_by=None)
    assert not RetrainingJob.objects.exists()


def test_bases_that_cannot_be_trained_are_refused(export: TrainingExport) -> None:
    export.source_checkpoint = None
    with pytest.raises(ValidationError, match="No base checkpoint"):
        retraining.retraining_base_resolve(export=export)
    with pytest.raises(ValidationError, match="No checkpoint named 'ghost'"):
        retraining.retraining_base_resolve(export=export, name="ghost")
    CriticCheckpoint.objects.create(name="gpt-4o", is_external=True)
    with pytest.raises(ValidationError, match="external judge"):
        retraining.retraining_base_resolve(export=export, name="gpt-4o")
    with pytest.raises(ValidationError, match="Unknown training option 'warmup'"):
        retraining.retraining_job_create(
            export=export, created_by=None, base=CheckpointFactory(), options={"warmup": 1}
        )
    with pytest.raises(ValidationError, match="learning_rate must be positive"):
        retraining.retraining_job_create(
            export=export, created_by=None, base=CheckpointFactory(), options={"learning_rate": -1}
        )
    assert not RetrainingJob.objects.exists()


def test_the_source_checkpoint_of_the_export_is_the_default_base(export: TrainingExport) -> None:
    CheckpointFactory(is_active=True)
    source = CheckpointFactory()
    export.source_checkpoint = source
    assert retraining.retraining_base_resolve(export=export) == source


# -- promotion ------------------------------------------------------------------------------------------------


def finished_job(export: TrainingExport, *, gate_passed: bool | None) -> RetrainingJob:
    parent = CheckpointFactory(is_active=True)
    child = CheckpointFactory(parent=parent, training_export=export)
    return RetrainingJob.objects.create(
        export=export, base=parent, child=child, status="done", progress=1, gate_passed=gate_passed
    )


def test_a_child_that_passed_is_promoted_once(export: TrainingExport) -> None:
    job = finished_job(export, gate_passed=True)
    admin = AdminFactory()
    assert retraining.retraining_job_promote(job=job, user=admin).is_active
    assert CriticCheckpoint.objects.filter(is_active=True).get() == job.child
    with pytest.raises(ValidationError, match="already promoted"):
        retraining.retraining_job_promote(job=job, user=admin)


def test_no_evidence_needs_an_override_too(export: TrainingExport) -> None:
    job = finished_job(export, gate_passed=None)
    with pytest.raises(ValidationError, match="nothing to compare"):
        retraining.retraining_job_promote(job=job, user=AdminFactory())
    retraining.retraining_job_promote(job=job, user=AdminFactory(), override_reason="No gold split yet.")
    job.refresh_from_db()
    assert job.promotion_override_reason == "No gold split yet."


def test_an_unfinished_job_cannot_be_promoted(export: TrainingExport) -> None:
    job = finished_job(export, gate_passed=True)
    RetrainingJob.objects.filter(pk=job.pk).update(status="running")
    with pytest.raises(ValidationError, match="Only a finished job"), transaction.atomic():
        retraining.retraining_job_promote(job=job, user=AdminFactory(), override_reason="please")
    assert CriticCheckpoint.objects.filter(is_active=True).get() == job.base


def test_the_sweeper_fails_jobs_past_their_time_limit_and_wakes_workers_for_waiting_ones(
    export: TrainingExport,
    settings,  # type: ignore[no-untyped-def]
) -> None:
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)  # the test broker, a real Redis database
    broker.flushdb()
    settings.RETRAIN_TIME_LIMIT, settings.CRITIC_STUCK_AFTER = 60, 30
    base = CheckpointFactory()
    long_ago = timezone.now() - timedelta(seconds=500)
    lost = RetrainingJob.objects.create(export=export, base=base, status="running", started_at=long_ago)
    alive = RetrainingJob.objects.create(export=export, base=base, status="running", started_at=timezone.now())
    waiting = RetrainingJob.objects.create(export=export, base=base)
    RetrainingJob.objects.filter(pk=waiting.pk).update(created_at=long_ago)
    assert retraining.retraining_jobs_sweep() == 2
    assert RetrainingJob.objects.get(pk=lost.pk).status == "failed"
    assert RetrainingJob.objects.get(pk=alive.pk).status == "running"
    messages = [json.loads(m) for m in broker.lrange("critic", 0, -1)]
    assert [(m["headers"]["task"], m["headers"]["argsrepr"]) for m in messages] == [
        (retraining.RETRAIN_TASK, f"[{waiting.pk}]")
    ]
    broker.flushdb()


def test_the_sweeper_fails_a_job_whose_worker_went_silent_long_before_its_time_limit(
    export: TrainingExport,
    settings,  # type: ignore[no-untyped-def]
) -> None:
    settings.RETRAIN_TIME_LIMIT, settings.CRITIC_STUCK_AFTER = 24 * 3600, 600
    base = CheckpointFactory()
    hours_ago = timezone.now() - timedelta(hours=2)
    silent = RetrainingJob.objects.create(
        export=export, base=base, status="running", started_at=hours_ago, heartbeat_at=hours_ago
    )
    never_beat = RetrainingJob.objects.create(export=export, base=base, status="running", started_at=hours_ago)
    beating = RetrainingJob.objects.create(
        export=export, base=base, status="running", started_at=hours_ago, heartbeat_at=hours_ago
    )
    retraining.retraining_job_heartbeat(job_id=beating.pk)  # its worker is alive, two hours into a long run
    assert retraining.retraining_jobs_sweep() == 2
    statuses = dict(RetrainingJob.objects.values_list("pk", "status"))
    assert statuses == {silent.pk: "failed", never_beat.pk: "failed", beating.pk: "running"}
    assert RetrainingJob.objects.get(pk=silent.pk).error == "The worker running this job stopped."


@pytest.mark.django_db(transaction=True)
def test_a_running_job_beats_while_its_worker_works_and_stops_when_it_ends(export: TrainingExport) -> None:
    job = RetrainingJob.objects.create(export=export, base=CheckpointFactory(), status="running")

    def beat() -> Any:
        return RetrainingJob.objects.get(pk=job.pk).heartbeat_at

    with tasks.heartbeat(job_id=job.pk, every=0.05):
        deadline = time.monotonic() + 10
        while beat() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        first = beat()
        assert first is not None
        time.sleep(0.3)
        assert beat() > first
    last = beat()
    time.sleep(0.3)
    assert beat() == last  # the thread stopped with the block
