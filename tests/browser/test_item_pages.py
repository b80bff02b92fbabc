"""A reviewer in a real browser: log in, browse a dataset, upload an item, see it shown safely."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from annotations.models import Item
from tests.browser.login import fill_login
from tests.factories import DatasetFactory, ItemFactory, UserFactory
from tests.images import png_bytes

XSS = '<script>window.__owned = 1</script><img src=x onerror="window.__owned = 1">'


@pytest.fixture
def logged_in(page: Page, live_server, transactional_db) -> Page:  # type: ignore[no-untyped-def]
    UserFactory(username="rita")
    page.goto(f"{live_server.url}/")
    expect(page).to_have_url(f"{live_server.url}/accounts/login/?next=/")
    fill_login(page, "rita")
    expect(page.get_by_role("heading", name="Datasets")).to_be_visible()
    return page


def test_upload_a_pairwise_item_and_see_it_escaped(logged_in: Page, live_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    page = logged_in
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    dataset = DatasetFactory(name="arena votes")
    image = tmp_path / "chart.png"
    image.write_bytes(png_bytes((120, 80)))

    page.goto(f"{live_server.url}/")
    page.get_by_role("link", name="arena votes").click()
    page.get_by_role("link", name="Upload an item").click()
    page.get_by_label("Image").set_input_files(str(image))
    page.get_by_label("Question").fill("Which bar is tallest?")
    page.get_by_label("Response:", exact=True).fill("Bar B. " + XSS)
    page.get_by_label("Model that wrote it").fill("llava-1.5-7b")
    page.get_by_label("Second response").fill("Bar D.")
    page.get_by_label("Model that wrote the second").fill("gpt-4o-mini")
    page.get_by_role("button", name="Upload").click()

    expect(page.get_by_text("added to arena votes")).to_be_visible()
    expect(page.get_by_text(XSS)).to_be_visible()  # the markup is shown as text
    assert page.evaluate("window.__owned") is None
    assert dialogs == []
    expect(page.get_by_text("Response B")).to_be_visible()
    # The image arrives through the access-checked view, at its real size.
    page.wait_for_function(
        "() => { const i = document.querySelector('.item-image img'); return i && i.complete && i.naturalWidth > 0; }"
    )
    assert page.locator(".item-image img").evaluate("img => img.naturalWidth") == 120
    assert Item.objects.get(dataset=dataset).kind == "pairwise"


def test_a_bad_image_is_named_next_to_the_field(logged_in: Page, live_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    page = logged_in
    dataset = DatasetFactory()
    fake = tmp_path / "photo.jpg"
    fake.write_text("this is not a JPEG")
    page.goto(f"{live_server.url}/datasets/{dataset.pk}/items/new/")
    page.get_by_label("Image").set_input_files(str(fake))
    page.get_by_label("Question").fill("What is it?")
    page.get_by_label("Response:", exact=True).fill("A cat.")
    page.get_by_role("button", name="Upload").click()
    expect(page.locator(".errorlist")).to_contain_text("not an image")
    assert not Item.objects.exists()


def test_search_updates_the_table_in_place(logged_in: Page, live_server) -> None:  # type: ignore[no-untyped-def]
    page = logged_in
    dataset = DatasetFactory()
    ItemFactory(dataset=dataset, external_id="apple", question="Is this an apple?")
    ItemFactory(dataset=dataset, external_id="pear", question="Is this a pear?")
    page.goto(f"{live_server.url}/datasets/{dataset.pk}/")
    page.evaluate("window.__same_page = true")
    expect(page.get_by_text("2 items")).to_be_visible()
    page.get_by_role("searchbox").fill("pear")
    expect(page.get_by_text("1 item", exact=True)).to_be_visible()
    expect(page.get_by_text("Is this a pear?")).to_be_visible()
    expect(page.get_by_text("Is this an apple?")).to_have_count(0)
    assert page.evaluate("window.__same_page") is True  # swapped by htmx, not reloaded
    assert "q=pear" in page.url
