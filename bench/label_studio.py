"""Label Studio beside Critic Desk, for the benchmarks' ratios: started from its own venv on 127.0.0.1:8089 with
its default SQLite and a known API token (as in shared/reference/anchors.md), stopped afterwards."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

BASE = "http://127.0.0.1:8089"
Api = Callable[[str, str, Any], Any]


@contextmanager
def label_studio(venv: Path, work: Path) -> Iterator[Api]:
    """A running Label Studio; yields `api(method, path, json_body)` for its REST API."""
    token = secrets.token_hex(20)
    data = work / "label-studio"
    data.mkdir()
    # Label Studio is a Django app too: none of this project's settings may leak into it.
    mine = ("DJANGO_", "DATABASE_URL", "CELERY_", "CRITIC_", "MEDIA_ROOT", "REDIS_URL")
    env = {k: v for k, v in os.environ.items() if not k.startswith(mine)}
    server = subprocess.Popen(
        [
            str(venv / "bin" / "label-studio"),
            "start",
            "--no-browser",
            "--internal-host",
            "127.0.0.1",
            "-p",
            "8089",
            "--username",
            "bench@example.org",
            "--password",
            secrets.token_hex(8),
            "--user-token",
            token,
            "--enable-legacy-api-token",
            "--log-level",
            "WARNING",
        ],
        env={**env, "LABEL_STUDIO_BASE_DATA_DIR": str(data), "HOME": str(data)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}

    def api(method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(BASE + path, method=method, headers=headers, data=data)
        return json.loads(urllib.request.urlopen(request, timeout=600).read() or b"null")

    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                urllib.request.urlopen(BASE + "/health", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("Label Studio did not start in 3 minutes") from None
                time.sleep(1)
        yield api
    finally:
        server.terminate()
        server.wait(timeout=30)
