"""Production: debug off, a secret key and allowed hosts required, secure cookies and headers behind a proxy."""

from __future__ import annotations

import os

from django.core.exceptions import ImproperlyConfigured

os.environ["DJANGO_DEBUG"] = "false"

from webapp.logging import json_logging_config

from .base import *  # noqa: F403
from .base import env_bool, env_int, env_list

if not os.environ.get("DJANGO_ALLOWED_HOSTS"):
    raise ImproperlyConfigured("DJANGO_ALLOWED_HOSTS must be set in production.")

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
X_FRAME_OPTIONS = "DENY"
# Only needed when the proxy does not pass the public Host header on: e.g. "https://critic.example.org".
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", "")

# Static files: collected at image build time, served by whitenoise with hashed names and pre-compressed copies.
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# Logs: JSON lines on stdout for the container runtime to collect (Celery workers use this too: webapp/celery.py).
LOGGING = json_logging_config(level=os.environ.get("LOG_LEVEL", "INFO"))
