"""New items reach the critic: uploads and imports queue them for the active critic when the dataset says so."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.test import Client
from django.urls import reverse

from annotations.models import CriticVerdict
from annotations.services.imports import items_import
from annotations.services.items import item_create
from tests.factories import CheckpointFactory, DatasetFactory, ItemFactory, PairwiseItemFactory
from tests.images import png_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def broker():  # type: ignore[no-untyped-def]
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.flushdb()
    yield client
    client.flushdb()


def _rows(tmp_path: Path, n: int) -> Path:
    path = tmp_path / "rows.jsonl"
    image = "data:image/png;base64," + __import__("base64").b64encode(png_bytes()).decode()
    lines = [json.dumps({"id": f"r{i}", "image": image, "question": "Q?", "response": f"A{i}."}) for i in range(n)]
    path.write_text("\n".join(lines))
    return path


def test_an_upload_is_queued_for_the_active_critic_and_wakes_a_worker(
    broker, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    critic = CheckpointFactory(is_active=True)
    dataset = DatasetFactory()
    with django_capture_on_commit_callbacks(execute=True):
        item = item_create(dataset=dataset, image_data=png_bytes(), question="Q?", response_a="A.")
    assert list(item.critic_verdicts.values_list("checkpoint", "status")) == [(critic.pk, "queued")]
    assert broker.llen("critic") == 1


def test_an_import_queues_its_items_and_says_so(tmp_path: Path, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    critic = CheckpointFactory(name="critic-v2", is_active=True)
    dataset = DatasetFactory()
    with django_capture_on_commit_callbacks(execute=True):
        report = items_import(dataset=dataset, path=_rows(tmp_path, 3))
    assert report.ok, report.problems
    assert (report.queued, report.queued_for) == (3, "critic-v2")
    assert "3 items queued for the critic critic-v2" in report.summary()
    assert CriticVerdict.objects.filter(checkpoint=critic, status="queued").count() == 3


def test_a_dataset_can_keep_new_items_waiting(tmp_path: Path) -> None:
    CheckpointFactory(is_active=True)
    dataset = DatasetFactory(judge_new_items=False)
    item_create(dataset=dataset, image_data=png_bytes(), question="Q?", response_a="A.")
    report = items_import(dataset=dataset, path=_rows(tmp_path, 2))
    assert report.queued == 0
    assert "queued" not in report.summary()
    assert not CriticVerdict.objects.exists()


def test_without_a_critic_nothing_is_queued_and_failed_verdicts_are_not_retried_behind_a_back(settings) -> None:  # type: ignore[no-untyped-def]
    settings.CRITIC_MODEL = ""
    dataset = DatasetFactory()
    item_create(dataset=dataset, image_data=png_bytes(), question="Q?", response_a="A.")
    assert not CriticVerdict.objects.exists()
    critic = CheckpointFactory(is_active=True)
    failed = ItemFactory(dataset=dataset)
    failed.critic_verdicts.create(checkpoint=critic, profile="pointwise", status="failed", error="out of memory")
    item_create(dataset=dataset, image_data=png_bytes((40, 30)), question="Q2?", response_a="B.")
    assert failed.critic_verdicts.get().status == "failed"  # left for a person to retry


def test_the_dataset_page_says_where_new_items_go_and_the_swap_check_state(admin_client: Client) -> None:
    CheckpointFactory(is_active=True)
    pointwise_only = DatasetFactory()
    ItemFactory(dataset=pointwise_only)
    page = admin_client.get(reverse("dataset-detail", args=[pointwise_only.pk])).content.decode()
    assert "New items go to the critic as they arrive." in page
    assert "swap check" not in page.lower()  # nothing to check without pairwise items

    pair = PairwiseItemFactory()
    other = PairwiseItemFactory(dataset=pair.dataset)
    page = admin_client.get(reverse("dataset-detail", args=[pair.dataset.pk])).content.decode()
    assert "Queue a swap check of 2 pairwise items" in page
    admin_client.post(reverse("dataset-swap-check", args=[pair.dataset.pk]))
    page = admin_client.get(reverse("dataset-detail", args=[pair.dataset.pk])).content.decode()
    assert "0 of 2 pairwise items done · 2 pending" in page
    assert "Swap probe (position bias" in page  # the probe form's swap is this line: its progress is here
    assert "Queue a swap check" not in page  # cannot be queued twice
    assert 'hx-trigger="every 2s"' in page  # follows the checks while they run
    CriticVerdict.objects.filter(probe="swap", item=other).update(status="done", preference="A")
    CriticVerdict.objects.filter(probe="swap", item=pair).update(status="failed")
    page = admin_client.get(reverse("dataset-detail", args=[pair.dataset.pk])).content.decode()
    assert "1 of 2 pairwise items done" in page
    assert "Retry 1 failed swap check" in page
