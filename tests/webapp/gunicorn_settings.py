"""Production settings plus two views that fail on purpose, for the log test under gunicorn."""

from __future__ import annotations

from webapp.settings.production import *  # noqa: F403

ROOT_URLCONF = "tests.webapp.failing_urls"
