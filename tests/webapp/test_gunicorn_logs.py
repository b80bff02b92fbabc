"""The logs under gunicorn with debug off, as production runs it (webapp/gunicorn_conf.py, production settings):
every line once, as JSON; a server error with its traceback, once; a 403 as one line without a traceback."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(port: int, path: str) -> int:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"X-Forwarded-Proto": "https"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310  (http to our own server)
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


@pytest.fixture
def gunicorn(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """gunicorn with the deployment's config and production settings (plus two failing views), stopped after."""
    port, log = free_port(), tmp_path / "gunicorn.log"
    env = os.environ | {
        "DJANGO_SETTINGS_MODULE": "tests.webapp.gunicorn_settings",
        "DJANGO_SECRET_KEY": "a-secret-for-the-log-test",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "1",
        "LOG_LEVEL": "INFO",
    }
    command = [sys.executable, "-m", "gunicorn", "--config", "python:webapp.gunicorn_conf", "webapp.wsgi"]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command, cwd=settings.BASE_DIR, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 60
        while "Booting worker" not in log.read_text():
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        yield port, log
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def records(log: Path) -> list[dict[str, Any]]:
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    return [json.loads(line) for line in lines]  # every line is one JSON object


def test_a_server_error_logs_its_traceback_once_and_a_403_one_line(gunicorn: tuple[int, Path]) -> None:
    port, log = gunicorn
    assert get(port, "/fails/") == 500
    assert get(port, "/refuses/") == 403
    deadline = time.monotonic() + 10
    while log.read_text().count('"gunicorn.access"') < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    entries = records(log)
    text = log.read_text()

    errors = [e for e in entries if e["logger"] == "django.request" and e.get("status_code") == 500]
    assert len(errors) == 1
    assert "RuntimeError: a bug for the log test" in errors[0]["exception"]
    assert text.count("RuntimeError: a bug for the log test") == 1  # the traceback once, nowhere else

    refusals = [e for e in entries if e["logger"] == "django.request" and e.get("status_code") == 403]
    assert len(refusals) == 1
    assert refusals[0]["level"] == "WARNING"
    assert "exception" not in refusals[0]  # one line, no traceback
    assert "Traceback" not in json.dumps(refusals[0])

    access = [e for e in entries if e["logger"] == "gunicorn.access"]
    assert len(access) == 2  # one line per request
    seen = [(e["logger"], e["message"]) for e in entries]
    assert len(seen) == len(set(seen)), "a line was written twice"
