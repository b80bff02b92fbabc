"""Celery tasks: thin. They claim verdict rows, call the engine (loaded once per worker process) and hand the
results to the judging service. Importing this module stays light; torch loads with the first batch."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_ready
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction

from annotations.services import drift, judging, retraining
from annotations.services.import_jobs import import_jobs_sweep

if TYPE_CHECKING:
    from PIL import Image

    from critic_worker.engine import CriticEngine, JudgeRequest, JudgeResult

log = logging.getLogger(__name__)
_engine: tuple[tuple[str, str, str], CriticEngine] | None = None
_engine_lock = threading.Lock()


def engine_for(job: judging.VerdictJob) -> CriticEngine:
    """The model of this job's checkpoint, loaded once per worker process (another checkpoint replaces it)."""
    global _engine
    key = (job.model, job.revision, job.quantization)
    with _engine_lock:
        if _engine is None or _engine[0] != key:
            from critic_worker.engine import CriticEngine

            _engine = None  # free the old model before loading the next
            engine = CriticEngine.load(
                job.model,
                quantization=job.quantization,
                device=settings.CRITIC_DEVICE,
                max_new_tokens=settings.CRITIC_MAX_NEW_TOKENS,
                revision=job.revision or None,
            )
            _engine = (key, engine)
        return _engine[1]


@shared_task(
    bind=True,
    name=judging.JUDGE_TASK,
    acks_late=True,
    autoretry_for=(Exception,),
    dont_autoretry_for=(SoftTimeLimitExceeded,),
    retry_backoff=5,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=5,
)
def judge_batch(self: Any, verdict_ids: list[int]) -> dict[str, int]:
    claim = judging.verdicts_claim(verdict_ids=verdict_ids, worker=self.request.hostname or "worker")
    if not claim.jobs:
        return {"claimed": 0, "done": 0, "failed": 0}  # a repeated message: someone else has them
    try:
        with beating(lambda: judging.verdicts_heartbeat(claim=claim.token), every=settings.CRITIC_HEARTBEAT_EVERY):
            done, failed = _judge_claim(claim)
    except BaseException as exc:
        if self.request.retries >= self.max_retries and not isinstance(exc, SoftTimeLimitExceeded):
            # The same error after every retry: fail the rows with it rather than loop for ever.
            judging.verdicts_fail_claim(claim=claim.token, error=f"failed after {self.max_retries} retries: {exc!r}")
        else:
            # Transient (out of memory, a lost connection, the time limit): give the rows back, then retry.
            judging.verdicts_release(claim=claim.token, error=f"retrying after: {exc!r}")
        raise
    return {"claimed": len(claim.jobs), "done": done, "failed": failed}


def _judge_claim(claim: judging.Claim) -> tuple[int, int]:
    """Judge the claimed verdicts and record them; (done, failed)."""
    done = failed = 0
    for jobs in _by_checkpoint(claim.jobs):
        readable, requests = [], []
        for job in jobs:
            try:
                requests.append(judge_request(job))
                readable.append(job)
            except (OSError, ValueError) as exc:  # the stored picture is gone or unreadable: no retry helps
                failed += judging.verdict_fail(verdict_id=job.verdict_id, claim=claim.token, error=str(exc))
        results = engine_for(jobs[0]).judge(requests) if requests else []
        with transaction.atomic():  # one commit for the batch
            for job, result in zip(readable, results, strict=True):
                if _record(claim.token, job, result):
                    done += result.verdict is not None
                    failed += result.verdict is None
    return done, failed


@dataclass(frozen=True)
class InlineProgress:
    judged: int  # verdicts finished so far (done or failed)
    done: int
    failed: int
    total: int


def judge_inline(
    *, verdict_ids: list[int], worker: str, batch_size: int, on_batch: Callable[[InlineProgress], None] | None = None
) -> InlineProgress:
    """Judge queued verdicts here, in this process, batch by batch, through the worker's own claim and record (the
    database stays the source of truth: rows someone else took are skipped, and a batch that raises is given back to
    the queue before the error propagates)."""
    done = failed = 0
    size = max(1, batch_size)
    for start in range(0, len(verdict_ids), size):
        claim = judging.verdicts_claim(verdict_ids=verdict_ids[start : start + size], worker=worker)
        try:
            batch_done, batch_failed = _judge_claim(claim) if claim.jobs else (0, 0)
        except BaseException as exc:
            judging.verdicts_release(claim=claim.token, error=f"inline judging stopped: {exc!r}")
            raise
        done, failed = done + batch_done, failed + batch_failed
        if on_batch is not None:
            on_batch(InlineProgress(done + failed, done, failed, len(verdict_ids)))
    return InlineProgress(done + failed, done, failed, len(verdict_ids))


def item_images(job: judging.VerdictJob) -> list[Image.Image]:
    """The item's pictures as the critic receives them (RGB, in order, before the processor's resizing): the one
    place the worker and ``critic_input`` read them. A blank-image probe gets white pictures of the same sizes (the
    rendition's header gives the size). OSError when the file is gone, ValueError when unreadable."""
    from PIL import Image, UnidentifiedImageError

    pictures = []
    for n, path in enumerate(job.image_paths, start=1):
        if not path:
            which = "the image" if len(job.image_paths) == 1 else f"image {n} of {len(job.image_paths)}"
            raise FileNotFoundError(f"{which} has no normalised rendition (its original could not be read)")
        try:
            with Image.open(path) as im:
                if job.blank_image:
                    pictures.append(Image.new("RGB", im.size, "white"))
                    continue
                im.load()
                pictures.append(im.convert("RGB"))
        except (UnidentifiedImageError, SyntaxError) as exc:
            raise ValueError(f"unreadable image: {exc}") from None
        except OSError as exc:
            if Path(path).exists():
                raise ValueError(f"unreadable image: {exc}") from None
            raise
    return pictures


def judge_request(job: judging.VerdictJob) -> JudgeRequest:
    """The engine's request for a job: its pictures (``item_images``) and the texts the profile is filled with."""
    from critic_worker.engine import JudgeRequest

    if not job.image_paths:
        raise FileNotFoundError("the item has no image")
    return JudgeRequest(
        images=item_images(job),
        profile=job.profile,
        question=job.question,
        response_a=job.response_a,
        response_b=job.response_b,
        reference=job.reference,
        context=job.context,
    )


def verdict_result(result: JudgeResult) -> judging.VerdictResult:
    """What the services store of the engine's result for one item (one that has a verdict)."""
    assert result.verdict is not None
    return judging.VerdictResult(
        score=result.verdict.score,
        preference=result.verdict.preference,
        confidence=result.confidence,
        probabilities=result.probabilities,
        expected_score=result.expected_score,
        justification=result.verdict.justification,
        raw_output=result.raw_output,
        forced=result.forced,
        latency_ms=result.latency_ms,
        prompt=result.prompt,
    )


def _record(claim: str, job: judging.VerdictJob, result: JudgeResult) -> bool:
    if result.verdict is None:  # the item itself cannot be judged (an unknown profile)
        return judging.verdict_fail(verdict_id=job.verdict_id, claim=claim, error=result.error)
    return judging.verdict_record(
        verdict_id=job.verdict_id, claim=claim, swapped=job.swapped, result=verdict_result(result)
    )


def _by_checkpoint(jobs: list[judging.VerdictJob]) -> list[list[judging.VerdictJob]]:
    groups: dict[int, list[judging.VerdictJob]] = {}
    for job in jobs:
        groups.setdefault(job.checkpoint_id, []).append(job)
    return list(groups.values())


@shared_task(
    bind=True,
    name=retraining.RETRAIN_TASK,
    acks_late=False,  # the job row says whether it ran: a redelivered message would only find it running
    soft_time_limit=settings.RETRAIN_TIME_LIMIT,
    time_limit=settings.RETRAIN_TIME_LIMIT + 60,
)
def retrain(self: Any, job_id: int) -> dict[str, Any]:
    """Run a queued retraining job once (a repeated message finds it taken), its worker's heartbeat beside it. Thin:
    the training is critic_worker.training, every decision is in annotations.services.retraining."""
    plan = retraining.retraining_job_start(job_id=job_id)
    if plan is None:
        return {"started": False}
    worker = (self.request.hostname if self.request else None) or "worker"
    _drop_engine()  # the judging model makes room for training; judging gold loads what it needs
    try:
        with heartbeat(job_id=job_id):
            return _retrain(plan, job_id=job_id, worker=worker)
    except Exception as exc:
        log.exception("retraining job %s failed", job_id)
        reason = " ".join(exc.messages) if isinstance(exc, ValidationError) else f"{type(exc).__name__}: {exc}"
        retraining.retraining_job_fail(job_id=job_id, error=reason)
        return {"started": True, "status": "failed"}


HEARTBEAT_EVERY = 60.0  # seconds; the sweeper fails a job silent for CRITIC_STUCK_AFTER


@contextmanager
def heartbeat(*, job_id: int, every: float = HEARTBEAT_EVERY) -> Iterator[None]:
    """While the block runs, the retraining job's worker says it is alive every `every` seconds."""
    with beating(lambda: retraining.retraining_job_heartbeat(job_id=job_id), every=every, name=f"retrain-{job_id}"):
        yield


@contextmanager
def beating(beat: Callable[[], object], *, every: float, name: str = "verdicts") -> Iterator[None]:
    """While the block runs, a thread calls `beat` every `every` seconds to tell the database this worker is alive:
    loading a 7B model or a long batch can be silent for long, and a worker that died says nothing at all."""
    stop = threading.Event()

    def run() -> None:
        try:
            while not stop.wait(every):
                beat()
        finally:
            connection.close()  # this thread's own connection

    thread = threading.Thread(target=run, name=f"{name}-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _retrain(plan: retraining.RetrainPlan, *, job_id: int, worker: str) -> dict[str, Any]:
    """Fine-tune, register the child, judge gold with the child and the parent, then gate."""
    from critic_worker.training import TrainOptions, read_training_rows, train_lora

    rows = read_training_rows(plan.export_path, plan.export_format, image_folder=plan.export_image_folder)
    retraining.retraining_gold_leak_check(dataset_id=plan.dataset_id, row_ids=[row.id for row in rows])
    options = TrainOptions(**plan.options, quantization=plan.quantization, device=settings.CRITIC_DEVICE)
    losses: list[float] = []
    last_write = 0.0

    def on_step(step: int, total: int, loss: float) -> None:
        nonlocal last_write
        losses.append(loss)
        if step == total or time.monotonic() - last_write > 1:  # at most one write a second
            retraining.retraining_job_progress(job_id=job_id, losses=losses, total=total)
            last_write = time.monotonic()

    result = train_lora(plan.base_model, rows, plan.out_dir, options=options, on_step=on_step)
    child = retraining.retraining_child_register(
        job_id=job_id,
        adapter_dir=str(result.adapter_dir),
        merged_dir=str(result.merged_dir) if result.merged_dir else None,
    )
    for checkpoint_id in (plan.base_id, child.pk):
        _judge_gold(dataset_id=plan.dataset_id, checkpoint_id=checkpoint_id, worker=worker)
    job = retraining.retraining_job_evaluate(job_id=job_id)
    return {"started": True, "status": job.status, "child": child.pk, "gate_passed": job.gate_passed}


def _drop_engine() -> None:
    global _engine
    with _engine_lock:
        _engine = None


def _judge_gold(*, dataset_id: int, checkpoint_id: int, worker: str) -> None:
    """Judge the gold items this checkpoint has no verdict on, here, in batches; a batch that raises is given back
    to the queue (the sweeper wakes a worker for it) before the error fails the job."""
    ids = retraining.gold_verdicts_prepare(dataset_id=dataset_id, checkpoint_id=checkpoint_id)
    size = max(1, settings.CRITIC_BATCH_SIZE)
    for start in range(0, len(ids), size):
        claim = judging.verdicts_claim(verdict_ids=ids[start : start + size], worker=worker)
        try:
            _judge_claim(claim)
        except BaseException as exc:
            judging.verdicts_release(claim=claim.token, error=f"retraining's gold judging stopped: {exc!r}")
            raise


@shared_task(name="critic_worker.tasks.sweep_stuck_verdicts")
def sweep_stuck_verdicts() -> int:
    requeued = judging.verdicts_sweep()
    if requeued:
        log.warning(
            "requeued %d verdicts (worker silent past %ss, or message lost past %ss)",
            requeued,
            settings.CRITIC_HEARTBEAT_TIMEOUT,
            settings.CRITIC_STUCK_AFTER,
        )
    if swept := retraining.retraining_jobs_sweep():
        log.warning("swept %d retraining jobs (lost worker or message)", swept)
    if swept := import_jobs_sweep():
        log.warning("swept %d import jobs (lost worker or message)", swept)
    if swept := drift.drift_audits_sweep():
        log.warning("woke %d drift audits (lost worker or message)", swept)
    return requeued


@worker_ready.connect
def sweep_at_start(**_: Any) -> None:
    """A worker that starts after a crash finds the verdicts the dead one held."""
    sweep_stuck_verdicts()
