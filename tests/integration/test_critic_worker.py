"""A real critic worker process on Redis judges a dataset; killed with SIGKILL mid-batch, another takes over,
and every verdict ends done exactly once."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from annotations.models import CriticVerdict
from annotations.services import judging
from tests.factories import DatasetFactory, ItemFactory, PairwiseItemFactory

pytestmark = pytest.mark.integration


def wait_until(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def counts() -> dict[str, int]:
    return {s: CriticVerdict.objects.filter(status=s).count() for s in ("queued", "running", "done", "failed")}


def test_a_killed_worker_loses_no_verdict_and_none_is_written_twice(
    start_worker,
    tiny_critic_path: Path,
    settings,  # type: ignore[no-untyped-def]
) -> None:
    settings.CRITIC_MODEL, settings.CRITIC_BATCH_SIZE = str(tiny_critic_path), 4
    dataset = DatasetFactory()
    image = ItemFactory(dataset=dataset).image
    for i in range(23):
        (PairwiseItemFactory if i % 2 else ItemFactory)(dataset=dataset, image=image)
    # Long generations, so that a batch is still running when the worker dies.
    slow = {"CRITIC_BATCH_SIZE": "4", "CRITIC_MAX_NEW_TOKENS": "300", "CRITIC_STUCK_AFTER": "3"}
    first = start_worker("critic-a", **slow)
    first.wait_ready()

    queued = judging.verdicts_queue(dataset=dataset, checkpoint=judging.checkpoint_resolve())
    assert (queued.queued, queued.batches) == (24, 6)
    wait_until(lambda: counts()["done"] >= 4 and counts()["running"] > 0, 120, "a batch done and one running")
    first.kill()
    orphaned = set(CriticVerdict.objects.filter(status="running").values_list("pk", flat=True))
    assert orphaned, "the worker should have died holding a batch"
    done_before = {v.pk: (v.score, v.preference, v.finished_at) for v in CriticVerdict.objects.filter(status="done")}

    time.sleep(3.5)  # past CRITIC_STUCK_AFTER: the next worker's start-up sweep takes the orphans back
    second = start_worker("critic-b", **slow)
    second.wait_ready()
    wait_until(lambda: counts()["done"] == 24, 180, "every verdict done")

    assert counts() == {"queued": 0, "running": 0, "done": 24, "failed": 0}
    verdicts = {v.pk: v for v in CriticVerdict.objects.all()}
    for pk in orphaned:  # judged again by the second worker, after the first one's attempt
        assert verdicts[pk].worker.startswith("critic-b@")
        assert verdicts[pk].attempts == 2
    for pk, before in done_before.items():  # what the first worker finished was not written again
        v = verdicts[pk]
        assert (v.score, v.preference, v.finished_at) == before
        assert v.worker.startswith("critic-a@")
        assert v.attempts == 1
    assert "requeued" in second.text()
    assert "Traceback" not in second.text()
