"""The retraining task, called in this process on a tiny real critic: train, register the child, judge gold
with the child (and the parent where it has not), gate, and promote or refuse."""

from __future__ import annotations

import json
from dataclasses import replace
from io import StringIO
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from annotations import stats
from annotations.models import CriticCheckpoint, CriticVerdict, HumanVerdict, RetrainingJob
from annotations.selectors.review import review_reveal
from annotations.services import judging, retraining, review
from annotations.services.exports import export_data_file, training_export_create, training_export_run
from annotations.services.images import image_check, image_store
from critic_worker import tasks
from critic_worker.profiles import PromptInput, Verdict, get_profile, user_turn
from critic_worker.training import read_training_rows
from tests.factories import (
    AdminFactory,
    CheckpointFactory,
    DatasetFactory,
    ItemFactory,
    PairwiseItemFactory,
    UserFactory,
)
from tests.images import png_bytes
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
    # MIN_CI_N gold items: the fewest for which the parent's figures carry an interval the gate can compare with.
    gold = [
        PairwiseItemFactory(dataset=dataset, split="gold", question=f"Gold question {i}?")
        for i in range(stats.MIN_CI_N)
    ]
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
    assert CriticVerdict.objects.filter(checkpoint=parent, item__split="gold").count() == len(gold)
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
        assert verdicts.count() == stats.MIN_CI_N
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


def test_the_whole_loop_from_the_desk_through_the_exporter_to_a_child_that_judges_gold(
    parent: CriticCheckpoint,
) -> None:
    """Items judged by the parent; a reviewer commits verdicts that disagree at the desk and corrects the critic's
    justification; the real exporter writes llava-json and llava-critic-parquet; `retrain_critic --now` trains a
    child on each, which is registered with its parent and export and judges the gold split."""
    dataset = DatasetFactory(name="loop")
    colours = iter(range(10, 250, 12))

    def image():  # type: ignore[no-untyped-def]
        return image_store(checked=image_check(data=png_bytes(colour=(next(colours), 80, 40))))[0]

    pool = [
        PairwiseItemFactory(dataset=dataset, image=image(), question=f"Which answer fits picture {i}?")
        for i in range(4)
    ] + [ItemFactory(dataset=dataset, image=image(), question=f"How many shapes in picture {i}?") for i in range(2)]
    gold = [
        PairwiseItemFactory(dataset=dataset, image=image(), split="gold", question=f"Gold question {i}?")
        for i in range(stats.MIN_CI_N)  # enough for the parent's gold figures to carry an interval
    ]
    judging.verdicts_queue(dataset=dataset, checkpoint=parent)
    assert tasks.judge_batch(list(CriticVerdict.objects.values_list("pk", flat=True)))["done"] == len(pool) + len(gold)
    said = {v.item_id: v for v in CriticVerdict.objects.filter(checkpoint=parent)}

    # The reviewer, at the desk, disagrees with whatever the random-weight parent said on the pool.
    reviewer = UserFactory(username="rita")
    expected: dict[str, Verdict] = {}
    while (item := review.review_next(reviewer=reviewer, dataset_id=dataset.pk)) is not None:
        critic = said[item.pk]
        if item.split == "gold":
            review.human_verdict_submit(reviewer=reviewer, item=item, preference="A")
            continue
        if item.kind == "pairwise":
            mine = Verdict(preference="B" if critic.preference == "A" else "A")
        else:
            mine = Verdict(score=0 if (critic.score or 0) > 50 else 100)
        human = review.human_verdict_submit(
            reviewer=reviewer, item=item, score=mine.score, preference=mine.preference, rationale="blind"
        )
        reveal = review_reveal(reviewer=reviewer, item=item, checkpoint=parent, human=human)
        assert reveal is not None
        assert reveal.agrees is False
        right = f"Judged against picture {item.external_id}: the critic got it wrong."
        review.human_verdict_correct_critic(verdict=human, corrected_justification=right)
        expected[f"{item.external_id}__{item.profile}"] = replace(mine, justification=right)
    assert len(expected) == len(pool)
    assert HumanVerdict.objects.filter(item__in=gold).count() == len(gold)

    admin = AdminFactory()
    curves: list[list[float]] = []
    for fmt in ("llava-json", "llava-critic-parquet"):
        created = training_export_create(dataset=dataset, fmt=fmt, user=admin)
        export = training_export_run(export_id=created.pk)
        assert export is not None
        assert export.status == "done", export.error
        assert export.source_checkpoint == parent
        # Every exported row is the prompt the critic saw, and its gpt turn parses back to the human verdict.
        image_folder = export.manifest["image_folder"]
        data_file = export_data_file(export=export)
        rows = read_training_rows(
            data_file, fmt, image_folder=data_file.parent / image_folder if image_folder else None
        )
        assert sorted(row.id for row in rows) == sorted(expected)
        items = {item.external_id: item for item in pool}
        for row in rows:
            external_id, family = row.id.rsplit("__", 1)
            item = items[external_id]
            prompt = PromptInput(item.question, item.response_a, item.response_b, item.reference)
            assert row.human == user_turn(get_profile(family), prompt)
            assert get_profile(family).parse(row.gpt) == expected[row.id]
            assert row.pictures() == [Path(item.image.normalized.path).read_bytes()]  # the rendition, not the original

        out = StringIO()
        call_command(
            "retrain_critic", "--export", str(export.pk), "--now", "--epochs", "100", "--max-steps", "20",
            "--batch-size", "2", "--learning-rate", "5e-3", stdout=out,
        )  # fmt: skip
        job = RetrainingJob.objects.get(export=export)
        assert job.status == "done", job.error
        losses = [entry["loss"] for entry in job.loss_log]
        assert len(losses) == 20
        assert losses[-1] < losses[0] - 0.3, losses
        assert f"Done: 20 steps, loss {losses[0]:.4f} -> {losses[-1]:.4f}" in out.getvalue()
        curves.append(losses)
        child = job.child
        assert child is not None
        assert (child.parent, child.training_export, job.base) == (parent, export, parent)
        judged = CriticVerdict.objects.filter(checkpoint=child)
        assert sorted(v.item_id for v in judged) == sorted(item.pk for item in gold)
        assert {v.status for v in judged} == {"done"}
        assert job.gold_metrics["child"]["pairwise"]["n"] == len(gold)
        assert job.gate_passed is not None
    assert curves[0] == pytest.approx(curves[1])  # the two formats hold the same rows: the same training
    assert CriticCheckpoint.objects.get(is_active=True) == parent  # nothing promoted itself


@pytest.mark.parametrize("arch", ["llava", "qwen2-vl", "qwen2.5-vl", "idefics3"])
def test_a_job_retrains_a_critic_of_any_architecture_and_its_child_judges_gold(  # type: ignore[no-untyped-def]
    tiny_critics, settings, tmp_path: Path, arch: str
) -> None:
    settings.CRITIC_MAX_NEW_TOKENS = 8
    settings.CRITIC_DEVICE = "cpu"
    settings.RETRAIN_ROOT = tmp_path / "checkpoints"
    parent = CheckpointFactory(name=arch, model=str(tiny_critics(arch)), quantization="none", is_active=True)
    # The parent answers B on gold, the humans A; the child is taught A.
    gold, export = scenario(parent, tmp_path, humans_on_gold="A", parent_on_gold="B")
    job = retraining.retraining_job_create(export=export, created_by=None, options=OPTIONS)
    outcome = tasks.retrain(job.pk)
    job.refresh_from_db()
    assert job.status == "done", job.error
    assert outcome == {"started": True, "status": "done", "child": job.child_id, "gate_passed": True}
    assert job.loss_log[-1]["loss"] < job.loss_log[0]["loss"] - 0.3
    child_gold = CriticVerdict.objects.filter(checkpoint=job.child)
    assert sorted(v.item_id for v in child_gold) == sorted(i.pk for i in gold)
    assert {(v.status, v.preference) for v in child_gold} == {("done", "A")}
