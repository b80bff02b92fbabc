"""`make demo` for real: the script migrates SQLite, loads the demo, runs a Celery worker on the file-system broker
and serves the app; Ctrl-C stops both processes. Run twice, it adds nothing."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.conf import settings

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_demo(var: Path, port: int) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "CELERY_", "REDIS_"))}
    env |= {"CRITIC_DESK_VAR": str(var), "DEMO_PORT": str(port), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        ["scripts/demo.sh"],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, as a terminal gives it; Ctrl-C goes to the group
    )


def wait_for(url: str, proc: subprocess.Popen[str], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        try:
            urllib.request.urlopen(url, timeout=2)  # noqa: S310 - a loopback URL we built
            return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer in {seconds}s")


def ctrl_c(proc: subprocess.Popen[str]) -> str:
    os.killpg(proc.pid, signal.SIGINT)
    out, _ = proc.communicate(timeout=30)
    return out


def group_is_gone(pgid: int, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.2)
    return False


def log_in(base: str, username: str, password: str) -> urllib.request.OpenerDirector:
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
    form = opener.open(f"{base}/accounts/login/").read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form)
    assert token, form
    body = urlencode({"username": username, "password": password, "csrfmiddlewaretoken": token.group(1)})
    opener.open(f"{base}/accounts/login/", data=body.encode())
    return opener


def test_make_demo_serves_the_demo_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start_demo(tmp_path, port)
    try:
        wait_for(f"{base}/accounts/login/", proc)
        # Anonymous visitors land on the login page.
        landing = urllib.request.urlopen(f"{base}/")  # noqa: S310
        assert landing.url.startswith(f"{base}/accounts/login/")
        page = log_in(base, "reviewer", "reviewer-demo-pass").open(f"{base}/").read().decode()
        assert "Demo: shapes, counts and charts" in page
        # The demo critic judges the demo dataset in the background: verdicts arrive on the dataset page.
        reviewer = log_in(base, "reviewer", "reviewer-demo-pass")
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            panel = reviewer.open(f"{base}/datasets/1/critic/").read().decode()
            if "30 done" in panel:
                break
            time.sleep(1)
        assert "30 done" in panel, panel
        assert "random-weight demo critic" in panel
        assert " ready." in (tmp_path / "worker-default.log").read_text()
    finally:
        out = ctrl_c(proc)
    assert "log in as admin / admin-demo-pass" in out
    assert "random-weight demo critic" in out
    assert "Stopped the web server and the workers." in out
    assert proc.returncode is not None
    assert group_is_gone(proc.pid), "the worker outlived Ctrl-C"

    # A second run adds nothing.
    proc = start_demo(tmp_path, port)
    try:
        wait_for(f"{base}/accounts/login/", proc)
    finally:
        out = ctrl_c(proc)
    assert "0 new items" in out
