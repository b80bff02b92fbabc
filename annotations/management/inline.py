"""Judging queued verdicts in a command's own process, one progress line per batch: `judge --inline` and
`probe --inline` share it."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Any


def judge_here(write: Callable[[str], Any], *, verdict_ids: list[int], batch_size: int) -> tuple[Any, float]:
    """Judge these queued verdicts here (critic_worker.tasks.judge_inline, as worker "inline@<host>"), writing each
    batch's progress with `write`. Returns judge_inline's outcome and the seconds it took."""
    from critic_worker.tasks import InlineProgress, judge_inline  # torch loads with the first batch

    started = time.perf_counter()

    def report(progress: InlineProgress) -> None:
        write(
            f"  {progress.judged}/{progress.total} judged (done {progress.done}, failed {progress.failed}), "
            f"{time.perf_counter() - started:.1f} s"
        )

    outcome = judge_inline(
        verdict_ids=verdict_ids, worker=f"inline@{socket.gethostname()}", batch_size=batch_size, on_batch=report
    )
    return outcome, time.perf_counter() - started
