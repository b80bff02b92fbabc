"""Logging in through the app's own login page, as a person does."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.factories import PASSWORD


def fill_login(page: Page, username: str, *, password: str = PASSWORD) -> None:
    """On the login page the browser shows (with whatever `next` led it there): type the name and password, log in."""
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def log_in(page: Page, base_url: str, username: str, *, password: str = PASSWORD) -> None:
    """Open the login page, log in, and wait for the page it leads to (Datasets)."""
    page.goto(f"{base_url}/accounts/login/")
    fill_login(page, username, password=password)
    expect(page.get_by_role("heading", name="Datasets")).to_be_visible()
