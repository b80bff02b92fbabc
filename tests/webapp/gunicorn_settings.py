"""Production settings plus two views that fail on purpose, for the log test under gunicorn."""

from __future__ import annotations

from webapp.settings.production import *  # noqa: F403

ROOT_URLCONF = "tests.webapp.failing_urls"
# No collectstatic in the test run: plain static names, so that the error pages (in the layout) render.
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405
