"""agreement_for_dataset: every section of the metrics from one fetch of the verdicts, cached until a verdict
changes, per viewer scope."""

from __future__ import annotations

import functools
import hashlib
import json
import secrets
from typing import Any

import numpy as np
from django.contrib.auth.models import AnonymousUser, User
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from numpy.typing import NDArray
from threadpoolctl import ThreadpoolController

from annotations import stats
from annotations.models import CriticCheckpoint, CriticVerdict, Dataset, HumanVerdict, Item, Split
from annotations.permissions import is_admin
from annotations.selectors.metrics.agreement import pairwise_section, pointwise_section, reviewers_section
from annotations.selectors.metrics.bias import anchoring_section, position_bias_section
from annotations.selectors.metrics.calibration import calibration_section
from annotations.selectors.metrics.fetch import (
    CriticColumns,
    HumanColumns,
    ScopedItems,
    aligned,
    distinct_count,
    verdicts_fetch,
)
from annotations.selectors.metrics.leaderboard import leaderboard_section
from annotations.selectors.metrics.scales import scaled, spans
from annotations.selectors.probes import PROBES, probes_section
from annotations.selectors.trust import trust_section

HUMANS_COMBINED = (
    "One pair per human verdict: each reviewer's blind verdict (committed before the critic's was shown) is "
    "paired with the critic's verdict on that item, as MLLM-as-a-Judge pairs each human annotation with the "
    "judge's. An item with k reviewers counts k times. Revisions after the reveal are used only to measure "
    "anchoring."
)
CACHE_SECONDS = 600


def metrics_scope(*, viewer: User | AnonymousUser | None) -> int | None:
    """Whose judged items the metrics are computed over: None for all items (administrators, and callers with no
    viewer: the CLI, the retraining gate), else the viewer's id. Blind review: a reviewer sees no figure drawn from
    a verdict on an item they have not judged themselves. Raises PermissionDenied for anyone not logged in."""
    if viewer is None or is_admin(viewer):
        return None
    if not (viewer.is_authenticated and viewer.is_active):
        raise PermissionDenied("Log in to see Critic Desk data.")
    return int(viewer.pk)


@functools.cache
def _threadpools() -> ThreadpoolController:
    """The BLAS and OpenMP pools loaded with numpy, scipy and scikit-learn (imported with annotations.stats), found
    once: looking them up again cost ~6 ms a computation."""
    return ThreadpoolController()


def _checkpoint_info(checkpoint: CriticCheckpoint | None) -> dict[str, Any] | None:
    if checkpoint is None:
        return None
    return {
        "id": checkpoint.pk,
        "name": checkpoint.name,
        "is_external": checkpoint.is_external,
        "is_demo": checkpoint.is_demo,
        "is_active": checkpoint.is_active,
    }


def metrics_forget(*, dataset: Dataset) -> None:
    """Drop the dataset's cached metrics: for changes the fingerprint below cannot see (an import that updates
    labels or splits in place)."""
    cache.set(f"metrics-generation:{dataset.pk}", secrets.token_hex(8), None)


def scoped_items(*, dataset: Dataset, viewer: User | AnonymousUser | None) -> ScopedItems:
    """The viewer's items of the dataset (see metrics_scope), to be read once by a view that asks for both the
    filter lists and the metrics. Raises PermissionDenied for anyone not logged in."""
    return ScopedItems(dataset=dataset, judged_by=metrics_scope(viewer=viewer))


def _fingerprint(dataset: Dataset, checkpoint: CriticCheckpoint | None, scoped: ScopedItems | None = None) -> str:
    """Changes whenever a verdict that the metrics read is added, finished, re-run or revised (or the dataset's
    metrics are forgotten). Read over the range of the dataset's item ids when they are dense (a range instead of
    joining 100k items; the few other items in it can only make it change more often), else exactly. The range is
    read first and sent as values, so that the planner sees how much of the verdict tables it covers (a scan for
    most of the table, the index for a small dataset)."""
    items = Item._meta.db_table
    with connection.cursor() as cursor:
        lo: int | None
        hi: int | None
        if scoped is not None and scoped.read and scoped.serves(dataset, None):  # all the dataset's items, read
            ids = scoped.items()["id"]
            lo, hi, n = (int(ids[0]), int(ids[-1]), int(ids.size)) if ids.size else (None, None, 0)
        else:
            cursor.execute(f"SELECT MIN(id), MAX(id), COUNT(*) FROM {items} WHERE dataset_id = %s", [dataset.pk])  # noqa: S608
            lo, hi, n = cursor.fetchone()
        if lo is None or hi is None or hi - lo < 2 * n:
            in_dataset, params = "v.item_id BETWEEN %s AND %s", [lo, hi]
        else:
            in_dataset, params = f"v.item_id IN (SELECT id FROM {items} WHERE dataset_id = %s)", [dataset.pk]  # noqa: S608
        # Table names come from the models, values travel as parameters.
        sql = (
            "SELECT 0, COUNT(*), MAX(v.id), MAX(v.finished_at), MAX(v.queued_at) "  # noqa: S608
            f"FROM {CriticVerdict._meta.db_table} v WHERE v.checkpoint_id = %s AND {in_dataset} "
            "UNION ALL SELECT 1, COUNT(*), MAX(v.id), MAX(v.revised_at), NULL "
            f"FROM {HumanVerdict._meta.db_table} v WHERE {in_dataset} ORDER BY 1"
        )
        cursor.execute(sql, [checkpoint.pk if checkpoint else None, *params, *params])
        seen = cursor.fetchall()
    generation = cache.get(f"metrics-generation:{dataset.pk}")
    return hashlib.sha256(json.dumps([seen, generation], default=str).encode()).hexdigest()[:24]


def agreement_for_dataset(
    *,
    dataset: Dataset,
    checkpoint: CriticCheckpoint | None = None,
    split: str | None = None,
    profile: str | None = None,
    reviewer: str | None = None,
    response_model: str | None = None,
    include_plots: bool = False,
    viewer: User | AnonymousUser | None = None,
    scoped: ScopedItems | None = None,
) -> dict[str, Any]:
    """Agreement between `checkpoint` (default: the active one; an external judge works the same) and the
    reviewers on `dataset`, restricted to a split (`pool`/`gold`), a prompt profile, one reviewer (by username)
    and/or one response model (items where it wrote either response).

    Every statistic is {"value": float | None, "ci95": [lo, hi] | None, "n": int}, plus "reason" when the value
    is undefined (n < 3, one class, ...): never NaN. Intervals are seeded bootstrap percentiles, so the same data
    give the same numbers. The returned dict:

    - "dataset", "checkpoint" ({id, name, is_external, is_demo, is_active} or None), "filters", "bootstrap",
      "humans_combined" (how several reviewers on one item count);
    - "pointwise": n, pearson, spearman, kendall_tau, mae, model_level_kendall_tau, "score_scale" (the profile
      whose units the scores are in, or "fraction of range" when profiles with different ranges are mixed),
      "models" (each response model's mean human and critic score), "histogram" (human and critic counts);
    - "pairwise": n, n_without_tie, accuracy_with_tie, accuracy_without_tie, cohen_kappa, "confusion_matrix"
      ({labels, rows: "human", columns: "critic", counts});
    - "reviewers": {"pointwise": {krippendorff_alpha (interval)}, "pairwise": {krippendorff_alpha (nominal)}};
    - "calibration": {"pointwise"|"pairwise": {ece, curve: [{lo, hi, n, confidence, accuracy}]}}: the critic's
      confidence against whether it agreed with the reviewer (pointwise: within the dataset's threshold);
    - "position_bias": n, flip_rate (pairwise items judged again with the responses swapped), "table";
    - "probes": {"swap" | "blank-image" | "other-image": {label, how_to_read, verdicts, "pointwise": {n, flip_rate,
      mean_score_shift, mean_abs_score_shift, ...}, "pairwise": {n, flip_rate, table}}} (selectors/probes.py);
    - "anchoring": n, revision_rate, toward_critic_rate (of the revisions, those that moved to the critic);
    - "leaderboard": {"human": {models: [{model, rank, rating}], n}, "critic": {...}, "kendall_tau"}:
      Bradley-Terry ratings (ties half a win) from the reviewers' and from the critic's pairwise verdicts.

    - "view": {"scope": "all" | "judged", "items": the number of items the figures are drawn from}.

    `viewer`: who asks (see metrics_scope): a reviewer's figures come only from the items they have judged.
    With include_plots, "plots" adds the points of the human-vs-critic scatter (at most SCATTER_MAX).
    Results are cached until a verdict changes, per scope: one viewer's result never serves another. `scoped`:
    the viewer's items when the view has them (scoped_items), read once for this and the filter lists."""
    if split and split not in Split.values:
        raise ValidationError(f"Unknown split {split!r}: choose {' or '.join(Split.values)}.")
    if checkpoint is None:
        checkpoint = CriticCheckpoint.objects.filter(is_active=True).first()
    filters = {"split": split or None, "profile": profile or None, "reviewer": reviewer or None}
    filters["response_model"] = response_model or None
    judged_by = metrics_scope(viewer=viewer)
    key = (
        "metrics:"
        + hashlib.sha256(
            json.dumps(
                [
                    dataset.pk,
                    checkpoint.pk if checkpoint else None,
                    filters,
                    include_plots,
                    judged_by,
                    _fingerprint(dataset, checkpoint, scoped),
                ]
            ).encode()
        ).hexdigest()
    )
    cached = cache.get(key)
    if cached is not None:
        return cached
    # Small matrices, many of them: BLAS threads only contend (measured ~2x slower with them on 2 cores).
    with _threadpools().limit(limits=1):
        result = _compute(dataset, checkpoint, filters, include_plots, judged_by, scoped)
    cache.set(key, result, CACHE_SECONDS)
    return result


def _compute(
    dataset: Dataset,
    checkpoint: CriticCheckpoint | None,
    filters: dict[str, str | None],
    include_plots: bool,
    judged_by: int | None = None,
    scoped: ScopedItems | None = None,
) -> dict[str, Any]:
    c, h = verdicts_fetch(dataset, checkpoint, filters, judged_by, scoped)
    # Under judged_by every fetched item carries the viewer's verdict, so these are exactly the items they judged.
    seen_items = distinct_count(h["item"], c["item"])
    all_critic = CriticColumns(**c)
    critic = all_critic.take(all_critic.probe == 0)
    probes = all_critic.take(all_critic.probe != 0)
    swapped = probes.take(probes.probe == PROBES.index("swap"))
    pos, has = stats.first_rows(critic.item, h["item"])
    humans = HumanColumns(
        **h,
        critic_score=aligned(critic.score, pos, has, np.nan),
        critic_preference=aligned(critic.preference, pos, has, -1),
        critic_confidence=aligned(critic.confidence, pos, has, np.nan),
        has_critic=has,
    )
    everyone = humans
    reviewer_items: NDArray[Any] | None = None
    if filters["reviewer"]:
        reviewer_id = User.objects.filter(username=filters["reviewer"]).values_list("pk", flat=True).first()
        mine = humans.reviewer == reviewer_id
        reviewer_items = np.unique(humans.item[mine])
        critic = critic.take(np.isin(critic.item, reviewer_items))
        swapped = swapped.take(np.isin(swapped.item, reviewer_items))
        probes = probes.take(np.isin(probes.item, reviewer_items))
        humans = humans.take(mine)

    out: dict[str, Any] = {
        "dataset": dataset.name,
        "dataset_id": dataset.pk,
        "checkpoint": _checkpoint_info(checkpoint),
        "filters": filters,
        "humans_combined": HUMANS_COMBINED,
        "view": {"scope": "all" if judged_by is None else "judged", "items": seen_items},
        "bootstrap": {
            "replicates": stats.B,
            "seed": stats.SEED,
            "interval": "percentile, 95%",
            "note": f"at most {stats.MAX_DRAWS:,} replicate cells per statistic: data with very many distinct "
            f"observations get fewer replicates (never under {stats.MIN_B})",
        },
        "counts": {
            "critic_verdicts": int(critic.item.size),
            "human_verdicts": int(humans.item.size),
            "swap_checks": int(swapped.item.size),
        },
    }
    out["pointwise"], scatter = pointwise_section(humans)
    out["pairwise"] = pairwise_section(humans)
    if reviewer_items is not None:
        everyone = everyone.take(np.isin(everyone.item, reviewer_items))
    out["reviewers"] = reviewers_section(everyone)
    out["calibration"] = calibration_section(dataset, humans)
    out["position_bias"] = position_bias_section(critic, swapped)
    out["probes"] = probes_section(dataset=dataset, critic=critic, probes=probes, spans=spans, scaled=scaled)
    out["anchoring"] = anchoring_section(humans)
    out["leaderboard"] = leaderboard_section(critic, humans)
    out["trust"] = trust_section(dataset=dataset, critic=critic, everyone=everyone, spans=spans, sections=out)
    if include_plots:
        out["plots"] = {"scatter": scatter}
    return out
