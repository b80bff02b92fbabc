"""The desk's slider and score box follow the profile's step: on a profile that scores 1-10 in halves the arrow keys
move by 0.5, slider and box stay in step, and a score off the grid is refused before anything is sent; the built-in
profiles (no step of their own) keep whole numbers."""

from __future__ import annotations

import dataclasses

import pytest
from playwright.sync_api import Page, expect

from annotations.models import CriticVerdict, HumanVerdict
from critic_worker.profiles import PROFILES
from tests.browser.login import log_in
from tests.factories import CheckpointFactory, DatasetFactory, ItemFactory, UserFactory


def open_desk(page: Page, live_server, profile: str) -> None:  # type: ignore[no-untyped-def]
    UserFactory(username="rita")
    dataset = DatasetFactory(name="steps")
    item = ItemFactory(dataset=dataset, profile=profile, question="How many circles?")
    CriticVerdict.objects.create(
        item=item, checkpoint=CheckpointFactory(is_active=True), profile=profile, status="done", score=7
    )
    log_in(page, live_server.url, "rita")
    page.goto(f"{live_server.url}/datasets/{dataset.pk}/review/")
    page.wait_for_load_state("load")


def test_slider_and_box_move_in_the_profiles_step(
    page: Page, live_server, transactional_db, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    # A profile on a grid of halves, as a team's profile can be (items name built-in profiles, so one stands in).
    monkeypatch.setitem(PROFILES, "llava-bench", dataclasses.replace(PROFILES["llava-bench"], score_step=0.5))
    open_desk(page, live_server, "llava-bench")
    box, slider = page.locator("#score"), page.get_by_label("Score slider")
    expect(page.get_by_text("Score from 1 to 10 in steps of 0.5")).to_be_visible()
    expect(box).to_have_attribute("step", "0.5")
    expect(slider).to_have_attribute("step", "0.5")
    page.keyboard.press("ArrowRight")  # from empty: one step from the slider's middle (5.5)
    expect(box).to_have_value("6")
    page.keyboard.press("ArrowRight")
    expect(box).to_have_value("6.5")
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    expect(box).to_have_value("5")
    expect(slider).to_have_value("5")

    box.fill("4.2")  # off the grid: said, and nothing sent
    page.keyboard.press("Enter")
    expect(page.locator("#verdict-missing")).to_have_text("4.2 is not on this rubric's steps (1, 1.5, 2, …, 10).")
    assert not HumanVerdict.objects.exists()

    box.fill("8.5")
    expect(slider).to_have_value("8.5")  # the slider follows the box
    page.keyboard.press("Enter")
    expect(page.locator("#reveal")).to_be_visible()
    assert HumanVerdict.objects.get().score == 8.5


def test_a_builtin_profile_scores_in_whole_numbers(page: Page, live_server, transactional_db) -> None:  # type: ignore[no-untyped-def]
    open_desk(page, live_server, "llava-bench")
    expect(page.locator("#score")).to_have_attribute("step", "1")
    expect(page.get_by_label("Score slider")).to_have_attribute("step", "1")
    expect(page.get_by_text("Score from 1 to 10 (type")).to_be_visible()
