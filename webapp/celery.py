"""The Celery app. Queues are named here, once: `critic` for GPU work (one model per worker process), `default`
for everything else (imports, exports, metrics, the sweeper)."""

from __future__ import annotations

import logging.config
import os
from typing import Any

from celery import Celery
from celery.signals import setup_logging
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings.base")

CRITIC_QUEUE = "critic"
DEFAULT_QUEUE = "default"

app = Celery("webapp")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = (Queue(DEFAULT_QUEUE), Queue(CRITIC_QUEUE))
app.conf.task_default_queue = DEFAULT_QUEUE
app.conf.task_routes = {
    "critic_worker.tasks.judge_batch": {"queue": CRITIC_QUEUE},
    "critic_worker.tasks.retrain": {"queue": CRITIC_QUEUE},
    "critic_worker.tasks_drift.drift_audit_run": {"queue": CRITIC_QUEUE},
}
app.autodiscover_tasks()
app.autodiscover_tasks(["critic_worker"], related_name="tasks_drift")


@setup_logging.connect
def _log_through_django(**_: Any) -> None:
    """Workers log through the settings' LOGGING (JSON lines on stdout in production), not Celery's own setup."""
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)
