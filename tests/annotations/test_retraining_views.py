"""The retraining pages: administrators start, follow and promote; reviewers get 403 everywhere."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from annotations.models import CriticCheckpoint, RetrainingJob, TrainingExport
from critic_worker.profiles import Verdict
from tests.factories import CheckpointFactory, ItemFactory
from tests.training_exports import export_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def export() -> TrainingExport:
    item = ItemFactory()
    return export_for(item.dataset, [(item, Verdict(score=70, justification="Close."))])


@pytest.fixture
def job(export: TrainingExport) -> RetrainingJob:
    parent = CheckpointFactory(name="parent", is_active=True)
    child = CheckpointFactory(name="child", parent=parent, training_export=export)
    return RetrainingJob.objects.create(
        export=export,
        base=parent,
        child=child,
        status="done",
        progress=1,
        loss_log=[{"step": 1, "loss": 2.5}, {"step": 2, "loss": 1.5}, {"step": 3, "loss": 1.0}],
        gate_passed=False,
        gate_report=[
            {
                "kind": "pairwise",
                "statistic": "accuracy_with_tie",
                "parent": 0.9,
                "parent_ci95": [0.8, 1.0],
                "child": 0.4,
                "worse": True,
                "reason": "0.400 < parent's lower bound 0.800",
            }
        ],
    )


def test_reviewers_get_403_on_every_retraining_page_and_action(
    reviewer_client: Client, job: RetrainingJob, export: TrainingExport
) -> None:
    assert reviewer_client.get(reverse("retraining-list")).status_code == 403
    assert reviewer_client.get(reverse("retraining-detail", args=[job.pk])).status_code == 403
    assert reviewer_client.post(reverse("export-retrain", args=[export.pk])).status_code == 403
    response = reviewer_client.post(reverse("retraining-promote", args=[job.pk]), {"reason": "I say so"})
    assert response.status_code == 403
    assert RetrainingJob.objects.count() == 1
    assert CriticCheckpoint.objects.get(is_active=True).name == "parent"


def test_the_retrain_button_queues_a_job_and_shows_it(admin_client: Client, export: TrainingExport) -> None:
    CheckpointFactory(name="active-one", is_active=True)
    page = admin_client.get(reverse("export-list")).content.decode()
    assert f'href="{reverse("export-retrain", args=[export.pk])}"' in page
    url = reverse("export-retrain", args=[export.pk])
    form = admin_client.get(url).content.decode()
    assert 'name="epochs" value="3"' in form
    assert 'name="lora_rank" value="16"' in form
    fields = {"base": export.source_checkpoint.pk, "epochs": 2, "learning_rate": 1e-4, "lora_rank": 8, "batch_size": 4}
    confirm = admin_client.post(url, fields).content.decode()
    assert "Start this run?" in confirm
    assert not RetrainingJob.objects.exists()  # not before the confirmation
    response = admin_client.post(url, {**fields, "confirm": "1"})
    job = RetrainingJob.objects.get()
    assert (job.options["epochs"], job.options["learning_rate"], job.options["lora_rank"]) == (2, 1e-4, 8)
    assert (job.status, job.base, job.export) == ("queued", export.source_checkpoint, export)
    assert response["Location"] == reverse("retraining-detail", args=[job.pk])
    detail = admin_client.get(response["Location"]).content.decode()
    assert "Queued" in detail
    assert 'hx-trigger="every 2s"' in detail  # polls while it waits or runs
    listing = admin_client.get(reverse("retraining-list")).content.decode()
    assert f"#{job.pk}" in listing
    assert 'hx-trigger="every 2s"' in listing


def test_an_export_that_cannot_be_trained_on_is_refused_with_the_reason(
    admin_client: Client, export: TrainingExport
) -> None:
    CheckpointFactory(is_active=True)
    TrainingExport.objects.filter(pk=export.pk).update(format="dpo-jsonl")
    response = admin_client.get(reverse("export-retrain", args=[export.pk]), follow=True)
    assert "retraining reads llava-json or llava-critic-parquet" in response.content.decode()
    assert "Retrain…" not in admin_client.get(reverse("export-list")).content.decode()
    assert not RetrainingJob.objects.exists()


def test_a_finished_job_shows_its_loss_curve_and_gate(admin_client: Client, job: RetrainingJob) -> None:
    page = admin_client.get(reverse("retraining-detail", args=[job.pk])).content.decode()
    assert "<polyline" in page
    assert 'points="60.0,30.0 ' in page  # the first, highest loss at the top left of the plot area
    assert "The gate refused the child" in page
    assert "0.400 &lt; parent&#x27;s lower bound 0.800" in page
    assert "hx-trigger" not in page
    fragment = admin_client.get(reverse("retraining-detail", args=[job.pk]), headers={"HX-Request": "true"})
    assert fragment.content.decode().lstrip().startswith('<section id="job-status"')
    assert "hx-trigger" not in admin_client.get(reverse("retraining-list")).content.decode()


def test_promotion_of_a_refused_child_needs_a_reason_which_is_recorded(
    admin_client: Client,
    admin,
    job: RetrainingJob,  # type: ignore[no-untyped-def]
) -> None:
    url = reverse("retraining-promote", args=[job.pk])
    refused = admin_client.post(url, {"reason": "  "})
    assert refused.status_code == 400
    assert "Promotion refused" in refused.content.decode()
    assert CriticCheckpoint.objects.get(is_active=True).name == "parent"
    done = admin_client.post(url, {"reason": "Gold labels <b>are</b> stale."}, follow=True)
    assert CriticCheckpoint.objects.get(is_active=True).name == "child"
    page = done.content.decode()
    assert "overriding the gate" in page
    assert "Gold labels &lt;b&gt;are&lt;/b&gt; stale." in page
    job.refresh_from_db()
    assert (job.promoted_by, job.promotion_override_reason) == (admin, "Gold labels <b>are</b> stale.")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--export", "999"], "No export with id 999."),
        (["--export", "{export}", "--base", "ghost"], "No checkpoint named 'ghost'."),
        (["--export", "{export}"], "No base checkpoint"),
    ],
)
def test_retrain_critic_explains_what_is_wrong(export: TrainingExport, args: list[str], message: str) -> None:
    TrainingExport.objects.filter(pk=export.pk).update(source_checkpoint=None)  # so no base comes from it
    args = [a.format(export=export.pk) for a in args]
    with pytest.raises(CommandError, match=message) as error:
        call_command("retrain_critic", *args)
    assert "\n" not in str(error.value)
    assert not RetrainingJob.objects.exists()


def test_retrain_critic_queues_a_job(export: TrainingExport) -> None:
    out = StringIO()
    call_command("retrain_critic", "--export", str(export.pk), "--max-steps", "5", "--merge", stdout=out)
    job = RetrainingJob.objects.get()
    assert job.base == export.source_checkpoint
    assert out.getvalue().startswith(f"Retraining job {job.pk}: {job.base.name} on export #{export.number}.")
    assert (job.status, job.options["max_steps"], job.options["merge"]) == ("queued", 5, True)


def test_the_admin_cannot_activate_a_child_that_the_gate_refused(admin_client: Client, job: RetrainingJob) -> None:
    changelist = reverse("admin:annotations_criticcheckpoint_changelist")
    assert job.child is not None

    def make_active(checkpoint: CriticCheckpoint) -> str:
        response = admin_client.post(
            changelist, {"action": "make_active", "_selected_action": [checkpoint.pk]}, follow=True
        )
        return " ".join(str(m) for m in response.context["messages"])

    said = make_active(job.child)
    assert f"retraining job #{job.pk}" in said
    assert CriticCheckpoint.objects.get(is_active=True) == job.base  # nothing changed

    other = CheckpointFactory(name="llava-critic-7b [int8]")
    assert "now the active checkpoint" in make_active(other)
    assert CriticCheckpoint.objects.get(is_active=True) == other  # and the previous one stepped down

    form = admin_client.get(reverse("admin:annotations_criticcheckpoint_change", args=[job.child.pk]))
    assert 'name="is_active"' not in form.content.decode()  # no tick box that would skip the gate


def test_the_retrain_form_refuses_bad_options_with_the_field(admin_client: Client, export: TrainingExport) -> None:
    url = reverse("export-retrain", args=[export.pk])
    fields = {
        "base": export.source_checkpoint.pk,
        "epochs": 0,
        "learning_rate": "fast",
        "lora_rank": 8,
        "batch_size": 4,
    }
    response = admin_client.post(url, {**fields, "confirm": "1"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "greater than or equal to 1" in page
    assert "Enter a number" in page
    assert not RetrainingJob.objects.exists()
