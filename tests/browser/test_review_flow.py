"""A reviewer at the desk in a real browser, with the keyboard: blind verdict, then the critic revealed live."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from annotations.models import CriticVerdict, HumanVerdict
from tests.browser.login import log_in
from tests.factories import CheckpointFactory, DatasetFactory, ItemFactory, PairwiseItemFactory, UserFactory

XSS = '<img src=x onerror="window.__owned = 1"><script>window.__owned = 1</script>'


@pytest.fixture
def desk(page: Page, live_server, transactional_db):  # type: ignore[no-untyped-def]
    UserFactory(username="rita")
    log_in(page, live_server.url, "rita")
    return page


def test_keyboard_review_with_a_live_reveal(desk: Page, live_server) -> None:  # type: ignore[no-untyped-def]
    page = desk
    checkpoint = CheckpointFactory(is_active=True)
    dataset = DatasetFactory(name="arena")
    pair = PairwiseItemFactory(
        dataset=dataset,
        model_a="model-alpha",
        model_b="model-beta",
        response_a="Answer A " + XSS,
        response_b="Answer **B**",
    )
    point = ItemFactory(dataset=dataset, image=pair.image)
    running = CriticVerdict.objects.create(item=pair, checkpoint=checkpoint, profile="pairwise", status="running")

    page.goto(f"{live_server.url}/datasets/{dataset.pk}/")
    page.get_by_role("link", name="Start reviewing").click()
    expect(page.get_by_text("Which response is better?")).to_be_visible()
    expect(page.get_by_text(XSS, exact=False)).to_be_visible()  # markup shown as text
    expect(page.get_by_text("model-alpha")).to_have_count(0)  # models hidden until the verdict
    assert page.evaluate("window.__owned") is None

    page.keyboard.press("3")  # B
    page.keyboard.press("Enter")
    expect(page.get_by_text("The critic has not finished this item yet")).to_be_visible()
    expect(page.get_by_text("A: model-alpha · B: model-beta")).to_be_visible()
    expect(page.locator("#review-progress")).to_contain_text("You: 1 verdict ·")  # the counter moved too
    assert HumanVerdict.objects.get(item=pair).preference == "B"

    # The critic finishes after the verdict: the panel shows it without a reload.
    CriticVerdict.objects.filter(pk=running.pk).update(
        status="done", preference="A", confidence=0.7, justification="A is right about the bars."
    )
    expect(page.get_by_text("You and the critic disagree")).to_be_visible(timeout=10_000)
    expect(page.get_by_text("A is right about the bars.")).to_be_visible()

    page.evaluate("window.__samePage = true")
    page.keyboard.press("n")  # next item: the pointwise one, swapped in without a page load
    expect(page.get_by_text("Score from 0 to 100")).to_be_visible()
    assert page.evaluate("window.__samePage") is True
    assert page.url.endswith(f"/datasets/{dataset.pk}/review/")
    expect(page.get_by_text("Response by")).to_have_count(0)  # the new item's model is hidden again
    page.keyboard.press("ArrowRight")  # one step from the slider's middle: 51
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Enter")
    expect(page.locator("#reveal")).to_be_visible()
    expect(page.get_by_text("Response by")).to_be_visible()
    expect(page.locator("#review-progress")).to_contain_text("You: 2 verdicts")
    assert HumanVerdict.objects.get(item=point).score == 52

    page.keyboard.press("n")
    expect(page.get_by_text("Nothing left for you to review")).to_be_visible()


def test_double_submit_records_one_verdict(desk: Page, live_server) -> None:  # type: ignore[no-untyped-def]
    page = desk
    dataset = DatasetFactory()
    PairwiseItemFactory(dataset=dataset)
    page.goto(f"{live_server.url}/datasets/{dataset.pk}/review/")
    page.wait_for_load_state("load")
    page.keyboard.press("1")
    submit = page.get_by_role("button", name="Submit")
    submit.dblclick()
    expect(page.locator("#reveal")).to_be_visible()
    assert HumanVerdict.objects.count() == 1
