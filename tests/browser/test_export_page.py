"""An administrator in a real browser: ask for an export, watch it wait and finish (htmx), download it."""

from __future__ import annotations

import json
from pathlib import Path

from playwright.sync_api import Page, expect

from annotations.models import TrainingExport
from annotations.services.exports import training_export_run
from tests.browser.login import log_in
from tests.export_world import build_export_world


def test_an_admin_exports_and_the_page_follows_the_job(  # type: ignore[no-untyped-def]
    page: Page, live_server, transactional_db, tmp_path: Path
) -> None:
    world = build_export_world()
    log_in(page, live_server.url, "ada")

    page.get_by_role("link", name="Exports").click()
    page.get_by_role("link", name="New export").click()
    page.get_by_label("Dataset").select_option(label="charts")
    page.get_by_label("Format").select_option("dpo-jsonl")
    page.get_by_role("button", name="Export").click()
    expect(page.get_by_text("Waiting for a worker")).to_be_visible()

    # No worker in this test: do what the `default` worker does (tests/integration runs a real one).
    training_export_run(export_id=TrainingExport.objects.get().pk)
    expect(page.get_by_text("4 rows")).to_be_visible(timeout=10_000)  # the polling fragment caught up
    expect(page.get_by_text("reviewers_disagree")).to_be_visible()

    with page.expect_download() as download:
        page.get_by_role("link", name="train.jsonl").click()
    saved = tmp_path / "train.jsonl"
    download.value.save_as(saved)
    ids = {json.loads(line)["id"] for line in saved.read_text().splitlines()}
    assert ids == set(world["expected"])
