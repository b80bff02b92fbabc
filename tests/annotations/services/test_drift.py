"""The drift audit's job state: a repeated start takes nothing, a lost worker's audit is queued again with its
judged verdicts kept, and the sample is the seed's."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from annotations.models import DriftAudit, DriftVerdict
from annotations.services import drift
from annotations.services.judging import VerdictResult
from tests.factories import CheckpointFactory, DatasetFactory, ItemFactory

pytestmark = pytest.mark.django_db


def result(score: float) -> VerdictResult:
    return VerdictResult(score, None, 0.9, {}, None, "", "Rating: 5", False, 1.0)


def test_a_lost_worker_s_audit_is_taken_again_without_judging_twice(settings) -> None:  # type: ignore[no-untyped-def]
    dataset = DatasetFactory()
    for _ in range(3):
        ItemFactory(dataset=dataset)
    audit = drift.drift_audit_create(
        checkpoint=CheckpointFactory(quantization="nf4"), dataset=dataset, quantizations=["nf4", "none"], wake=False
    )
    plan = drift.drift_audit_start(audit_id=audit.pk, worker="w1")
    assert plan is not None
    assert [s.quantization for s in plan.stages] == ["none", "nf4"]  # the checkpoint's own quantization last
    assert {job.quantization for job in plan.stages[1].jobs} == {"nf4"}
    assert drift.drift_audit_start(audit_id=audit.pk, worker="w2") is None  # a repeated message takes nothing
    first = plan.stages[0].jobs[0]
    assert drift.drift_verdict_record(verdict_id=first.verdict_id, result=result(5))
    assert not drift.drift_verdict_record(verdict_id=first.verdict_id, result=result(1))  # never written twice

    DriftAudit.objects.filter(pk=audit.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    assert drift.drift_audits_sweep() == 1
    assert DriftAudit.objects.get(pk=audit.pk).status == "queued"
    again = drift.drift_audit_start(audit_id=audit.pk, worker="w2")
    assert again is not None
    assert sum(len(s.jobs) for s in again.stages) == 5
    assert DriftVerdict.objects.get(pk=first.verdict_id).score == 5


def test_the_same_seed_draws_the_same_sample() -> None:
    dataset = DatasetFactory()
    for _ in range(20):
        ItemFactory(dataset=dataset)
    checkpoint = CheckpointFactory()

    def sample(seed: int) -> set[int]:
        audit = drift.drift_audit_create(
            checkpoint=checkpoint, dataset=dataset, quantizations=["int8", "none"], sample=5, seed=seed, wake=False
        )
        return set(audit.verdicts.filter(quantization="none").values_list("item_id", flat=True))

    assert sample(11) == sample(11)
    assert len(sample(11)) == 5
    assert sample(11) != sample(12)
