"""Structured logs for production: one JSON object per line on stdout, for Django, Celery and gunicorn alike, so a
log collector (docker logs, Loki, CloudWatch...) can filter by level, logger or any extra field."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

# The attributes every LogRecord has; anything else on a record came from `extra=` and is logged as a field.
_RECORD_ATTRIBUTES = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """`{"time", "level", "logger", "message", ...extra fields, "exception"}` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
        }
        for key, value in record.__dict__.items():
            if key not in _RECORD_ATTRIBUTES and not key.startswith("_"):
                entry.setdefault(key, value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class ClientErrorsWithoutTraceback(logging.Filter):
    """A 4xx (a 403 raised as PermissionDenied, a 404 as Http404) is the client's doing: one line, no traceback.
    A 5xx keeps its traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if isinstance(status, int) and status < 500 and record.exc_info:
            record.exc_info, record.exc_text = None, None
        return True


# Loggers that gunicorn, Django or Celery configure for themselves: each is set here to no handler of its own and
# to propagate, so that every record reaches the root's one handler once, whichever configuration ran first.
_NAMED = ("django", "django.request", "django.security", "celery", "gunicorn.error", "gunicorn.access")


def logging_config(*, level: str, json_lines: bool) -> dict[str, Any]:
    """A dictConfig with one handler, on the root, writing to stdout: JSON lines (production, gunicorn) or plain
    text (development). Django's LOGGING and gunicorn's logconfig_dict are both this, so each line is written
    once, a server error with its traceback, a 4xx as one line."""
    formatter = {"()": "webapp.logging.JsonFormatter"} if json_lines else {"format": PLAIN_FORMAT}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"client_errors": {"()": "webapp.logging.ClientErrorsWithoutTraceback"}},
        "formatters": {"main": formatter},
        "handlers": {
            "stdout": {
                "class": "logging.StreamHandler",
                "formatter": "main",
                "filters": ["client_errors"],
                "stream": "ext://sys.stdout",
            }
        },
        "root": {"handlers": ["stdout"], "level": level},
        "loggers": {name: {"handlers": [], "level": level, "propagate": True} for name in _NAMED},
    }


PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def json_logging_config(*, level: str) -> dict[str, Any]:
    """Production's LOGGING and gunicorn's logconfig_dict: JSON lines on stdout."""
    return logging_config(level=level, json_lines=True)
