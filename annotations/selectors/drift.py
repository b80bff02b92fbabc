"""Reads of drift audits: a checkpoint's audits and each one's report (what annotations/trust/drift.py computes from
the audit's verdicts, per pair of quantizations). The JSON of the checkpoint page, `manage.py drift --json` and
`GET /api/checkpoints/{name}/drift` is `drift_report`'s."""

from __future__ import annotations

from collections import Counter
from itertools import combinations
from typing import Any

from django.db.models import Count, QuerySet

from annotations.models import CriticCheckpoint, DriftAudit, DriftVerdict, JobStatus, Kind
from annotations.trust.drift import pairwise_drift, pointwise_drift

FAILURES_SHOWN = 20


def drift_audit_list(*, checkpoint: CriticCheckpoint) -> QuerySet[DriftAudit]:
    return DriftAudit.objects.filter(checkpoint=checkpoint).select_related("dataset", "checkpoint", "created_by")


def drift_audit_running(*, checkpoint: CriticCheckpoint) -> bool:
    return DriftAudit.objects.filter(checkpoint=checkpoint, status__in=[JobStatus.QUEUED, JobStatus.RUNNING]).exists()


def drift_report(*, audit: DriftAudit) -> dict[str, Any]:
    """The audit and its figures: {id, checkpoint, checkpoint_quantization, dataset, status, stage, error,
    quantizations, reference, sample_size, items, seed, created_at, finished_at, progress: {q: {queued, done,
    failed}}, loaded: {q: {linear_layers, memory_bytes, device} | {unavailable}}, unavailable: {q: reason},
    pairs: [{reference, other, unavailable?, pointwise: {n, pearson, mean_abs_difference, flip_rate},
    pairwise: {n, cohen_kappa, flip_rate, confusion_matrix}}], failures: [{item, quantization, error}]}.
    Items are paired only where both quantizations gave a verdict; pairs are every two of the audit's
    quantizations, full precision (when audited) as the reference."""
    rows = DriftVerdict.objects.filter(audit=audit)
    progress: dict[str, Counter[str]] = {q: Counter() for q in audit.quantizations}
    for quantization, status, count in _status_counts(rows):
        progress.setdefault(quantization, Counter())[status] += count
    verdicts: dict[str, dict[str, dict[int, Any]]] = {q: {Kind.POINTWISE: {}, Kind.PAIRWISE: {}} for q in progress}
    done = rows.filter(status=JobStatus.DONE).values_list(
        "item_id", "item__kind", "quantization", "score", "preference"
    )
    for item_id, kind, quantization, score, preference in done:
        verdicts[quantization][kind][item_id] = score if kind == Kind.POINTWISE else preference
    unavailable = {q: str(v["unavailable"]) for q, v in audit.loaded.items() if "unavailable" in v}
    pairs = [
        _pair(reference, other, verdicts, unavailable) for reference, other in combinations(audit.quantizations, 2)
    ]
    failures = rows.filter(status=JobStatus.FAILED).select_related("item").order_by("quantization", "item_id")
    items = rows.values("item_id").distinct().count()
    return {
        "id": audit.pk,
        "checkpoint": audit.checkpoint.name,
        "checkpoint_quantization": audit.checkpoint.quantization,
        "dataset": audit.dataset.name,
        "status": audit.status,
        "stage": audit.stage,
        "error": audit.error,
        "quantizations": list(audit.quantizations),
        "reference": audit.quantizations[0],
        "sample_size": audit.sample_size,
        "items": items,
        "seed": audit.seed,
        "created_at": audit.created_at.isoformat(),
        "finished_at": audit.finished_at.isoformat() if audit.finished_at else None,
        "progress": {
            q: {s: int(c[s]) for s in (JobStatus.QUEUED, JobStatus.DONE, JobStatus.FAILED)} for q, c in progress.items()
        },
        "loaded": audit.loaded,
        "unavailable": unavailable,
        "pairs": pairs,
        "failures": [
            {"item": f.item.external_id, "quantization": f.quantization, "error": f.error}
            for f in failures[:FAILURES_SHOWN]
        ],
    }


def _status_counts(rows: QuerySet[DriftVerdict]) -> list[tuple[str, str, int]]:
    return [
        (r["quantization"], r["status"], r["n"]) for r in rows.values("quantization", "status").annotate(n=Count("pk"))
    ]


def _pair(
    reference: str, other: str, verdicts: dict[str, dict[str, dict[int, Any]]], unavailable: dict[str, str]
) -> dict[str, Any]:
    out: dict[str, Any] = {"reference": reference, "other": other}
    missing = [f"{q}: {unavailable[q]}" for q in (reference, other) if q in unavailable]
    if missing:
        out["unavailable"] = "; ".join(missing)
    for kind, compute in ((Kind.POINTWISE, pointwise_drift), (Kind.PAIRWISE, pairwise_drift)):
        ref, oth = verdicts[reference][kind], verdicts[other][kind]
        common = sorted(ref.keys() & oth.keys())
        out[str(kind)] = compute([ref[i] for i in common], [oth[i] for i in common])
    return out


def drift_reports(*, checkpoint: CriticCheckpoint, limit: int = 20) -> list[dict[str, Any]]:
    """The checkpoint's latest audits' reports, newest first."""
    return [drift_report(audit=a) for a in drift_audit_list(checkpoint=checkpoint)[:limit]]


def shown_stat(s: dict[str, Any]) -> str:
    """A figure as a person reads it: value [95% interval] (n), or a dash and why it is undefined."""
    if s["value"] is None:
        return f"— ({s['reason']})"
    interval = f" [{s['ci95'][0]:.3f}, {s['ci95'][1]:.3f}]" if s.get("ci95") else f" (no interval: {s['ci_reason']})"
    small = ", small sample" if s.get("small_sample") else ""
    return f"{s['value']:.3f}{interval} n={s['n']}{small}"


FIGURES = {
    "pointwise": (
        ("pearson", "Pearson r"),
        ("mean_abs_difference", "mean |score difference|"),
        ("flip_rate", "flip rate"),
    ),
    "pairwise": (("cohen_kappa", "Cohen's kappa"), ("flip_rate", "flip rate")),
}


def drift_lines(report: dict[str, Any]) -> list[str]:
    """The report as text lines (the command's summary)."""
    lines = [
        f"Drift audit {report['id']}: {report['checkpoint']} on {report['dataset']!r}, {report['items']} items at "
        f"{', '.join(report['quantizations'])} — {report['status']}"
        + (f": {report['error']}" if report["error"] else "")
    ]
    for q, loaded in report["loaded"].items():
        if "unavailable" in loaded:
            lines.append(f"  {q}: not available here — {loaded['unavailable']}")
        else:
            lines.append(f"  {q}: {loaded['linear_layers']} layers, {loaded['memory_bytes'] / 2**20:.1f} MiB")
    for pair in report["pairs"]:
        lines.append(
            f"{pair['other']} against {pair['reference']}" + (" (unavailable)" if "unavailable" in pair else "")
        )
        for kind, figures in FIGURES.items():
            if pair[kind]["n"] == 0:
                continue
            for key, label in figures:
                lines.append(f"  {kind:<9} {label:<24} {shown_stat(pair[kind][key])}")
    return lines
