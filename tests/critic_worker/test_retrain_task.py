"""The retraining task, called in this process on a tiny real critic: train, register the child, judge gold
with the child (and the parent where it has not), gate, and promote or refuse."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from annotations.models import CriticCheckpoint, CriticVerdict, HumanVerdict, RetrainingJob
from annotations.services import retraining
from annotations.services.exports import export_data_file
from critic_worker import tasks
from critic_worker.profiles import Verdict
from tests.factories import AdminFactory, CheckpointFactory, DatasetFactory, PairwiseItemFactory, UserFactory
from tests.training_exports import export_for

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("single_torch_thread")]
OPTIONS = {"epochs": 100, "max_steps": 20, "batch_size": 2, "learning_rate": 5e-3}


@pytest.fixture
def parent(tiny_critic: Path, settings, tmp_path: Path) -> CriticCheckpoint:  # type: ignore[no-untyped-def]
    settings.CRITIC_MAX_NEW_TOKENS = 8
    settings.CRITIC_DEVICE = "cpu"
    settings.RETRAIN_ROOT = tmp_path / "checkpoints"
    return CheckpointFactory(name="tiny", model=str(tiny_critic), quantization="none", is_active=True)


def scenario(  # type: ignore[no-untyped-def]
    parent: CriticCheckpoint,
    tmp_path: Path,
    *,
    humans_on_gold: str,
    parent_on_gold: str | None,
    fmt: str = "llava-json",
):
    """Pool items the parent judged B, corrected to "the first response is better" (the parent's export), and gold
    items the humans judged."""
    dataset = DatasetFactory()
    pool = [PairwiseItemFactory(dataset=dataset, question=f"Which answer fits picture {i}?") for i in range(6)]
    gold = [PairwiseItemFactory(dataset=dataset, split="gold", question=f"Gold question {i}?") for i in range(3)]
    reviewer = UserFactory()
    for item in gold:
        HumanVerdict.objects.create(item=item, reviewer=reviewer, profile=item.profile, preference=humans_on_gold)
        if parent_on_gold:
            CriticVerdict.objects.create(
                item=item, checkpoint=parent, profile=item.profile, status="done", preference=parent_on_gold
            )
    taught = Verdict(preference="A", justification="The first answer matches the picture.")
    export = export_for(dataset, [(item, taught) for item in pool], fmt=fmt, checkpoint=parent)
    return gold, export


def test_a_worse_child_is_registered_evaluated_and_refused_until_an_admin_overrides(
    parent: CriticCheckpoint, tmp_path: Path
) -> None:
    # The parent agrees with the humans on every gold item (B); the child is taught to answer A.
    gold, export = scenario(parent, tmp_path, humans_on_gold="B", parent_on_gold="B")
    admin = AdminFactory()
    job = retraining.retraining_job_create(export=export, created_by=admin, options=OPTIONS)
    assert job.base == parent
    outcome = tasks.retrain(job.pk)
    job.refresh_from_db()
    assert job.status == "done", job.error
    assert outcome == {"started": True, "status": "done", "child": job.child_id, "gate_passed": False}
    # The loss, step by step, fell.
    assert [e["step"] for e in job.loss_log] == list(range(1, 21))
    assert job.loss_log[-1]["loss"] < job.loss_log[0]["loss"] - 0.3
    assert job.progress == 1.0
    # The child records its parent and export, and lives in the retraining folder.
    child = job.child
    assert child is not None
    assert (child.parent, child.training_export, child.quantization) == (parent, export, "none")
    assert Path(child.adapter_path, "adapter_config.json").exists()
    assert child.model == child.adapter_path
    # Gold was judged with the child; the parent's verdicts were there already and were left alone.
    child_gold = CriticVerdict.objects.filter(checkpoint=child)
    assert sorted(v.item_id for v in child_gold) == sorted(i.pk for i in gold)
    assert {v.status for v in child_gold} == {"done"}
    assert {v.preference for v in child_gold} == {"A"}
    assert CriticVerdict.objects.filter(checkpoint=parent, item__split="gold").count() == 3
    assert job.gold_metrics["parent"]["pairwise"]["accuracy_with_tie"]["value"] == 1.0
    assert job.gold_metrics["child"]["pairwise"]["accuracy_with_tie"]["value"] == 0.0
    assert job.gate_passed is False
    assert [(e["statistic"], e["worse"]) for e in job.gate_report] == [("accuracy_with_tie", True)]

    with pytest.raises(ValidationError, match="worse than its parent"):
        retraining.retraining_job_promote(job=job, user=admin)
    with pytest.raises(ValidationError, match="worse than its parent"):
        retraining.retraining_job_promote(job=job, user=admin, override_reason="   ")
    assert CriticCheckpoint.objects.get(is_active=True) == parent

    retraining.retraining_job_promote(job=job, user=admin, override_reason="Gold labels are stale; see #12.")
    job.refresh_from_db()
    assert CriticCheckpoint.objects.get(is_active=True) == child
    assert job.promoted_by == admin
    assert job.promoted_at is not None
    assert job.promotion_override_reason == "Gold labels are stale; see #12."
    assert tasks.retrain(job.pk) == {"started": False}  # a repeated message starts nothing


def test_a_better_child_passes_the_gate_after_the_parent_is_judged_on_gold_too(
    parent: CriticCheckpoint, tmp_path: Path
) -> None:
    _, export = scenario(parent, tmp_path, humans_on_gold="A", parent_on_gold=None)
    job = retraining.retraining_job_create(export=export, created_by=None, options={**OPTIONS, "merge": True})
    tasks.retrain(job.pk)
    job.refresh_from_db()
    assert job.status == "done", job.error
    for checkpoint in (parent, job.child):
        verdicts = CriticVerdict.objects.filter(checkpoint=checkpoint, item__split="gold")
        assert verdicts.count() == 3
        assert {v.status for v in verdicts} == {"done"}
    assert job.child is not None
    assert job.child.model == job.child.merged_path != ""
    assert job.gold_metrics["child"]["pairwise"]["accuracy_with_tie"]["value"] == 1.0
    assert job.gate_passed is True
    promoted = retraining.retraining_job_promote(job=job, user=AdminFactory())
    assert promoted.is_active
    job.refresh_from_db()
    assert job.promotion_override_reason == ""


def test_a_job_whose_export_cannot_be_read_fails_with_the_reason(parent: CriticCheckpoint, tmp_path: Path) -> None:
    _, export = scenario(parent, tmp_path, humans_on_gold="A", parent_on_gold=None)
    job = retraining.retraining_job_create(export=export, created_by=None, options=OPTIONS)
    export_data_file(export=export).write_text("[{}]")
    assert tasks.retrain(job.pk) == {"started": True, "status": "failed"}
    job.refresh_from_db()
    assert job.status == "failed"
    assert "row 1: every row needs an id and an image" in job.error
    assert job.child is None
    assert not CriticCheckpoint.objects.exclude(pk=parent.pk).exists()
    assert RetrainingJob.objects.get().finished_at is not None


def test_an_export_holding_gold_items_is_never_trained_on(parent: CriticCheckpoint, tmp_path: Path) -> None:
    # The exporter never writes gold; a file edited by hand afterwards must not sneak a gold item in.
    gold, leaky = scenario(parent, tmp_path, humans_on_gold="A", parent_on_gold=None)
    data_file = export_data_file(export=leaky)
    rows = json.loads(data_file.read_text())
    rows[0]["id"] = f"{gold[0].external_id}__pairwise"
    data_file.write_text(json.dumps(rows))
    job = retraining.retraining_job_create(export=leaky, created_by=None, base=parent, options=OPTIONS)
    tasks.retrain(job.pk)
    job.refresh_from_db()
    assert job.status == "failed"
    assert job.error == f"The export holds 1 gold item(s) ({gold[0].external_id}); gold is never trained on."
    assert job.child is None


def test_retrain_critic_now_runs_the_job_in_this_process(parent: CriticCheckpoint, tmp_path: Path) -> None:
    _, export = scenario(parent, tmp_path, humans_on_gold="B", parent_on_gold="B", fmt="llava-critic-parquet")
    out = StringIO()
    call_command(
        "retrain_critic", "--export", str(export.pk), "--now", "--epochs", "9", "--max-steps", "4",
        "--learning-rate", "5e-3", stdout=out,
    )  # fmt: skip
    job = RetrainingJob.objects.get()
    assert job.status == "done"
    assert f"Done: 4 steps, loss {job.loss_log[0]['loss']:.4f} -> {job.loss_log[-1]['loss']:.4f}" in out.getvalue()
    assert "gate REFUSED" in out.getvalue() or "gate passed" in out.getvalue()
    export_data_file(export=export).unlink()
    with pytest.raises(CommandError, match="has no data file at"):
        call_command("retrain_critic", "--export", str(export.pk), "--now")


def test_gold_judging_that_breaks_gives_its_verdicts_back_and_fails_the_job(
    parent: CriticCheckpoint, tmp_path: Path
) -> None:
    # Trained from its merged weights, but the parent's own model (what judges its gold) cannot be loaded.
    CriticCheckpoint.objects.filter(pk=parent.pk).update(merged_path=parent.model, model=str(tmp_path / "gone"))
    gold, export = scenario(parent, tmp_path, humans_on_gold="A", parent_on_gold=None)
    job = retraining.retraining_job_create(export=export, created_by=None, base=parent, options=OPTIONS)
    assert tasks.retrain(job.pk) == {"started": True, "status": "failed"}
    job.refresh_from_db()
    assert "gone" in job.error
    verdicts = CriticVerdict.objects.filter(checkpoint=parent, item__in=gold)
    assert {(v.status, v.claim) for v in verdicts} == {("queued", "")}  # for a critic worker to take later
    assert "retraining's gold judging stopped" in verdicts.first().error
