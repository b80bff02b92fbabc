"""A real critic worker process on Redis runs a retraining job queued by the "Retrain" service: it trains the
child, judges gold with it and its parent, and gates it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from annotations import stats
from annotations.models import CriticVerdict, HumanVerdict, RetrainingJob
from annotations.services import retraining
from critic_worker.profiles import Verdict
from tests.factories import AdminFactory, CheckpointFactory, DatasetFactory, PairwiseItemFactory, UserFactory
from tests.training_exports import export_for

pytestmark = pytest.mark.integration


def test_a_retraining_job_runs_on_the_critic_worker(start_worker, tiny_critic_path: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    worker = start_worker(
        "critic-retrain", CRITIC_MAX_NEW_TOKENS="8", RETRAIN_ROOT=str(tmp_path / "checkpoints"), OMP_NUM_THREADS="1"
    )
    parent = CheckpointFactory(model=str(tiny_critic_path), quantization="none", is_active=True)
    dataset = DatasetFactory()
    pool = [PairwiseItemFactory(dataset=dataset, question=f"Pool question {i}?") for i in range(4)]
    reviewer = UserFactory()
    for i in range(stats.MIN_CI_N):  # enough gold for figures with an interval the gate can compare
        item = PairwiseItemFactory(dataset=dataset, split="gold", question=f"Gold question {i}?")
        HumanVerdict.objects.create(item=item, reviewer=reviewer, profile="pairwise", preference="A")
    taught = Verdict(preference="A", justification="The first answer is right.")
    export = export_for(dataset, [(item, taught) for item in pool], checkpoint=parent)
    worker.wait_ready()

    job = retraining.retraining_job_create(
        export=export,
        base=parent,
        created_by=AdminFactory(),
        options={"epochs": 100, "max_steps": 15, "batch_size": 2, "learning_rate": 5e-3},
    )  # autocommit: the message goes out at once
    deadline = time.monotonic() + 180
    while RetrainingJob.objects.get(pk=job.pk).status in ("queued", "running"):
        assert time.monotonic() < deadline, worker.text()
        time.sleep(0.5)
    job.refresh_from_db()
    assert job.status == "done", job.error + worker.text()
    assert len(job.loss_log) == 15
    assert job.child is not None
    assert job.child.parent == parent
    for checkpoint in (parent, job.child):
        assert (
            CriticVerdict.objects.filter(checkpoint=checkpoint, item__split="gold", status="done").count()
            == stats.MIN_CI_N
        )
    assert job.gate_passed is not None
