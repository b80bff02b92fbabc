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
