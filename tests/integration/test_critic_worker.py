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
    # A dead worker's batch is lost once its heartbeat is silent for CRITIC_HEARTBEAT_TIMEOUT.
    slow = {
        "CRITIC_BATCH_SIZE": "4",
        "CRITIC_MAX_NEW_TOKENS": "300",
        "CRITIC_STUCK_AFTER": "3",
        "CRITIC_HEARTBEAT_EVERY": "1",
        "CRITIC_HEARTBEAT_TIMEOUT": "3",
    }
    first = start_worker("critic-a", **slow)
    first.wait_ready()

    queued = judging.verdicts_queue(dataset=dataset, checkpoint=judging.checkpoint_resolve())
    assert (queued.queued, queued.batches) == (24, 6)

    def running_after_a_batch() -> set[int]:
        running = CriticVerdict.objects.filter(status="running").values_list("pk", flat=True)
        return set(running) if counts()["done"] >= 4 else set()

    orphaned = first.kill_holding(running_after_a_batch, 120)
    done_before = {v.pk: (v.score, v.preference, v.finished_at) for v in CriticVerdict.objects.filter(status="done")}

    time.sleep(3.5)  # past CRITIC_HEARTBEAT_TIMEOUT: the next worker's start-up sweep takes the orphans back
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


@pytest.fixture(scope="session")
def tiny_qwen_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from critic_worker.tiny import build_tiny_critic

    return build_tiny_critic(tmp_path_factory.mktemp("integration-qwen"), arch="qwen2.5-vl")


def test_a_qwen2_5_vl_critic_judges_through_a_real_worker(start_worker, tiny_qwen_path: Path, settings) -> None:  # type: ignore[no-untyped-def]
    """Not only LLaVA: a Qwen2.5-VL checkpoint, quantized as configured, judged end to end by a worker process
    with its own chat template; each verdict records the prompt the critic was given."""
    settings.CRITIC_MODEL = str(tiny_qwen_path)
    dataset = DatasetFactory()
    image = ItemFactory(dataset=dataset).image
    for i in range(5):
        (PairwiseItemFactory if i % 2 else ItemFactory)(dataset=dataset, image=image)
    worker = start_worker("critic-qwen", CRITIC_MODEL=str(tiny_qwen_path), CRITIC_MAX_NEW_TOKENS="16")
    worker.wait_ready()
    checkpoint = judging.checkpoint_resolve()
    assert checkpoint.model == str(tiny_qwen_path)
    assert judging.verdicts_queue(dataset=dataset, checkpoint=checkpoint).queued == 6
    wait_until(lambda: counts()["done"] == 6, 180, "every verdict done")
    for verdict in CriticVerdict.objects.select_related("item"):
        assert sum(verdict.probabilities.values()) == pytest.approx(1.0, abs=1e-4)
        assert verdict.prompt.startswith(
            "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
        )
        assert verdict.prompt.count("<|vision_start|><|image_pad|><|vision_end|>") == 1
        assert verdict.item.question in verdict.prompt
        assert verdict.worker.startswith("critic-qwen@")
    assert "Traceback" not in worker.text()
