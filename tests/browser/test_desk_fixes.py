"""The desk as a new user met it: a correction of the critic's reasons on an agreement, refusals that say what was
wrong with a score while slider and box stay together, and a skip that logs no error; the console stays clean."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from annotations.models import CriticVerdict, HumanVerdict, ReviewSkip
from critic_worker.profiles import PROFILES
from tests.browser.login import log_in
from tests.factories import CheckpointFactory, DatasetFactory, ItemFactory, PairwiseItemFactory, UserFactory

RIGHT = "B has four circles, A three: B is right, and length has nothing to do with it."


@pytest.fixture
def console(page: Page) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


@pytest.fixture
def open_desk(page: Page, live_server, transactional_db) -> Callable[..., list]:  # type: ignore[no-untyped-def]
    def make(factory: type[ItemFactory], critic: dict[str, object], n: int = 1, **fields: object) -> list:
        UserFactory(username="rita")
        dataset = DatasetFactory(name="desk")
        items = [factory(dataset=dataset, question=f"Question {i}", **fields) for i in range(n)]
        checkpoint = CheckpointFactory(is_active=True)
        for item in items:
            CriticVerdict.objects.create(
                item=item,
                checkpoint=checkpoint,
                profile=item.profile,
                status="done",
                justification="A is longer.",
                **critic,
            )
        log_in(page, live_server.url, "rita")
        page.goto(f"{live_server.url}/datasets/{dataset.pk}/review/")
        page.wait_for_load_state("load")
        return items

    return make


def test_an_agreement_with_wrong_reasons_is_corrected_after_the_reveal(page: Page, open_desk, console) -> None:  # type: ignore[no-untyped-def]
    open_desk(PairwiseItemFactory, {"preference": "B"})
    expect(page.get_by_label("The critic's justification is wrong — the right one:")).to_have_count(0)  # blind
    page.keyboard.press("3")
    page.keyboard.press("Enter")
    expect(page.locator(".agreement")).to_have_text("You and the critic agree.")
    page.get_by_label("The critic's justification is wrong — the right one:").fill(RIGHT)
    page.get_by_role("button", name="Mark wrong and save").click()
    expect(page.get_by_text("Saved.")).to_be_visible()
    verdict = HumanVerdict.objects.get()
    assert (verdict.preference, verdict.justification_flagged, verdict.corrected_justification) == ("B", True, RIGHT)
    assert console == []


def test_a_score_off_the_rubric_is_said_as_typed_and_at_submit(page: Page, open_desk, console, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setitem(
        PROFILES, "llava-bench", dataclasses.replace(PROFILES["llava-bench"], score_min=1, score_max=5, score_step=1)
    )
    open_desk(ItemFactory, {"score": 4}, profile="llava-bench")
    box, slider, said = page.locator("#score"), page.get_by_label("Score slider"), page.locator("#verdict-missing")
    page.keyboard.press("7")  # the desk's keys type the score
    expect(box).to_have_value("7")
    expect(slider).to_have_value("5")  # the slider stops at its end, and the box's number is said
    expect(said).to_have_text("7 is above the highest score, 5.")
    page.keyboard.press("Enter")
    expect(said).to_have_text("7 is above the highest score, 5.")

    box.fill("3.5")  # typed in the box itself
    expect(said).to_have_text("3.5 is not on this rubric's steps (1, 2, 3, 4, 5).")
    page.get_by_role("button", name="Submit").click()
    expect(said).to_have_text("3.5 is not on this rubric's steps (1, 2, 3, 4, 5).")
    assert not HumanVerdict.objects.exists()

    box.fill("4")
    expect(said).to_be_hidden()
    expect(slider).to_have_value("4")
    page.get_by_role("button", name="Submit").click()
    expect(page.locator("#reveal")).to_be_visible()
    assert HumanVerdict.objects.get().score == 4
    assert console == []


def test_skipping_with_s_logs_no_error(page: Page, open_desk, console) -> None:  # type: ignore[no-untyped-def]
    first, second = open_desk(PairwiseItemFactory, {"preference": "A"}, n=2)
    page.keyboard.press("s")
    expect(page.get_by_text("Question 1")).to_be_visible()
    assert ReviewSkip.objects.filter(item=first).exists()
    page.get_by_role("button", name="Skip").click()
    expect(page.get_by_text("Nothing left for you to review")).to_be_visible()
    assert ReviewSkip.objects.filter(item=second).exists()
    assert console == []
