"""Real worker processes for the integration tests: the same `celery worker` command production runs, on the
test database (committed data: transactional tests) and the test Redis broker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection

from critic_worker.tiny import build_tiny_critic


@pytest.fixture(scope="session")
def tiny_critic_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_critic(tmp_path_factory.mktemp("integration-critic"))


@pytest.fixture
def broker() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.flushdb()
    yield client
    client.flushdb()


class Worker:
    def __init__(self, proc: subprocess.Popen[bytes], log: Path) -> None:
        self.proc, self.log = proc, log

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_ready(self, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while " ready." not in self.text():
            assert self.proc.poll() is None, self.text()
            assert time.monotonic() < deadline, f"worker not ready in {seconds}s:\n{self.text()}"
            time.sleep(0.2)

    def kill(self) -> None:
        """SIGKILL the whole process group: no warm shutdown, no chance to hand anything back."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def kill_holding(self, held: Callable[[], set[int]], seconds: float) -> set[int]:
        """SIGKILL the worker while it holds verdicts; returns `held()` as it was at the kill.

        The worker is frozen (SIGSTOP) before `held()` is read, so that the batch cannot finish between looking
        and killing, as it did on a slow CI machine; if it holds nothing once frozen, it runs on and we wait again.
        """
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if held():
                os.killpg(self.proc.pid, signal.SIGSTOP)
                holding = held()
                if holding:
                    self.kill()
                    return holding
                os.killpg(self.proc.pid, signal.SIGCONT)
            time.sleep(0.05)
        raise AssertionError(f"the worker held no verdicts in {seconds}s:\n{self.text()[-3000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def start_worker(
    transactional_db: None, broker: redis.Redis, media_root: Path, tmp_path: Path, tiny_critic_path: Path
) -> Iterator[Callable[..., Worker]]:
    workers: list[Worker] = []
    db = connection.settings_dict

    def start(name: str, queue: str = "critic", command: list[str] | None = None, **env: str) -> Worker:
        """A worker on `queue`; `command` replaces the whole command line (the deployment test runs compose's)."""
        log = tmp_path / f"{name}.log"
        environment = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "webapp.settings.test",
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "MEDIA_ROOT": str(media_root),
            "CRITIC_MODEL": str(tiny_critic_path),
            "CRITIC_DEVICE": "cpu",
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        # The critic worker's pool: one task thread (torch runs ~35% slower in the main thread; see BENCHMARKS).
        pool = ["--pool=threads", "--concurrency=1"] if queue == "critic" else ["--pool=solo"]
        command = command or [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "webapp",
            "worker",
            "-Q",
            queue,
            *pool,
            "--hostname",
            f"{name}@%h",
            "--loglevel",
            "INFO",
            "--without-mingle",
            "--without-gossip",
        ]
        with log.open("wb") as out:
            proc = subprocess.Popen(
                command,
                cwd=settings.BASE_DIR,
                env=environment,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        worker = Worker(proc, log)
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()
