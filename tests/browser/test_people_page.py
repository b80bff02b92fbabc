"""An administrator invites a reviewer from the People page; the reviewer sets a password through the link."""

from __future__ import annotations

from playwright.sync_api import Browser, Page, expect

from tests.browser.login import fill_login, log_in
from tests.factories import AdminFactory


def test_invite_copy_the_link_and_the_reviewer_sets_a_password(
    page: Page, browser: Browser, live_server, transactional_db
) -> None:  # type: ignore[no-untyped-def]
    AdminFactory(username="ada")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    log_in(page, live_server.url, "ada")
    page.get_by_role("link", name="People").click()
    expect(page.get_by_role("heading", name="People")).to_be_visible()

    page.get_by_label("User name").fill("newcomer")
    page.get_by_role("button", name="Add").click()
    expect(page.get_by_text("newcomer is invited as a reviewer")).to_be_visible()
    link = page.get_by_label("One-time link").input_value()
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == link

    guest = browser.new_context().new_page()
    guest.goto(link)
    expect(guest.get_by_role("heading", name="Choose a password")).to_be_visible()
    guest.get_by_label("New password:", exact=True).fill("a-fresh-pass-77")
    guest.get_by_label("New password confirmation").fill("a-fresh-pass-77")
    guest.get_by_role("button", name="Set my password").click()
    guest.get_by_role("link", name="Log in").click()
    fill_login(guest, "newcomer", password="a-fresh-pass-77")
    expect(guest.get_by_role("heading", name="Datasets")).to_be_visible()
    expect(guest.get_by_role("link", name="People")).to_have_count(0)

    page.reload()
    expect(page.locator("tr", has_text="newcomer").get_by_text("invited")).to_have_count(0)
