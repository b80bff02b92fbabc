"""An administrator in a real browser: "Retrain" next to an export, the job page following the job live (loss
curve, then the gate), and a refused child promoted with a recorded reason."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from annotations import stats
from annotations.models import CriticCheckpoint, CriticVerdict, HumanVerdict, RetrainingJob
from annotations.services import retraining
from critic_worker.profiles import Verdict
from tests.browser.login import log_in
from tests.factories import AdminFactory, CheckpointFactory, PairwiseItemFactory
from tests.training_exports import export_for


@pytest.fixture
def admin_page(page: Page, live_server, transactional_db) -> Page:  # type: ignore[no-untyped-def]
    AdminFactory(username="ada")
    log_in(page, live_server.url, "ada")
    return page


def test_follow_a_retraining_job_live_and_override_the_gate(admin_page: Page, live_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    page = admin_page
    parent = CheckpointFactory(name="critic-v1", is_active=True)
    pool = PairwiseItemFactory()
    reviewer = AdminFactory()
    for _ in range(stats.MIN_CI_N):  # enough gold for the parent's figures to carry an interval
        gold = PairwiseItemFactory(dataset=pool.dataset, split="gold")
        HumanVerdict.objects.create(item=gold, reviewer=reviewer, profile="pairwise", preference="B")
        CriticVerdict.objects.create(item=gold, checkpoint=parent, profile="pairwise", status="done", preference="B")
    export_for(pool.dataset, [(pool, Verdict(preference="A", justification="Right."))], checkpoint=parent)

    page.goto(f"{live_server.url}/exports/")
    page.get_by_role("link", name="Retrain…").click()
    expect(page.get_by_label("Epochs")).to_have_value("3")
    page.get_by_label("Max steps").fill("6")
    page.get_by_role("button", name="Review and confirm").click()
    expect(page.get_by_text("Start this run?")).to_be_visible()
    assert not RetrainingJob.objects.exists()
    page.get_by_role("button", name="Change").click()
    expect(page.get_by_label("Max steps")).to_have_value("6")  # what was typed survives
    page.get_by_role("button", name="Review and confirm").click()
    page.get_by_role("button", name="Start retraining").click()
    expect(page.get_by_text("queued on the critic worker")).to_be_visible()
    job = RetrainingJob.objects.get()
    assert job.options["max_steps"] == 6

    # The worker's side, through the same service calls the task makes; the page follows without a reload.
    retraining.retraining_job_start(job_id=job.pk)
    retraining.retraining_job_progress(job_id=job.pk, losses=[3.0, 2.0, 1.5], total=6)
    expect(page.locator("#job-status polyline")).to_be_attached()
    expect(page.locator("#job-status p").first).to_contain_text("step 3")
    expect(page.locator("#job-status text.last-value")).to_have_text("last 1.500 (step 3)")  # the loss, with axes
    expect(page.locator("#job-status g.y-axis text.tick").first).to_be_attached()
    retraining.retraining_child_register(job_id=job.pk, adapter_dir=str(tmp_path / "adapter"), merged_dir=None)
    retraining.retraining_job_evaluate(job_id=job.pk)  # the child judged nothing on gold: worse
    expect(page.get_by_text("The gate refused the child")).to_be_visible()
    expect(page.locator("#job-status")).not_to_have_attribute("hx-trigger", "every 2s")

    page.get_by_role("button", name="Override and promote").click()
    expect(page.get_by_text("The gate refused the child")).to_be_visible()  # the reason is required
    assert CriticCheckpoint.objects.get(is_active=True) == parent
    page.get_by_label("Override the gate").fill("Gold labels for this batch are being redone.")
    page.get_by_role("button", name="Override and promote").click()
    expect(page.get_by_text("is now the active checkpoint")).to_be_visible()
    expect(page.get_by_text("overriding the gate")).to_be_visible()
    assert CriticCheckpoint.objects.get(is_active=True).parent == parent
