"""A lost critic worker is noticed in seconds, not after the hour's time limit: its running verdicts stop
beating, the periodic sweeper (celery beat) hands them on, and a second worker judges them. Measured: the time
from SIGKILL to the orphans requeued, and to every verdict done."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from annotations.models import CriticVerdict
from annotations.services import judging
from tests.factories import DatasetFactory, ItemFactory, PairwiseItemFactory

pytestmark = pytest.mark.integration

HEARTBEAT_EVERY, HEARTBEAT_TIMEOUT, SWEEP_EVERY = 1, 4, 2  # seconds; production: 30, 120, 60
SLACK = 3.0  # seconds: a sweep's own run, the database, a loaded test machine


def wait_until(condition: Callable[[], bool], seconds: float, what: str) -> float:
    start = deadline = time.monotonic()
    deadline += seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
    return time.monotonic() - start


def test_a_killed_workers_verdicts_are_handed_on_within_the_heartbeat_timeout(
    start_worker,
    tiny_critic_path: Path,
    tmp_path: Path,
    settings,  # type: ignore[no-untyped-def]
) -> None:
    settings.CRITIC_MODEL, settings.CRITIC_BATCH_SIZE = str(tiny_critic_path), 4
    dataset = DatasetFactory()
    image = ItemFactory(dataset=dataset).image
    for i in range(7):
        (PairwiseItemFactory if i % 2 else ItemFactory)(dataset=dataset, image=image)
    env = {
        "CRITIC_BATCH_SIZE": "4",
        "CRITIC_MAX_NEW_TOKENS": "300",  # long generations: a batch is still running when the worker dies
        "CRITIC_HEARTBEAT_EVERY": str(HEARTBEAT_EVERY),
        "CRITIC_HEARTBEAT_TIMEOUT": str(HEARTBEAT_TIMEOUT),
        "CRITIC_SWEEP_EVERY": str(SWEEP_EVERY),
        "CRITIC_STUCK_AFTER": "3600",  # the old rule alone would wait an hour
    }
    first = start_worker("critic-a", **env)
    second = start_worker("critic-b", **env)
    sweeper = start_worker(
        "sweeper",
        queue="default",
        command=[
            *(sys.executable, "-m", "celery", "-A", "webapp", "worker", "-Q", "default", "--pool=solo"),
            *("-B", "--schedule", str(tmp_path / "beat-schedule"), "--hostname", "sweeper@%h"),
            *("--loglevel", "INFO", "--without-mingle", "--without-gossip"),
        ],
        **env,
    )
    for worker in (first, second, sweeper):
        worker.wait_ready()
    queued = judging.verdicts_queue(dataset=dataset, checkpoint=judging.checkpoint_resolve())
    assert (queued.queued, queued.batches) == (8, 2)

    def held_by_first() -> set[int]:
        rows = CriticVerdict.objects.filter(status="running", worker__startswith="critic-a@")
        return set(rows.values_list("pk", flat=True))

    orphaned = first.kill_holding(held_by_first, 120)
    killed_at = time.monotonic()

    def requeued() -> bool:
        return not CriticVerdict.objects.filter(pk__in=orphaned, worker__startswith="critic-a@", status="running")

    to_requeue = wait_until(requeued, 60, "the orphans handed on")
    try:
        wait_until(lambda: CriticVerdict.objects.filter(status="done").count() == 8, 400, "every verdict done")
    except AssertionError:
        rows = list(CriticVerdict.objects.values_list("pk", "status", "worker", "attempts", "heartbeat_at"))
        raise AssertionError(f"{rows}\n{second.text()[-3000:]}\n{sweeper.text()[-3000:]}") from None
    to_done = time.monotonic() - killed_at
    print(f"SIGKILL -> orphans requeued {to_requeue:.1f}s, -> every verdict done {to_done:.1f}s")

    assert to_requeue <= HEARTBEAT_TIMEOUT + SWEEP_EVERY + SLACK
    assert CriticVerdict.objects.exclude(status="done").count() == 0
    for verdict in CriticVerdict.objects.filter(pk__in=orphaned):
        assert verdict.worker.startswith("critic-b@")
        assert verdict.attempts == 2
    assert "requeued" in sweeper.text()
    assert "Traceback" not in second.text() + sweeper.text()
