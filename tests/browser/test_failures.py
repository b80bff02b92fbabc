"""Failures people see, in a real browser: an expired session at the desk leads to the login page and back with the
unsent verdict kept; a stale CSRF token says so and offers a retry; 403 pages are inside the layout with the reason;
and the main pages run under the Content-Security-Policy without a single violation."""

from __future__ import annotations

import pytest
from django.contrib.sessions.models import Session
from django.core.cache import cache
from playwright.sync_api import Page, expect

from annotations.models import HumanVerdict
from tests.browser.login import fill_login, log_in
from tests.factories import CheckpointFactory, DatasetFactory, ItemFactory, PairwiseItemFactory, UserFactory

# Collects CSP violations the page reports (the event fires on the document for blocked scripts, styles, images).
WATCH_CSP = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolations.push(e.violatedDirective + " " + e.blockedURI + " " + (e.sourceFile || ""));
});
"""


@pytest.fixture
def reviewer_page(page: Page, live_server, transactional_db) -> Page:  # type: ignore[no-untyped-def]
    UserFactory(username="rita")
    log_in(page, live_server.url, "rita")
    return page


def test_an_expired_session_leads_to_the_login_and_back_with_the_verdict_kept(
    reviewer_page: Page,
    live_server,  # type: ignore[no-untyped-def]
) -> None:
    page = reviewer_page
    dataset = DatasetFactory(name="arena")
    item = PairwiseItemFactory(dataset=dataset)
    page.goto(f"{live_server.url}/datasets/{dataset.pk}/review/")
    desk_url = page.url
    page.get_by_label("B", exact=False).first.check()
    page.locator("#rationale").fill("B names the bars correctly.")

    Session.objects.all().delete()  # the session expires while the reviewer thinks
    cache.clear()
    page.get_by_role("button", name="Submit").click()

    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    assert "next=" in page.url
    assert "/review/" in page.url  # back to the desk, not to the fragment's URL
    assert page.locator("#desk").count() == 0  # a whole page, not the login form swapped into the desk
    fill_login(page, "rita")
    expect(page.locator("#rationale")).to_have_value("B names the bars correctly.")
    assert page.url.split("?")[0] == desk_url.split("?")[0]
    expect(page.locator("input[name=preference][value=B]")).to_be_checked()

    page.get_by_role("button", name="Submit").click()
    expect(page.locator("#reveal")).to_be_visible()
    verdict = HumanVerdict.objects.get(item=item)
    assert (verdict.preference, verdict.rationale) == ("B", "B names the bars correctly.")
    assert page.evaluate("Object.keys(sessionStorage).filter(k => k.includes('unsent')).length") == 0


def test_a_stale_csrf_token_says_so_and_offers_a_retry(reviewer_page: Page, live_server) -> None:  # type: ignore[no-untyped-def]
    page = reviewer_page
    dataset = DatasetFactory(name="arena")
    PairwiseItemFactory(dataset=dataset)
    page.goto(f"{live_server.url}/datasets/{dataset.pk}/review/")
    page.get_by_label("A", exact=False).first.check()

    other = page.context.new_page()  # another tab: log out and in again (a new CSRF token)
    other.goto(f"{live_server.url}/")
    other.get_by_role("button", name="Log out").click()
    log_in(other, live_server.url, "rita")
    other.close()

    page.get_by_role("button", name="Submit").click()
    flash = page.locator("#flash")
    expect(flash).to_be_visible()
    expect(flash).to_contain_text("security token is out of date")
    expect(flash).to_have_attribute("role", "alert")
    flash.get_by_role("button", name="Reload and retry").click()
    expect(page.locator("input[name=preference][value=A]")).to_be_checked()  # kept across the reload
    page.get_by_role("button", name="Submit").click()
    expect(page.locator("#reveal")).to_be_visible()
    assert HumanVerdict.objects.get().preference == "A"


def test_a_403_page_is_inside_the_layout_with_the_reason(reviewer_page: Page, live_server) -> None:  # type: ignore[no-untyped-def]
    page = reviewer_page
    response = page.goto(f"{live_server.url}/exports/")
    assert response is not None
    assert response.status == 403
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    expect(page.get_by_text("Only administrators can do this.")).to_be_visible()
    expect(page.get_by_role("link", name="Datasets").first).to_be_visible()  # the app's own header


def test_the_main_pages_run_under_the_csp_without_a_violation(
    page: Page,
    live_server,
    transactional_db,  # type: ignore[no-untyped-def]
) -> None:
    UserFactory(username="ada", is_staff=True, is_superuser=True)
    CheckpointFactory(is_active=True)
    dataset = DatasetFactory(name="arena")
    item = ItemFactory(dataset=dataset, question="Is $\\frac{a}{b} = x^2$?")  # KaTeX (vendored) renders it
    PairwiseItemFactory(dataset=dataset, image=item.image)
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    page.add_init_script(WATCH_CSP)
    page.goto(f"{live_server.url}/accounts/login/")
    assert page.evaluate("window.__cspViolations") == [], "the login page"
    fill_login(page, "ada")
    expect(page.get_by_role("heading", name="Datasets")).to_be_visible()
    for path in (
        "/",
        f"/datasets/{dataset.pk}/",
        f"/datasets/{dataset.pk}/review/",
        f"/datasets/{dataset.pk}/metrics/",
        f"/items/{item.pk}/",
        "/history/",
        "/exports/",
        "/retraining/",
        "/account/",
        f"/datasets/{dataset.pk}/items/",
        "/users/",
        "/profiles/",
        "/profile/pairwise/",
        "/profiles/new/?from=wildvision",
        # The Django admin's own scripts and styles (its static files, no inline code) run under the same policy.
        "/admin/",
        "/admin/annotations/item/",
        f"/admin/annotations/item/{item.pk}/change/",
        "/admin/auth/user/add/",
        "/api/docs",
    ):
        response = page.goto(f"{live_server.url}{path}")
        assert response is not None
        assert "script-src 'self'" in (response.headers.get("content-security-policy") or ""), path
        page.wait_for_load_state("networkidle")
        assert page.evaluate("window.__cspViolations") == [], path
        if path == f"/items/{item.pk}/":
            expect(page.locator(".katex").first).to_be_visible()
    assert [text for text in console if "Content Security Policy" in text] == []
