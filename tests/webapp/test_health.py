"""/healthz: the container health check. No login, no data: "ok" while the database answers."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_healthz_answers_without_a_login() -> None:
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.content == b"ok\n"
    assert "no-cache" in response["Cache-Control"]


def test_healthz_only_reads() -> None:
    assert Client().post("/healthz").status_code == 405


def test_the_favicon_is_served_to_anyone(client) -> None:  # type: ignore[no-untyped-def]
    from pathlib import Path

    from django.contrib.staticfiles import finders

    response = client.get("/favicon.ico")
    assert response.status_code == 302
    assert response["Location"].endswith("annotations/favicon.svg")
    assert "<svg" in Path(str(finders.find("annotations/favicon.svg"))).read_text()
