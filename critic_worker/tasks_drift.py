"""The drift audit task: thin. It takes a queued audit, loads the checkpoint at each of the audit's quantizations in
turn (through the worker's one cached engine, so the previous model is freed first), judges the sampled items and
hands each verdict to annotations.services.drift. ``run_drift_audit`` is also what ``manage.py drift --inline``
calls, in its own process."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from celery import shared_task
from django.conf import settings

from annotations.services import drift
from critic_worker import tasks

if TYPE_CHECKING:
    from critic_worker.engine import CriticEngine

log = logging.getLogger(__name__)


@shared_task(bind=True, name=drift.DRIFT_TASK, acks_late=False)
def drift_audit_run(self: Any, audit_id: int) -> dict[str, Any]:
    """Run a queued audit once (a repeated message finds it taken)."""
    worker = (self.request.hostname if self.request else None) or "worker"
    return run_drift_audit(audit_id=audit_id, worker=worker)


def run_drift_audit(
    *, audit_id: int, worker: str, on_stage: Callable[[str, int, dict[str, Any]], None] | None = None
) -> dict[str, Any]:
    """Judge what is left of the audit, quantization by quantization. `on_stage(quantization, judged, loaded)` is
    called after each. A quantization the checkpoint cannot be loaded at is recorded as unavailable, with the
    reason, and the others still run; any other error fails the audit with its reason (finished verdicts stay)."""
    plan = drift.drift_audit_start(audit_id=audit_id, worker=worker)
    if plan is None:
        return {"started": False}
    try:
        with tasks.beating(
            lambda: drift.drift_audit_heartbeat(audit_id=audit_id), every=settings.CRITIC_HEARTBEAT_EVERY
        ):
            for stage in plan.stages:
                judged, loaded = _run_stage(audit_id, stage)
                if on_stage is not None:
                    on_stage(stage.quantization, judged, loaded)
    except Exception as exc:
        log.exception("drift audit %s failed", audit_id)
        drift.drift_audit_fail(audit_id=audit_id, error=f"{type(exc).__name__}: {exc}")
        return {"started": True, "status": "failed"}
    drift.drift_audit_finish(audit_id=audit_id)
    return {"started": True, "status": "done"}


def _run_stage(audit_id: int, stage: drift.DriftStage) -> tuple[int, dict[str, Any]]:
    drift.drift_stage_begin(audit_id=audit_id, quantization=stage.quantization)
    try:
        engine = tasks.engine_for(stage.jobs[0])
    except Exception as exc:  # bitsandbytes or the device refuses this quantization: say so, run the others
        reason = f"{type(exc).__name__}: {exc}".strip()
        drift.drift_stage_unavailable(audit_id=audit_id, quantization=stage.quantization, reason=reason)
        return 0, {"unavailable": reason}
    loaded = loaded_as(engine)
    drift.drift_stage_loaded(audit_id=audit_id, quantization=stage.quantization, loaded=loaded)
    size = max(1, settings.CRITIC_BATCH_SIZE)
    judged = 0
    for start in range(0, len(stage.jobs), size):
        batch, requests = [], []
        for job in stage.jobs[start : start + size]:
            try:
                requests.append(tasks.judge_request(job))
                batch.append(job)
            except (OSError, ValueError) as exc:  # the stored picture is gone or unreadable: no retry helps
                judged += drift.drift_verdict_fail(verdict_id=job.verdict_id, error=str(exc))
        for job, result in zip(batch, engine.judge(requests) if requests else [], strict=True):
            if result.verdict is None:
                judged += drift.drift_verdict_fail(verdict_id=job.verdict_id, error=result.error)
                continue
            judged += drift.drift_verdict_record(verdict_id=job.verdict_id, result=tasks.verdict_result(result))
    return judged, loaded


def loaded_as(engine: CriticEngine) -> dict[str, Any]:
    """How the model is held in memory: the class of its language model's linear layers (Linear4bit for nf4,
    Linear8bitLt for int8, Linear in full precision), its memory footprint in bytes, and its device."""
    model = engine.model
    decoder = model.get_decoder() if hasattr(model, "get_decoder") else model
    layer = next((type(m).__name__ for m in decoder.modules() if "Linear" in type(m).__name__), "")
    return {"linear_layers": layer, "memory_bytes": int(model.get_memory_footprint()), "device": str(engine.device)}
