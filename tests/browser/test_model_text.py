"""Responses in a real browser: markdown and math (KaTeX from the app's own static files) as the critic's text means
them, and one key that shows every text's exact characters, on the desk and the item page, for the session."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.login import log_in
from tests.factories import DatasetFactory, ItemFactory, UserFactory

RESPONSE = "The volume is 2*3*4 = 24 and $e_{it}$ grows as \\(a^2\\).\n\n**Bold** <b>not bold</b>"
QUESTION = "What is the volume of the box?"


@pytest.fixture
def reviewer(page: Page, live_server, transactional_db) -> Page:  # type: ignore[no-untyped-def]
    UserFactory(username="rita")
    log_in(page, live_server.url, "rita")
    return page


def test_math_renders_and_the_raw_view_is_exact_on_the_desk_and_the_item_page(reviewer: Page, live_server) -> None:  # type: ignore[no-untyped-def]
    page = reviewer
    external: list[str] = []
    page.on("request", lambda r: external.append(r.url) if not r.url.startswith(live_server.url) else None)
    dataset = DatasetFactory()
    item = ItemFactory(dataset=dataset, question=QUESTION, response_a=RESPONSE)
    page.goto(f"{live_server.url}/datasets/{dataset.pk}/review/")
    response = page.locator(".response-card .model-text")

    # rendered: the arithmetic keeps its asterisks, both math spans are typeset by KaTeX, markup stays text
    expect(response.locator(".katex")).to_have_count(2)
    expect(response).to_contain_text("2*3*4 = 24")
    expect(response.locator("strong")).to_have_text("Bold")
    expect(response).to_contain_text("<b>not bold</b>")
    expect(response.locator(".math.inline").first.locator("annotation")).to_have_text("e_{it}")

    # raw: R shows the exact characters of every text on the desk, and says how to go back
    page.keyboard.press("r")
    expect(response.locator("pre.raw")).to_have_text(RESPONSE)
    expect(page.locator(".item-text > .model-text pre.raw")).to_have_text(QUESTION)
    expect(response.locator(".md")).to_be_hidden()
    expect(page.get_by_role("button", name="Show rendered")).to_be_visible()

    # kept for the session: a reload, then the item page, still show raw text
    page.reload()
    expect(page.locator(".response-card .model-text pre.raw")).to_have_text(RESPONSE)
    page.goto(f"{live_server.url}/items/{item.pk}/")
    expect(page.locator(".response-card .model-text pre.raw")).to_have_text(RESPONSE)

    # the item page renders like the desk, and its button switches back
    page.get_by_role("button", name="Show rendered").click()
    item_response = page.locator(".response-card .model-text")
    expect(item_response.locator(".katex")).to_have_count(2)
    expect(item_response.locator("pre.raw")).to_have_count(0)
    expect(item_response).to_contain_text("2*3*4 = 24")
    assert external == []  # KaTeX, its fonts and styles come from the app itself


def test_pages_with_model_text_have_no_inline_scripts_or_handlers(reviewer: Page, live_server) -> None:  # type: ignore[no-untyped-def]
    # A Content-Security-Policy that allows only the app's own files would block any of these.
    dataset = DatasetFactory()
    item = ItemFactory(dataset=dataset, response_a=RESPONSE)
    for path in (f"/datasets/{dataset.pk}/review/", f"/items/{item.pk}/"):
        html = reviewer.request.get(f"{live_server.url}{path}").text()
        assert "katex.min.js" in html
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), path
        assert not re.search(r"\son[a-z]+\s*=", html.replace("&lt;", "")), path
