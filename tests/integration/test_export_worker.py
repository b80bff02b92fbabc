"""An export asked for on the page is written by a real `default` worker process; the page follows it to the end."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from annotations.models import JobStatus, TrainingExport
from critic_worker.profiles import PROFILES
from tests.export_world import build_export_world
from tests.factories import AdminFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_worker_writes_the_export_the_page_asked_for(start_worker: Callable[..., object], media_root: Path) -> None:
    world = build_export_world()
    worker = start_worker("exports", queue="default")
    worker.wait_ready()  # type: ignore[attr-defined]
    client = Client()
    client.force_login(AdminFactory(username="ada"))
    response = client.post(reverse("export-new"), {"dataset": world["dataset"].pk, "format": "llava-json"})
    assert response.status_code == 302
    export = TrainingExport.objects.get()
    page = reverse("export-detail", args=[export.pk])
    deadline = time.monotonic() + 60
    while b"hx-trigger" in client.get(page, HTTP_HX_REQUEST="true").content:
        assert time.monotonic() < deadline, worker.text()  # type: ignore[attr-defined]
        time.sleep(0.3)
    export.refresh_from_db()
    assert export.status == JobStatus.DONE, export.error
    rows = json.loads((media_root / export.path / "train.json").read_text())
    assert {r["id"] for r in rows} == set(world["expected"])
    for row in rows:
        spec = PROFILES[row["id"].rsplit("__", 1)[1]]
        assert spec.parse(row["conversations"][1]["value"]) == world["expected"][row["id"]]
    assert b"4 rows" in client.get(page).content
