"""The compose deployment without Docker (there is no engine on the test machines): the very commands
docker-compose.yml gives its services, run here with the production settings on PostgreSQL and Redis — the one-shot
migrate, gunicorn, two critic workers on the one `critic` queue (as `--scale critic=2` makes) and the CPU worker
with the sweeper's schedule. Both critic workers take part in judging a dataset; one SIGKILLed mid-run loses
nothing: the sweeper hands its verdicts to the other, and every verdict ends done once."""

from __future__ import annotations

import http.client
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import yaml
from django.conf import settings
from django.db import connection

from annotations.models import CriticVerdict, Dataset
from tests.factories import DatasetFactory, ItemFactory, PairwiseItemFactory
from tests.integration.conftest import Worker

pytestmark = pytest.mark.integration

ROOT = Path(settings.BASE_DIR)
SERVICES = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
HOST = "critic.example.org"
STUCK_AFTER = 6  # seconds: heartbeat silence (and a queued message's wait) after which verdicts are taken back


def local(command: list[str]) -> list[str]:
    """A compose command as this machine runs it: the image's `celery`/`gunicorn`/`python` are this virtualenv's."""
    program, *args = command
    return [sys.executable, *args] if program == "python" else [sys.executable, "-m", program, *args]


def replace_option(command: list[str], name: str, value: str) -> list[str]:
    """The same command with another value for one option (a container's path or host name that differs here)."""
    at = command.index(name) + 1
    return [*command[:at], value, *command[at + 1 :]]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


class Browser:
    """HTTP as the TLS proxy forwards it: the public Host, X-Forwarded-Proto https, and the session's cookies
    (which production marks Secure, so a plain-HTTP cookie jar would not send them back)."""

    def __init__(self, port: int) -> None:
        self.port, self.cookies = port, SimpleCookie()
        self.set_cookies: list[str] = []

    def request(self, method: str, path: str, form: dict[str, str] | None = None) -> tuple[int, Any, str]:
        headers = {"Host": HOST, "X-Forwarded-Proto": "https"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{key}={morsel.value}" for key, morsel in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form)
            headers |= {"Content-Type": "application/x-www-form-urlencoded", "Origin": f"https://{HOST}"}
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            for header in response.headers.get_all("Set-Cookie") or []:
                self.set_cookies.append(header)
                self.cookies.load(header)
            return response.status, response.headers, response.read().decode()
        finally:
            conn.close()

    def post_form(self, path: str, form: dict[str, str], page: str) -> tuple[int, Any, str]:
        """Submit a form the way a browser does: with the CSRF token of the page that shows it."""
        _, _, html = self.request("GET", page)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
        assert token, html
        return self.request("POST", path, {**form, "csrfmiddlewaretoken": token.group(1)})


@pytest.fixture
def deploy_env(tmp_path: Path, media_root: Path, tiny_critic_path: Path) -> dict[str, str]:
    """What .env plus the compose file give every Django service, pointed at this machine's test services."""
    db = connection.settings_dict
    return {
        "DJANGO_SETTINGS_MODULE": "webapp.settings.production",
        "DJANGO_SECRET_KEY": "a-long-random-production-secret-for-the-deploy-smoke-test-0123456789",
        "DJANGO_ALLOWED_HOSTS": HOST,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "REDIS_URL": settings.REDIS_URL,
        "MEDIA_ROOT": str(media_root),
        "STATIC_ROOT": str(tmp_path / "static"),
        "CRITIC_DESK_VAR": str(tmp_path / "var"),
        "CRITIC_MODEL": str(tiny_critic_path),
        "CRITIC_QUANTIZATION": "none",  # nf4 runs on a CPU too (tests/critic_worker), but slowly
        "CRITIC_DEVICE": "cpu",
        "CRITIC_BATCH_SIZE": "2",
        # Long enough generations (about 1 s a batch) that a batch is running when a worker is killed, even while a
        # loaded machine polls the database slowly (at 96 tokens, 0.25 s a batch, every window was missed once).
        "CRITIC_MAX_NEW_TOKENS": "384",
        "PYTHONUNBUFFERED": "1",
        "CRITIC_HEARTBEAT_EVERY": "1",  # a running batch is stamped each second, so a dead worker shows soon
        "OMP_NUM_THREADS": "1",  # two critic processes share this machine's cores: no oversubscribed torch threads
    }


def run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(local(command), cwd=ROOT, env=os.environ | env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def start_web(tmp_path: Path) -> Iterator[Callable[[dict[str, str]], tuple[Worker, int]]]:
    servers: list[Worker] = []

    def start(env: dict[str, str]) -> tuple[Worker, int]:
        port, log = free_port(), tmp_path / "gunicorn.log"
        server_env = os.environ | env | {"GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_WORKERS": "2"}
        with log.open("wb") as out:
            proc = subprocess.Popen(
                local(SERVICES["web"]["command"]),
                cwd=ROOT,
                env=server_env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        servers.append(Worker(proc, log))
        return servers[-1], port

    yield start
    for server in servers:
        server.stop()


def healthy(port: int, env: dict[str, str]) -> bool:
    """The web service's compose healthcheck, run against this gunicorn."""
    probe = [*SERVICES["web"]["healthcheck"]["test"][1:-1], f"http://127.0.0.1:{port}/healthz"]
    return subprocess.run(local(probe), cwd=ROOT, env=os.environ | env, capture_output=True).returncode == 0


def dataset_with_items(name: str, count: int) -> Dataset:
    dataset = DatasetFactory(name=name)
    image = ItemFactory(dataset=dataset).image
    for i in range(count - 1):
        (PairwiseItemFactory if i % 2 else ItemFactory)(dataset=dataset, image=image)
    return dataset


def verdicts(dataset: Dataset) -> list[CriticVerdict]:
    return list(CriticVerdict.objects.filter(item__dataset=dataset).order_by("pk"))


def statuses(dataset: Dataset) -> dict[str, int]:
    found = [v.status for v in verdicts(dataset)]
    return {s: found.count(s) for s in ("queued", "running", "done", "failed")}


def test_scaled_critic_workers_behind_gunicorn_share_the_queue_and_lose_nothing(
    start_worker: Callable[..., Worker],
    start_web: Callable[[dict[str, str]], tuple[Worker, int]],
    deploy_env: dict[str, str],
    tmp_path: Path,
) -> None:
    first = dataset_with_items("first run", 8)
    second = dataset_with_items("second run", 16)
    # Two replicas of the critic service (they boot while the one-shot commands below run).
    critic = SERVICES["critic"]["command"]
    critics = {
        name: start_worker(name, command=local(replace_option(critic, "--hostname", f"{name}@%h")), **deploy_env)
        for name in ("critic-1", "critic-2")
    }

    # The image build's collectstatic, then the one-shot migrate service (the schema exists: nothing to apply).
    collected = run(["python", "manage.py", "collectstatic", "--noinput"], deploy_env)
    assert collected.returncode == 0, collected.stderr
    migrated = run(SERVICES["migrate"]["command"], deploy_env)
    assert migrated.returncode == 0, migrated.stderr
    assert "No migrations to apply." in migrated.stdout
    # The first administrator, as README's deployment section makes it (production's password hasher, not the tests').
    admin_env = deploy_env | {"DJANGO_SUPERUSER_USERNAME": "ops", "DJANGO_SUPERUSER_PASSWORD": "ops-smoke-test-pass"}
    created = run(["python", "manage.py", "createsuperuser", "--noinput", "--email", "ops@example.org"], admin_env)
    assert created.returncode == 0, created.stderr

    web, port = start_web(deploy_env)
    for worker in critics.values():
        worker.wait_ready()
    wait_until(lambda: web.proc.poll() is None and healthy(port, deploy_env), 60, "gunicorn's health check")

    # Through gunicorn, as behind the proxy: log in, open the dataset, press "Run critic".
    browser = Browser(port)
    status, headers, _ = browser.request("GET", "/healthz")
    assert status == 200
    status, headers, _ = browser.post_form(
        "/accounts/login/", {"username": "ops", "password": "ops-smoke-test-pass"}, page="/accounts/login/"
    )
    assert status == 302, "login failed"
    assert any(c.startswith("sessionid=") and "Secure" in c and "HttpOnly" in c for c in browser.set_cookies)
    assert "max-age=31536000" in headers["Strict-Transport-Security"]
    status, _, page = browser.request("GET", f"/datasets/{first.pk}/")
    assert status == 200
    assert "first run" in page
    stylesheet = re.search(r'href="(/static/[^"]+\.css)"', page)
    assert stylesheet, "no hashed stylesheet link"
    assert browser.request("GET", stylesheet.group(1))[0] == 200  # whitenoise serves the collected file
    status, _, _ = browser.post_form(f"/datasets/{first.pk}/judge/", {}, page=f"/datasets/{first.pk}/")
    assert status == 302

    # Both workers take part; every verdict is done exactly once.
    wait_until(lambda: statuses(first)["done"] == 8, 90, "the first dataset judged")
    assert statuses(first) == {"queued": 0, "running": 0, "done": 8, "failed": 0}
    assert {v.worker.split("@")[0] for v in verdicts(first)} == {"critic-1", "critic-2"}
    assert {v.attempts for v in verdicts(first)} == {1}
    panel = browser.request("GET", f"/datasets/{first.pk}/critic/")[2]
    assert "8 done" in panel

    # The CPU worker with the sweeper's schedule. Started only now, with a short CRITIC_STUCK_AFTER, so that it does
    # not take back the first batches, which include loading the model (production's default is over an hour).
    schedule = str(tmp_path / "celerybeat-schedule")
    cpu_command = local(replace_option(SERVICES["worker"]["command"], "--schedule", schedule))
    sweeper = {
        "CRITIC_STUCK_AFTER": str(STUCK_AFTER),
        "CRITIC_HEARTBEAT_TIMEOUT": str(STUCK_AFTER),
        "CRITIC_SWEEP_EVERY": "1",
    }
    cpu = start_worker("default", command=cpu_command, **(deploy_env | sweeper))
    cpu.wait_ready()

    # Second run, queued from the command line (`docker compose run --rm web python manage.py judge ...`);
    # critic-1 is killed with a batch in hand.
    queued = run(["python", "manage.py", "judge", "--dataset", "second run"], deploy_env)
    assert queued.returncode == 0, queued.stderr
    assert "Queued 16 items" in queued.stdout

    def held_by_critic_1() -> set[int]:
        running = [v for v in verdicts(second) if v.status == "running" and v.worker.startswith("critic-1@")]
        return {v.pk for v in running} if statuses(second)["done"] >= 2 else set()

    orphaned = critics["critic-1"].kill_holding(held_by_critic_1, 60)
    finished = {v.pk: (v.worker, v.score, v.preference, v.finished_at) for v in verdicts(second) if v.status == "done"}

    wait_until(lambda: statuses(second)["done"] == 16, STUCK_AFTER + 90, "the second dataset judged by critic-2")
    assert statuses(second) == {"queued": 0, "running": 0, "done": 16, "failed": 0}
    after = {v.pk: v for v in verdicts(second)}
    for pk in orphaned:  # taken back by the sweeper and judged again by the survivor
        assert after[pk].worker.startswith("critic-2@")
        assert after[pk].attempts >= 2
    for pk, before in finished.items():  # nothing finished was written again
        v = after[pk]
        assert (v.worker, v.score, v.preference, v.finished_at) == before
    assert "requeued" in cpu.text()
    assert "Traceback" not in critics["critic-2"].text()
    assert "Traceback" not in web.text()
