"""Logging in: `next` leads back to a page, never to a POST-only URL such as the logout; a wrong password says so
once."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.factories import DatasetFactory, UserFactory

pytestmark = pytest.mark.django_db


def log_in(next_url: str, password: str = "pass-for-tests") -> tuple[Client, object]:
    UserFactory(username="lena")
    client = Client()
    response = client.post("/accounts/login/", {"username": "lena", "password": password, "next": next_url})
    return client, response


@pytest.mark.parametrize("next_url", ["/accounts/logout/", "/datasets/1/judge/", "/no/such/page/"])
def test_a_next_that_is_not_a_page_leads_home(next_url: str) -> None:
    client, response = log_in(next_url)
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.get(response["Location"], follow=True).status_code == 200


def test_a_next_that_is_a_page_is_where_the_login_leads() -> None:
    dataset = DatasetFactory()
    _, response = log_in(f"/datasets/{dataset.pk}/?tab=items")
    assert response["Location"] == f"/datasets/{dataset.pk}/?tab=items"


def test_a_next_on_another_site_is_ignored() -> None:
    _, response = log_in("https://evil.example/")
    assert response["Location"] == "/"


def test_a_wrong_password_shows_its_error_once() -> None:
    _, response = log_in("/", password="wrong")
    assert response.status_code == 200
    assert response.content.decode().count("Please enter a correct username and password") == 1
