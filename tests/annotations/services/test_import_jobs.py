"""Import jobs whose worker was lost: the sweeper fails them (nothing of theirs was written) and wakes workers
for imports whose message was lost."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import redis
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from annotations.models import ImportJob
from annotations.services import import_jobs
from tests.factories import DatasetFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_the_sweeper_fails_imports_whose_worker_was_lost_and_wakes_workers_for_waiting_ones(settings) -> None:  # type: ignore[no-untyped-def]
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)  # the test broker, a real Redis database
    broker.flushdb()
    settings.CELERY_TASK_TIME_LIMIT, settings.CRITIC_STUCK_AFTER = 60, 30
    dataset, user = DatasetFactory(), UserFactory()
    long_ago = timezone.now() - timedelta(seconds=500)
    upload = default_storage.save("imports/lost/items.jsonl", ContentFile(b'{"id": "1"}\n'))

    def job(**fields) -> ImportJob:  # type: ignore[no-untyped-def]
        return ImportJob.objects.create(**{"dataset": dataset, "created_by": user, "data_file": "x.jsonl", **fields})

    lost = job(status="running", started_at=long_ago, data_file=upload)
    alive = job(status="running", started_at=timezone.now())
    waiting = job()
    fresh = job()
    ImportJob.objects.filter(pk=waiting.pk).update(created_at=long_ago)

    assert import_jobs.import_jobs_sweep() == 2
    lost.refresh_from_db()
    assert lost.status == "failed"
    assert "upload the file again" in lost.error
    assert lost.finished_at is not None
    assert not default_storage.exists(upload)  # its upload goes, as after any import
    assert ImportJob.objects.get(pk=alive.pk).status == "running"
    assert ImportJob.objects.get(pk=fresh.pk).status == "queued"
    messages = [json.loads(m) for m in broker.lrange("default", 0, -1)]
    assert [(m["headers"]["task"], m["headers"]["argsrepr"]) for m in messages] == [
        (import_jobs.IMPORT_TASK, f"[{waiting.pk}]")
    ]
    assert import_jobs.import_jobs_sweep() == 1  # the failed one stays failed; the waiting one is woken again
    broker.flushdb()


def test_a_started_import_records_when_it_started(tmp_path) -> None:  # type: ignore[no-untyped-def]
    dataset, user = DatasetFactory(), UserFactory()
    upload = default_storage.save("imports/started/items.jsonl", ContentFile(b"not json\n"))
    job = ImportJob.objects.create(dataset=dataset, created_by=user, data_file=upload, format="jsonl")
    before = timezone.now()
    finished = import_jobs.import_job_run(job_id=job.pk)
    assert finished is not None
    assert finished.started_at is not None
    assert before <= finished.started_at <= finished.finished_at  # type: ignore[operator]


def test_an_import_racing_another_upload_of_the_same_ids_fails_with_the_reason(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Two writers add the same new id at once (an upload lands after the import checked its ids, before it wrote):
    the database's unique rule refuses the import's write; the job fails saying so and writes nothing, rather than
    raising in the worker and waiting for the sweeper to call it lost."""
    from annotations.models import Item
    from annotations.services import imports
    from tests.factories import ItemFactory
    from tests.images import png_bytes

    dataset, user = DatasetFactory(), UserFactory()
    checked = imports._check_existing

    def check_then_race(*args, **kwargs):  # type: ignore[no-untyped-def]
        checked(*args, **kwargs)
        ItemFactory(dataset=dataset, external_id="q-race")  # the other writer, just after the check

    monkeypatch.setattr(imports, "_check_existing", check_then_race)
    import base64

    uri = "data:image/png;base64," + base64.b64encode(png_bytes()).decode()
    rows = [
        {"id": "q-race", "image": uri, "question": "q?", "response": "r"},
        {"id": "q-other", "image": uri, "question": "q?", "response": "s"},
    ]
    data = "".join(json.dumps(row) + "\n" for row in rows).encode()
    upload = default_storage.save("imports/race/items.jsonl", ContentFile(data))
    job = ImportJob.objects.create(dataset=dataset, created_by=user, data_file=upload, format="jsonl")
    finished = import_jobs.import_job_run(job_id=job.pk)
    assert finished is not None
    assert finished.status == "failed"
    assert "came in meanwhile" in finished.error
    assert "some of its ids added" in finished.error
    assert list(Item.objects.filter(dataset=dataset).values_list("external_id", flat=True)) == ["q-race"]
