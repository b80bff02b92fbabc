"""The desk's picture zooms and pans in place, and ? lists every key; none of it touches the verdict."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from annotations.models import HumanVerdict
from annotations.services.images import image_check, image_store
from tests.browser.test_review_flow import desk  # noqa: F401 - the logged-in reviewer's page
from tests.factories import DatasetFactory, ItemFactory
from tests.images import png_bytes


def test_zoom_pan_and_the_key_list_leave_the_verdict_alone(desk: Page, live_server) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    page = desk
    dataset = DatasetFactory(name="zoom")
    image = image_store(checked=image_check(data=png_bytes((400, 300))))[0]
    item = ItemFactory(dataset=dataset, image=image)
    page.goto(f"{live_server.url}/datasets/{dataset.pk}/review/")
    picture = page.locator(".zoom-frame img")
    expect(picture).to_be_visible()
    pages_before = len(page.context.pages)

    page.keyboard.press("+")
    expect(page.locator("#zoom-level")).to_have_text("125%")
    assert "scale(1.25)" in picture.evaluate("img => img.style.transform")
    page.keyboard.press("Shift+ArrowLeft")  # pans, and leaves the score alone
    assert re.search(r"translate\(-?[\d.]+px", picture.evaluate("img => img.style.transform"))
    assert page.locator("#score").input_value() == ""
    page.locator(".zoom-frame").hover()
    page.mouse.wheel(0, -200)
    expect(page.locator("#zoom-level")).not_to_have_text("125%")
    picture.click()  # zooms where it lands; no new tab
    assert len(page.context.pages) == pages_before
    page.get_by_role("button", name="Fit").click()
    expect(page.locator("#zoom-level")).to_have_text("100%")

    page.keyboard.press("?")
    help_dialog = page.get_by_role("dialog", name="Keys at the desk")
    expect(help_dialog).to_be_visible()
    expect(help_dialog).to_contain_text("skip the item; nothing is recorded")
    page.keyboard.press("Escape")
    expect(help_dialog).to_be_hidden()

    page.keyboard.press("7")
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    expect(page.get_by_text("72", exact=True).first).to_be_visible()
    assert HumanVerdict.objects.get(item=item).score == 72


def test_previous_goes_back_through_the_reviewers_own_verdicts(desk: Page, live_server) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    page = desk
    dataset = DatasetFactory(name="back")
    for n in (1, 2, 3):
        ItemFactory(dataset=dataset, question=f"Question {n}?")
    page.goto(f"{live_server.url}/datasets/{dataset.pk}/review/")
    for n, score in ((1, "40"), (2, "60")):
        expect(page.get_by_text(f"Question {n}?")).to_be_visible()  # the item is in before the keys
        page.keyboard.type(score)
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", name="Your verdict")).to_be_visible()
        page.keyboard.press("n")
    expect(page.get_by_text("Question 3?")).to_be_visible()
    page.keyboard.press("p")  # the last verdict: item 2, as after its reveal
    expect(page.get_by_text("Question 2?")).to_be_visible()
    expect(page.locator("#verdict")).to_have_count(0)  # read-only: no verdict form, the revision is offered
    page.keyboard.press("p")
    expect(page.get_by_text("Question 1?")).to_be_visible()
    page.keyboard.press("p")
    expect(page.get_by_text("No earlier verdict of yours in this dataset.")).to_be_visible()
    assert sorted(HumanVerdict.objects.values_list("score", flat=True)) == [40, 60]


def test_several_pictures_are_all_shown_in_order_and_each_zooms_on_its_own(desk: Page, live_server) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    from tests.factories import item_with_images

    page = desk
    dataset = DatasetFactory(name="several")
    item = item_with_images((220, 20, 20), (20, 20, 220), dataset=dataset)
    page.goto(f"{live_server.url}/datasets/{dataset.pk}/review/")
    pictures = page.locator(".zoom-frame img")
    expect(pictures).to_have_count(2)
    page.wait_for_function("() => [...document.querySelectorAll('.zoom-frame img')].every(i => i.naturalWidth > 0)")
    assert pictures.evaluate_all("imgs => imgs.map(i => i.naturalWidth)") == [64, 72]  # the order stored
    first, second = pictures.nth(0), pictures.nth(1)
    assert first.bounding_box()["y"] < second.bounding_box()["y"]  # type: ignore[index]  # one under the other

    page.keyboard.press("+")
    expect(page.locator("#zoom-level")).to_have_text("125%")
    assert "scale(1.25)" in first.evaluate("img => img.style.transform")
    page.keyboard.press("i")  # the next picture: the keys now zoom it, the first keeps its zoom
    expect(page.locator(".zoomable.current")).to_have_attribute("data-picture", "2")
    expect(page.locator("#zoom-which")).to_have_text("image 2")
    expect(page.locator("#zoom-level")).to_have_text("100%")
    page.keyboard.press("+")
    page.keyboard.press("+")
    assert "scale(1.5625)" in second.evaluate("img => img.style.transform")
    assert "scale(1.25)" in first.evaluate("img => img.style.transform")
    page.locator(".zoom-frame").nth(0).hover()
    page.mouse.wheel(0, 200)  # the wheel zooms the picture under it, which becomes the one outlined
    expect(page.locator(".zoomable.current")).to_have_attribute("data-picture", "1")
    expect(page.locator("#zoom-level")).to_have_text("100%")

    page.keyboard.press("4")
    page.keyboard.press("0")
    page.keyboard.press("Enter")
    expect(page.get_by_text("40", exact=True).first).to_be_visible()
    assert HumanVerdict.objects.get(item=item).score == 40
