"""Re-reading stored critic verdicts with the current verdict reader (critic_worker/reading).

A reader that improves changes what old raw outputs mean. ``verdicts_reread`` reads every finished verdict's raw
output again and reports, by profile and checkpoint, how many would be read as another value, how many would become
unreadable and how many would become readable. With ``apply`` it writes the changes in one transaction, records
the run and each changed verdict's values before and after (``VerdictReread``, ``VerdictRereadChange``) and
forgets the affected datasets' cached metrics.

What a re-read writes, by case (the same rules as the worker's):
- read as another value: the new score or preference; the confidence is re-taken from the verdict's stored
  probabilities when it has them (the engine's), else kept (an imported judge's own confidence in its text);
- now unreadable, with stored probabilities: forced from them, as the worker forces an unreadable text (the most
  probable verdict, ``forced`` set, its probability as confidence);
- now unreadable, without probabilities (an imported judge's text): status ``failed`` with the reader's reason as
  the error, score and preference cleared; the values before are kept in the change record;
- newly readable (a forced verdict, or a failed one whose raw output is kept): the reading, ``forced`` cleared,
  status ``done``.
A swap check's verdict is read in the critic's order and stored in the item's own order, as when it was judged.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet

from annotations.models import CriticVerdict, Dataset, JobStatus, VerdictReread, VerdictRereadChange
from annotations.selectors.metrics import metrics_forget
from annotations.services.verdict_summary import critic_disagreement_refresh
from critic_worker.profiles import Reading, Verdict, get_profile

SWAP = {"A": "B", "B": "A"}
CHANGE_KINDS = [c.value for c in VerdictRereadChange.Change]
# Fields a re-read may change, and which every change record keeps before and after.
FIELDS = ["status", "score", "preference", "forced", "confidence", "error", "justification"]


@dataclass(frozen=True)
class PlannedChange:
    verdict_id: int
    dataset_id: int
    profile: str
    checkpoint: str
    change: str
    previous: dict[str, Any]
    current: dict[str, Any]
    reason: str


@dataclass
class RereadReport:
    """What a re-read found: ``examined`` verdicts, ``changes`` (each with its values before and after),
    ``by_group`` {(profile, checkpoint name): {change kind: count}}, and the ``run`` when it was applied."""

    examined: int = 0
    changes: list[PlannedChange] = field(default_factory=list)
    by_group: dict[tuple[str, str], Counter[str]] = field(default_factory=dict)
    run: VerdictReread | None = None

    def totals(self) -> Counter[str]:
        total: Counter[str] = Counter({kind: 0 for kind in CHANGE_KINDS})
        for counts in self.by_group.values():
            total.update(counts)
        return total

    def as_json(self) -> dict[str, Any]:
        return {
            "examined": self.examined,
            "applied": self.run is not None,
            "run": self.run.pk if self.run is not None else None,
            "totals": dict(self.totals()),
            "by_profile_and_checkpoint": [
                {"profile": profile, "checkpoint": checkpoint, **{k: counts[k] for k in CHANGE_KINDS}}
                for (profile, checkpoint), counts in sorted(self.by_group.items())
            ],
        }


def _fields(v: CriticVerdict) -> dict[str, Any]:
    return {name: getattr(v, name) for name in FIELDS}


def _in_item_order(verdict: Verdict, swapped: bool) -> Verdict:
    if not swapped or verdict.preference is None:
        return verdict
    return Verdict(preference=SWAP.get(verdict.preference, verdict.preference), justification=verdict.justification)


def _forced(v: CriticVerdict, pointwise: bool) -> dict[str, Any] | None:
    """The most probable verdict in the stored probabilities, as the worker forces one; None without them."""
    probabilities = {k: float(p) for k, p in (v.probabilities or {}).items()}
    if not probabilities:
        return None
    top = max(probabilities, key=lambda k: probabilities[k])
    return {
        "status": JobStatus.DONE,
        "score": float(top) if pointwise else None,
        "preference": None if pointwise else top,
        "forced": True,
        "confidence": probabilities[top],
        "error": "",
        "justification": v.raw_output,
    }


def _plan(v: CriticVerdict, reading: Reading) -> tuple[str, dict[str, Any]] | None:
    """The change a reading makes to a stored verdict: (kind, new fields), or None when it makes none."""
    profile = get_profile(v.profile)
    pointwise = profile.is_pointwise
    readable_before = v.status == JobStatus.DONE and not v.forced
    if reading.verdict is None:
        if not readable_before:
            return None
        forced = _forced(v, pointwise)
        if forced is None:
            forced = {
                "status": JobStatus.FAILED,
                "score": None,
                "preference": None,
                "forced": False,
                "confidence": v.confidence,
                "error": f"Re-read: the raw output is unreadable ({reading.reason}).",
                "justification": v.justification,
            }
        return VerdictRereadChange.Change.NOW_UNREADABLE, forced
    verdict = _in_item_order(reading.verdict, v.swapped)
    if readable_before and (verdict.score, verdict.preference) == (v.score, v.preference):
        return None
    probabilities = v.probabilities or {}
    key = profile.distribution_key(verdict.score, verdict.preference)
    current = {
        "status": JobStatus.DONE,
        "score": verdict.score,
        "preference": verdict.preference,
        "forced": False,
        "confidence": round(float(probabilities.get(key, 0.0)), 6) if probabilities else v.confidence,
        "error": "",
        "justification": verdict.justification,
    }
    kind = VerdictRereadChange.Change.CHANGED if readable_before else VerdictRereadChange.Change.NEWLY_READABLE
    return kind, current


_REREADABLE = Q(status__in=[JobStatus.DONE, JobStatus.FAILED]) & ~Q(raw_output="")


def verdicts_for_reread(*, dataset: Dataset | None = None, checkpoint_name: str = "") -> QuerySet[CriticVerdict]:
    """The verdicts a re-read examines: finished ones and failed ones (an imported judge's unreadable text) that have
    a text to read, in a dataset and/or of a checkpoint. A verdict without text (a judge's score or preference given
    as a value in a file) has nothing to re-read."""
    verdicts = CriticVerdict.objects.filter(_REREADABLE)
    if dataset is not None:
        verdicts = verdicts.filter(item__dataset=dataset)
    if checkpoint_name:
        verdicts = verdicts.filter(checkpoint__name=checkpoint_name)
    return verdicts


def verdicts_reread(
    *, verdicts: QuerySet[CriticVerdict], apply: bool = False, user: Any = None, scope: str = ""
) -> RereadReport:
    """Re-read these verdicts' raw outputs (only finished and failed ones that have a raw output are looked at).
    Without ``apply`` nothing is written; with it, every change is written in one transaction with its record.

    Returns a RereadReport. A verdict being judged again meanwhile (no longer in the state read) is left alone."""
    report = RereadReport()
    rows = verdicts.filter(_REREADABLE).select_related("checkpoint", "item").order_by("pk")
    with transaction.atomic():
        if apply:
            rows = rows.select_for_update(of=("self",))
        for v in rows.iterator(chunk_size=2000):
            report.examined += 1
            reading = get_profile(v.profile).read(v.raw_output)
            planned = _plan(v, reading)
            if planned is None:
                continue
            kind, current = planned
            group = report.by_group.setdefault((v.profile, v.checkpoint.name), Counter())
            group[kind] += 1
            report.changes.append(
                PlannedChange(
                    verdict_id=v.pk,
                    dataset_id=v.item.dataset_id,
                    profile=v.profile,
                    checkpoint=v.checkpoint.name,
                    change=kind,
                    previous=_fields(v),
                    current=current,
                    reason=reading.reason,
                )
            )
        if apply:
            report.run = _apply(report, user=user, scope=scope)
    return report


def _apply(report: RereadReport, *, user: Any, scope: str) -> VerdictReread:
    totals = report.totals()
    run = VerdictReread.objects.create(
        created_by=user if user is not None and user.is_authenticated else None,
        scope=scope[:400],
        examined=report.examined,
        changed=totals[VerdictRereadChange.Change.CHANGED],
        now_unreadable=totals[VerdictRereadChange.Change.NOW_UNREADABLE],
        newly_readable=totals[VerdictRereadChange.Change.NEWLY_READABLE],
    )
    for change in report.changes:
        CriticVerdict.objects.filter(pk=change.verdict_id).update(**change.current)
    changed = CriticVerdict.objects.filter(pk__in=[c.verdict_id for c in report.changes], probe="")
    critic_disagreement_refresh(item_ids=changed.values_list("item_id", flat=True))
    VerdictRereadChange.objects.bulk_create(
        [
            VerdictRereadChange(
                run=run,
                verdict_id=c.verdict_id,
                change=c.change,
                previous=c.previous,
                current=c.current,
                reason=c.reason,
            )
            for c in report.changes
        ],
        batch_size=1000,
    )
    datasets = list(Dataset.objects.filter(pk__in={c.dataset_id for c in report.changes}))

    def forget() -> None:
        for dataset in datasets:
            metrics_forget(dataset=dataset)

    transaction.on_commit(forget)
    return run
