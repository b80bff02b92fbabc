"""How far the critic can be trusted on a dataset: agreement with the reviewers, the reviewers' own agreement,
calibration, position bias, anchoring, and the response models' leaderboards. The statistics live in
annotations/stats.py (no Django); this module fetches the verdicts with a few `values_list` queries and shapes
the JSON that the dashboard, `critic_metrics --json` and the API all return."""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import Any, Self

import numpy as np
from django.contrib.auth.models import AnonymousUser, User
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.db.models import Exists, OuterRef
from numpy.typing import NDArray
from threadpoolctl import threadpool_limits

from annotations import bradley_terry, stats
from annotations.models import CriticCheckpoint, CriticVerdict, Dataset, HumanVerdict, Item, JobStatus, Kind, Split
from annotations.permissions import is_admin
from annotations.selectors.judging import checkpoint_named
from annotations.selectors.probes import PROBES, probe_code_sql, probes_section
from annotations.selectors.trust import trust_section
from critic_worker.profiles import get_profile

HUMANS_COMBINED = (
    "One pair per human verdict: each reviewer's blind verdict (committed before the critic's was shown) is "
    "paired with the critic's verdict on that item, as MLLM-as-a-Judge pairs each human annotation with the "
    "judge's. An item with k reviewers counts k times. Revisions after the reveal are used only to measure "
    "anchoring."
)
SCATTER_MAX = 3000
HISTOGRAM_BINS = 10
VALUE_BINS = 21  # a profile with at most this many scores gets a bin per score
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


def _histogram_edges(lo: float, hi: float, step: float) -> NDArray[np.float64]:
    """One bin centred on each score a profile can give when it gives at most VALUE_BINS (1-5, 1-10, 0-10 in
    halves), else HISTOGRAM_BINS equal bins over its range (0-100)."""
    values = round((hi - lo) / step) + 1
    if values <= VALUE_BINS:
        return lo - step / 2 + step * np.arange(values + 1, dtype=np.float64)
    return np.linspace(lo, hi if hi > lo else lo + 1, HISTOGRAM_BINS + 1)


def _profile_span(profile: str) -> tuple[float, float]:
    spec = get_profile(profile)
    return float(spec.score_min or 0), float(spec.score_max or 0)


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


def _fingerprint(dataset: Dataset, checkpoint: CriticCheckpoint | None) -> str:
    """Changes whenever a verdict that the metrics read is added, finished, re-run or revised (or the dataset's
    metrics are forgotten). Read over the range of the dataset's item ids when they are dense (an index range
    instead of joining 100k items; the few other items in it can only make it change more often), else exactly."""
    items = Item._meta.db_table
    # Table names come from the models, values travel as parameters.
    in_dataset = (
        "v.item_id BETWEEN r.lo AND r.hi "  # noqa: S608
        f"AND (r.hi - r.lo < 2 * r.n OR v.item_id IN (SELECT id FROM {items} WHERE dataset_id = %s))"
    )
    sql = (
        f"WITH r AS (SELECT MIN(id) AS lo, MAX(id) AS hi, COUNT(*) AS n FROM {items} WHERE dataset_id = %s) "  # noqa: S608
        "SELECT 0, COUNT(*), MAX(v.id), MAX(v.finished_at), MAX(v.queued_at) "
        f"FROM {CriticVerdict._meta.db_table} v, r WHERE v.checkpoint_id = %s AND {in_dataset} "
        "UNION ALL SELECT 1, COUNT(*), MAX(v.id), MAX(v.revised_at), NULL "
        f"FROM {HumanVerdict._meta.db_table} v, r WHERE {in_dataset} ORDER BY 1"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [dataset.pk, checkpoint.pk if checkpoint else None, dataset.pk, dataset.pk])
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
    Results are cached until a verdict changes, per scope: one viewer's result never serves another."""
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
                    _fingerprint(dataset, checkpoint),
                ]
            ).encode()
        ).hexdigest()
    )
    cached = cache.get(key)
    if cached is not None:
        return cached
    # Small matrices, many of them: BLAS threads only contend (measured ~2x slower with them on 2 cores).
    with threadpool_limits(limits=1):
        result = _compute(dataset, checkpoint, filters, include_plots, judged_by)
    cache.set(key, result, CACHE_SECONDS)
    return result


@dataclass
class Columns:
    """The verdicts as numpy columns (one row per verdict): sections select with masks, no loops over rows.
    kind, profile, model_a and model_b are codes into `names`; preferences are codes into stats.PREFERENCES
    (-1: none)."""

    names: NDArray[np.str_]
    item: NDArray[np.int64]
    kind: NDArray[np.int32]
    profile: NDArray[np.int32]
    model_a: NDArray[np.int32]
    model_b: NDArray[np.int32]
    score: NDArray[np.float64]
    preference: NDArray[np.int8]

    def take(self, mask: NDArray[np.bool_]) -> Self:
        return type(self)(**{k: v if k == "names" else v[mask] for k, v in vars(self).items()})

    def code(self, name: str) -> int:
        """The code of a name (-1 when no row has it)."""
        found = np.flatnonzero(self.names == name)
        return int(found[0]) if found.size else -1


@dataclass
class CriticColumns(Columns):
    confidence: NDArray[np.float64]
    probe: NDArray[np.int8]  # an index into selectors.probes.PROBES: 0 for the item's own verdict


@dataclass
class HumanColumns(Columns):
    reviewer: NDArray[np.int64]
    revised_score: NDArray[np.float64]
    revised_preference: NDArray[np.int8]
    revised: NDArray[np.bool_]
    # The critic's verdict on the same item, aligned row by row (NaN / -1 where it has none).
    critic_score: NDArray[np.float64]
    critic_preference: NDArray[np.int8]
    critic_confidence: NDArray[np.float64]
    has_critic: NDArray[np.bool_]


def _present(codes: NDArray[np.int8]) -> NDArray[np.bool_]:
    """Where a preference code stands for a preference (-1: none)."""
    return np.asarray(codes >= 0)


def _aligned(values: NDArray[Any], pos: NDArray[Any], has: NDArray[np.bool_], fill: Any) -> NDArray[Any]:
    """values[pos] where `has`, else fill: the critic's column lined up with the human verdicts."""
    out = np.full(has.size, fill, dtype=values.dtype)
    out[has] = values[pos[has]]
    return out


def _preference_code(column: str) -> str:
    """SQL giving the preference's index in stats.PREFERENCES (-1: none), the codes stats reads."""
    cases = " ".join(f"WHEN '{label}' THEN {i}" for i, label in enumerate(stats.PREFERENCES))
    return f"CASE {column} {cases} ELSE -1 END"


# How each column type travels: PostgreSQL's type, what stands for NULL, the wire (big-endian) and numpy dtypes.
_WIRE: dict[str, tuple[str, str, str, type[np.generic]]] = {
    "i8": ("int8", "-1", ">i8", np.int64),
    "f8": ("float8", "'NaN'", ">f8", np.float64),
    "i2": ("int2", "-1", ">i2", np.int16),
}
_DESCRIPTOR = ("kind", "profile", "model_a", "model_b")


def _binary_columns(cursor: Any, sql: str, params: list[Any], columns: dict[str, tuple[str, str]]) -> list[Any]:
    """PostgreSQL: each column of `SELECT ... sql` as one binary string (one per group when sql groups), so that
    100k rows never become Python tuples; returns the fetched rows, the columns' strings last."""
    sent = []
    for e, t in columns.values():
        pg_type, null = _WIRE[t][:2]
        sent.append(f"string_agg({pg_type}send(COALESCE(({e})::{pg_type}, {null}::{pg_type})), ''::bytea)")
    cursor.execute(sql.replace("{columns}", ", ".join(sent)), params)
    return list(cursor.fetchall())


def _decode(rows: list[Any], columns: dict[str, tuple[str, str]], first: int) -> dict[str, Any]:
    out = {}
    for j, (name, (_e, t)) in enumerate(columns.items()):
        raw = b"".join(bytes(row[first + j]) for row in rows if row[first + j] is not None)
        out[name] = np.frombuffer(raw, dtype=_WIRE[t][2]).astype(_WIRE[t][3])
    return out


def _plain_columns(cursor: Any, sql: str, params: list[Any], columns: dict[str, tuple[str, str]]) -> dict[str, Any]:
    """Other databases (SQLite): plain rows, turned into the same arrays."""
    cursor.execute(sql.replace("{columns}", ", ".join(e for e, _t in columns.values())), params)
    rows = cursor.fetchall()
    table = np.array(rows, dtype=object).reshape(len(rows), len(columns))
    out = {}
    for j, (name, (_e, t)) in enumerate(columns.items()):
        col = table[:, j]
        if t == "f8":
            col = np.where(col == None, np.nan, col)  # noqa: E711 (elementwise)
        out[name] = col.astype(_WIRE[t][3])
    return out


def _items(where: str, params: list[Any]) -> dict[str, Any]:
    """The matching items' ids (sorted) with their kind, profile and models as codes into "names": grouped by
    those four in SQL, so each distinct string travels once."""
    ids: dict[str, tuple[str, str]] = {"id": ("i.id", "i8")}
    sql = f"SELECT {', '.join(_DESCRIPTOR)}, {{columns}} FROM {Item._meta.db_table} i WHERE {where}"  # noqa: S608
    groups: list[tuple[str, ...]] = []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            rows = _binary_columns(cursor, sql + " GROUP BY 1, 2, 3, 4", params, ids)
            groups = [tuple(row[:4]) for row in rows]
            item = _decode(rows, ids, 4)["id"]
            sizes = [len(bytes(row[4])) // 8 for row in rows]
            which = np.repeat(np.arange(len(groups)), sizes)
        else:
            cursor.execute(sql.replace("{columns}", "i.id"), params)
            rows = cursor.fetchall()
            lookup: dict[tuple[str, ...], int] = {}
            codes = [lookup.setdefault(tuple(row[:4]), len(lookup)) for row in rows]
            groups = list(lookup)
            item = np.array([row[4] for row in rows], dtype=np.int64)
            which = np.array(codes, dtype=np.int64)
    order = np.argsort(item, kind="stable")
    names = sorted({str(x) for g in groups for x in g})
    index = {name: i for i, name in enumerate(names)}
    table = np.array([[index[str(x)] for x in g] for g in groups], dtype=np.int32).reshape(-1, 4)
    out: dict[str, Any] = {"names": np.array(names, dtype=str), "id": item[order]}
    for j, key in enumerate(_DESCRIPTOR):
        out[key] = table[which[order], j]
    return out


def _rows(
    table: str, where: str, params: list[Any], items: dict[str, Any], item_sql: str, item_params: list[Any],
    columns: dict[str, tuple[str, str]],
) -> dict[str, Any]:  # fmt: skip
    """The verdicts in `table` on `items`, with each item's descriptor codes. When the items' ids are dense (the
    usual: a dataset is imported in one go), a range of item_id on its index is much cheaper than joining the
    items again; verdicts in the range on other items are dropped here."""
    ids = items["id"]
    columns = {"item": ("v.item_id", "i8"), **columns}
    where = f"{where} AND v.item_id "
    if ids.size and (ids[-1] - ids[0] + 1) <= 2 * ids.size:
        where += "BETWEEN %s AND %s"
        params = [*params, int(ids[0]), int(ids[-1])]
    else:
        where += f"IN ({item_sql})"
        params = [*params, *item_params]
    sql = f"SELECT {{columns}} FROM {table} v WHERE {where}"  # noqa: S608
    with connection.cursor() as cursor:
        if not ids.size:
            out = {name: np.zeros(0, dtype=_WIRE[t][3]) for name, (_e, t) in columns.items()}
        elif connection.vendor == "postgresql":
            out = _decode(_binary_columns(cursor, sql, params, columns), columns, 0)
        else:
            out = _plain_columns(cursor, sql, params, columns)
    at = np.searchsorted(ids, out["item"]).clip(0, max(ids.size - 1, 0))
    mine = ids[at] == out["item"] if ids.size else np.zeros(out["item"].size, dtype=bool)
    out = {name: col[mine] for name, col in out.items()}
    at = at[mine]
    out["names"] = items["names"]
    for key in _DESCRIPTOR:
        out[key] = items[key][at]
    return out


def _verdicts(
    dataset: Dataset, checkpoint: CriticCheckpoint | None, filters: dict[str, str | None], judged_by: int | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The checkpoint's finished verdicts (the items' own and the probes') and the reviewers' verdicts on the items that
    match the filters (and, with judged_by, that this user has given a verdict on)."""
    where: list[str] = ["i.dataset_id = %s"]
    params: list[Any] = [dataset.pk]
    if judged_by is not None:
        where.append(
            f"EXISTS (SELECT 1 FROM {HumanVerdict._meta.db_table} j WHERE j.item_id = i.id AND j.reviewer_id = %s)"  # noqa: S608
        )
        params.append(judged_by)
    if filters["split"]:
        where.append("i.split = %s")
        params.append(filters["split"])
    if filters["profile"]:
        where.append("i.profile = %s")
        params.append(filters["profile"])
    if filters["response_model"]:
        where.append("(i.model_a = %s OR i.model_b = %s)")
        params += [filters["response_model"]] * 2
    items = _items(" AND ".join(where), params)
    item_sql = f"SELECT i.id FROM {Item._meta.db_table} i WHERE {' AND '.join(where)}"  # noqa: S608
    c = _rows(
        CriticVerdict._meta.db_table,
        "v.checkpoint_id = %s AND v.status = %s",
        [checkpoint.pk if checkpoint else None, JobStatus.DONE],
        items,
        item_sql,
        params,
        {
            "score": ("v.score", "f8"),
            "preference": (_preference_code("v.preference"), "i2"),
            "confidence": ("v.confidence", "f8"),
            "probe": (probe_code_sql("v.probe"), "i2"),
        },
    )
    h = _rows(
        HumanVerdict._meta.db_table,
        "1 = 1",
        [],
        items,
        item_sql,
        params,
        {
            "score": ("v.score", "f8"),
            "preference": (_preference_code("v.preference"), "i2"),
            "reviewer": ("v.reviewer_id", "i8"),
            "revised_score": ("v.revised_score", "f8"),
            "revised_preference": (_preference_code("v.revised_preference"), "i2"),
            "revised": ("CASE WHEN v.revised_at IS NULL THEN 0 ELSE 1 END", "i2"),
        },
    )
    for cols in (c, h):
        for key in ("preference", "revised_preference"):
            if key in cols:
                cols[key] = cols[key].astype(np.int8)
    c["probe"] = c["probe"].astype(np.int8)
    h["revised"] = h["revised"].astype(bool)
    return c, h


def _compute(
    dataset: Dataset,
    checkpoint: CriticCheckpoint | None,
    filters: dict[str, str | None],
    include_plots: bool,
    judged_by: int | None = None,
) -> dict[str, Any]:
    c, h = _verdicts(dataset, checkpoint, filters, judged_by)
    # Under judged_by every fetched item carries the viewer's verdict, so these are exactly the items they judged.
    seen_items = int(np.union1d(h["item"], c["item"]).size)
    all_critic = CriticColumns(**c)
    critic = all_critic.take(all_critic.probe == 0)
    probes = all_critic.take(all_critic.probe != 0)
    swapped = probes.take(probes.probe == PROBES.index("swap"))
    h_item = h["item"]
    order = np.argsort(critic.item, kind="stable")
    at = np.searchsorted(critic.item[order], h_item).clip(0, max(critic.item.size - 1, 0))
    pos = order[at] if critic.item.size else at
    has = (critic.item[pos] == h_item) if critic.item.size else np.zeros(h_item.size, dtype=bool)
    humans = HumanColumns(
        **h,
        critic_score=_aligned(critic.score, pos, has, np.nan),
        critic_preference=_aligned(critic.preference, pos, has, -1),
        critic_confidence=_aligned(critic.confidence, pos, has, np.nan),
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
    out["pointwise"], scatter = _pointwise(humans)
    out["pairwise"] = _pairwise(humans)
    if reviewer_items is not None:
        everyone = everyone.take(np.isin(everyone.item, reviewer_items))
    out["reviewers"] = _reviewers(everyone)
    out["calibration"] = _calibration(dataset, humans)
    out["position_bias"] = _position_bias(critic, swapped)
    out["probes"] = probes_section(dataset=dataset, critic=critic, probes=probes, spans=_spans, scaled=_scaled)
    out["anchoring"] = _anchoring(humans)
    out["leaderboard"] = _leaderboard(critic, humans)
    out["trust"] = trust_section(dataset=dataset, critic=critic, everyone=everyone, spans=_spans, sections=out)
    if include_plots:
        out["plots"] = {"scatter": scatter}
    return out


def _spans(names: NDArray[np.str_], profiles: NDArray[np.int32]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Each row's profile score range (lo, hi), profiles as codes into names."""
    used = np.unique(profiles)
    table = np.zeros((max(int(used.max()) + 1, 1) if used.size else 1, 2))
    for code in used.tolist():
        table[code] = _profile_span(str(names[code]))
    return table[profiles, 0], table[profiles, 1]


def _scaled(
    names: NDArray[np.str_], profiles: NDArray[np.int32], *scores: NDArray[np.float64]
) -> tuple[str, list[NDArray[np.float64]]]:
    """Scores in their profile's units, or as a fraction of the range when profiles with different ranges mix."""
    used = [str(names[code]) for code in np.unique(profiles).tolist()]
    if len({_profile_span(p) for p in used}) <= 1:
        return (used[0] if used else "none"), list(scores)
    lo, hi = _spans(names, profiles)
    width = np.where(hi > lo, hi - lo, 1.0)
    return "fraction of range", [(s - lo) / width for s in scores]


def _pointwise(humans: HumanColumns) -> tuple[dict[str, Any], list[list[float]]]:
    rows = humans.take(
        (humans.kind == humans.code(Kind.POINTWISE))
        & humans.has_critic
        & ~np.isnan(humans.score)
        & ~np.isnan(humans.critic_score)
    )
    name, (h, c) = _scaled(rows.names, rows.profile, rows.score, rows.critic_score)
    models = np.where(rows.names == "", "unknown model", rows.names)[rows.model_a]
    n = int(h.size)
    section: dict[str, Any] = {"n": n, "score_scale": name}
    section.update(stats.pointwise_agreement(h, c, models))
    section["models"] = [
        {"model": m, "human_mean": hm, "critic_mean": cm, "n": k}
        for m, (hm, cm, k) in sorted(stats.model_means(models, h, c).items())
    ] if n else []  # fmt: skip
    section["histogram"] = {"edges": [], "human": [], "critic": []}
    section["range"] = None
    section["fit"] = None
    scatter: list[list[float]] = []
    if n:
        if name == "fraction of range":
            lo, hi = 0.0, 1.0
            edges = np.linspace(lo, hi, HISTOGRAM_BINS + 1)
        else:
            lo, hi = _profile_span(name)
            edges = _histogram_edges(lo, hi, get_profile(name).score_step or 1.0)
        section["histogram"] = {
            "edges": edges.tolist(),
            "human": np.histogram(h, edges)[0].tolist(),
            "critic": np.histogram(c, edges)[0].tolist(),
        }
        section["range"] = [lo, hi]
        pick = np.arange(n)
        if n > SCATTER_MAX:
            pick = np.sort(np.random.default_rng(stats.SEED).choice(n, SCATTER_MAX, replace=False))
        scatter = np.stack([h[pick], c[pick]], axis=1).tolist()
        if n >= 2 and np.ptp(h) > 0:
            slope, intercept = np.polyfit(h, c, 1)
            section["fit"] = {"slope": float(slope), "intercept": float(intercept)}
    return section, scatter


def _pairwise(humans: HumanColumns) -> dict[str, Any]:
    rows = humans.take(
        (humans.kind == humans.code(Kind.PAIRWISE))
        & humans.has_critic
        & _present(humans.preference)
        & _present(humans.critic_preference)
    )
    return stats.pairwise_agreement(rows.preference, rows.critic_preference)


def _reviewers(humans: HumanColumns) -> dict[str, Any]:
    out: dict[str, Any] = {}
    levels: tuple[tuple[str, stats.Level], ...] = ((Kind.POINTWISE, "interval"), (Kind.PAIRWISE, "nominal"))
    for kind, level in levels:
        rows = humans.take(humans.kind == humans.code(kind))
        if kind == Kind.POINTWISE:
            values: NDArray[Any] = _scaled(rows.names, rows.profile, rows.score)[1][0]
        else:
            values = rows.preference
        alpha = (
            stats.krippendorff_alpha(rows.item, values, level=level)
            if rows.item.size
            else stats.undefined(0, "no item has more than one reviewer")
        )
        out[str(kind)] = {"krippendorff_alpha": alpha, "level": level}
    return out


def _agreeing(dataset: Dataset, rows: HumanColumns, pointwise: bool, blind: bool = True) -> NDArray[np.bool_]:
    """The dataset's disagreement rule (as on the reveal): the same preference, or scores within the threshold."""
    if not pointwise:
        return np.asarray(rows.preference == rows.critic_preference, dtype=bool)
    lo, hi = _spans(rows.names, rows.profile)
    return np.asarray(np.abs(rows.score - rows.critic_score) <= dataset.disagreement_threshold * (hi - lo))


def _calibration(dataset: Dataset, humans: HumanColumns) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kind in (Kind.POINTWISE, Kind.PAIRWISE):
        pointwise = kind == Kind.POINTWISE
        verdicts = (
            ~np.isnan(humans.score) & ~np.isnan(humans.critic_score)
            if pointwise
            else _present(humans.preference) & _present(humans.critic_preference)
        )
        rows = humans.take(
            (humans.kind == humans.code(kind)) & humans.has_critic & ~np.isnan(humans.critic_confidence) & verdicts
        )
        out[str(kind)] = stats.calibration(rows.critic_confidence, _agreeing(dataset, rows, pointwise))
    return out


def _position_bias(critic: CriticColumns, swapped: CriticColumns) -> dict[str, Any]:
    order = np.argsort(critic.item, kind="stable")
    at = np.searchsorted(critic.item[order], swapped.item).clip(0, max(critic.item.size - 1, 0))
    if critic.item.size:
        pos = order[at]
        found = (critic.item[pos] == swapped.item) & _present(critic.preference[pos]) & _present(swapped.preference)
        shown_pref, swapped_pref = critic.preference[pos][found], swapped.preference[found]
    else:
        shown_pref = swapped_pref = np.array([], dtype=np.int8)
    return {
        "n": int(shown_pref.size),
        "flip_rate": stats.rate(shown_pref != swapped_pref, salt=8, reason="no item has a swap check yet"),
        "table": {
            "labels": list(stats.PREFERENCES),
            "rows": "as shown",
            "columns": "swapped",
            "counts": stats.confusion(shown_pref, swapped_pref),
        },
    }


def _anchoring(humans: HumanColumns) -> dict[str, Any]:
    """Of the verdicts whose reviewer saw the critic's, how many changed after the reveal, and of those how many
    moved toward the critic (pairwise: to its preference; pointwise: closer to its score)."""
    pw = humans.kind == humans.code(Kind.POINTWISE)
    blind_s, after_s, critic_s = humans.score, humans.revised_score, humans.critic_score
    paired = humans.has_critic & np.where(
        pw,
        ~np.isnan(blind_s) & ~np.isnan(critic_s),
        _present(humans.preference) & _present(humans.critic_preference),
    )
    with np.errstate(invalid="ignore"):
        changed_s = ~np.isnan(after_s) & (after_s != blind_s)
        toward_s = np.abs(after_s - critic_s) < np.abs(blind_s - critic_s)
    changed_p = _present(humans.revised_preference) & (humans.revised_preference != humans.preference)
    toward_p = humans.revised_preference == humans.critic_preference
    changed = humans.revised & np.where(pw, changed_s, changed_p)
    toward = np.where(pw, toward_s, toward_p)
    return {
        "n": int(paired.sum()),
        "revision_rate": stats.rate(changed[paired], salt=9, reason="no verdict paired with the critic's"),
        "toward_critic_rate": stats.rate(toward[paired & changed], salt=10, reason="no verdict was revised"),
    }


def _leaderboard(critic: CriticColumns, humans: HumanColumns) -> dict[str, Any]:
    h = humans.take((humans.kind == humans.code(Kind.PAIRWISE)) & _present(humans.preference))
    c = critic.take((critic.kind == critic.code(Kind.PAIRWISE)) & _present(critic.preference))
    boards = {
        "human": bradley_terry.bradley_terry(h.model_a, h.model_b, h.preference, names=h.names),
        "critic": bradley_terry.bradley_terry(c.model_a, c.model_b, c.preference, names=c.names),
    }
    corr = (
        bradley_terry.leaderboard_correlation(boards["human"], boards["critic"])
        if boards["human"]["models"] and boards["critic"]["models"]
        else stats.undefined(0, "needs both leaderboards")
    )
    return {
        "human": bradley_terry.strip_private(boards["human"]),
        "critic": bradley_terry.strip_private(boards["critic"]),
        "kendall_tau": corr,
        "scale": "Bradley-Terry, ties half a win each; 1000 + 400 log10(odds), as Chatbot Arena",
    }


def metric_filter_options(*, dataset: Dataset, viewer: User | AnonymousUser | None = None) -> dict[str, list[str]]:
    """What the dashboard's filters can choose from, drawn from the same items as the viewer's metrics (see
    metrics_scope): a reviewer's lists name no model, reviewer or critic seen only on items they have not judged.
    Kept for a minute: a new model name can wait that long."""
    judged_by = metrics_scope(viewer=viewer)
    key = f"metric-filter-options:{dataset.pk}:{'all' if judged_by is None else judged_by}"
    options = cache.get(key)
    if options is None:
        options = _filter_options(dataset, judged_by)
        cache.set(key, options, 60)
    return options


def _filter_options(dataset: Dataset, judged_by: int | None) -> dict[str, list[str]]:
    items = Item.objects.filter(dataset=dataset)
    if judged_by is not None:
        items = items.filter(Exists(HumanVerdict.objects.filter(item=OuterRef("pk"), reviewer_id=judged_by)))
    # One scan of the items for the three lists; unordered, as the default order by id would enter the DISTINCT.
    combos = list(items.order_by().values_list("profile", "model_a", "model_b").distinct())
    models = {a for _p, a, _b in combos} | {b for _p, _a, b in combos}
    judged = CriticVerdict.objects.filter(checkpoint=OuterRef("pk"), item__in=items)
    reviewer_ids = HumanVerdict.objects.filter(item__in=items).order_by().values("reviewer_id").distinct()
    return {
        "checkpoints": list(CriticCheckpoint.objects.filter(Exists(judged)).values_list("name", flat=True)),
        "splits": list(Split.values),
        "profiles": sorted({p for p, _a, _b in combos}),
        "reviewers": sorted(User.objects.filter(pk__in=reviewer_ids).values_list("username", flat=True)),
        "response_models": sorted(models - {""}),
    }


# -- flat tables (CSV and JSON downloads, the command's table) ------------------------------------------------------

STATISTICS = {
    "pointwise": ("pearson", "spearman", "kendall_tau", "mae", "model_level_kendall_tau"),
    "pairwise": ("accuracy_with_tie", "accuracy_without_tie", "cohen_kappa"),
}

PROBE_STATISTICS = ("flip_rate", "mean_score_shift", "mean_abs_score_shift")


def _stat_row(section: str, name: str, s: dict[str, Any]) -> dict[str, Any]:
    ci = s.get("ci95") or [None, None]
    return {
        "section": section,
        "statistic": name,
        "value": s.get("value"),
        "ci_low": ci[0],
        "ci_high": ci[1],
        "n": s.get("n", 0),
        "reason": s.get("reason", ""),
    }


def shown(row: dict[str, Any]) -> str:
    """A statistic as a person reads it: value [95% interval], or a dash and why it is undefined."""
    if row["value"] is None:
        return f"— ({row['reason']})"
    if row["ci_low"] is None:
        return f"{row['value']:.3f}"
    return f"{row['value']:.3f} [{row['ci_low']:.3f}, {row['ci_high']:.3f}]"


def metric_tables(metrics: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The metrics as flat tables, one row per line of the dashboard's tables."""
    statistics = [
        _stat_row(section, name, metrics[section][name]) for section, names in STATISTICS.items() for name in names
    ]
    for kind, block in metrics["reviewers"].items():
        statistics.append(_stat_row(f"reviewers ({kind})", "krippendorff_alpha", block["krippendorff_alpha"]))
    for kind, block in metrics["calibration"].items():
        statistics.append(_stat_row(f"calibration ({kind})", "ece", block["ece"]))
    statistics.append(_stat_row("position_bias", "flip_rate", metrics["position_bias"]["flip_rate"]))
    for kind, probe in metrics["probes"].items():
        for item_kind in ("pointwise", "pairwise"):
            for name in PROBE_STATISTICS if item_kind in probe else ():
                if name in probe[item_kind]:
                    statistics.append(_stat_row(f"probe {kind} ({item_kind})", name, probe[item_kind][name]))
    for name in ("revision_rate", "toward_critic_rate"):
        statistics.append(_stat_row("anchoring", name, metrics["anchoring"][name]))
    statistics.append(_stat_row("leaderboard", "kendall_tau", metrics["leaderboard"]["kendall_tau"]))
    labels = metrics["pairwise"]["confusion_matrix"]["labels"]
    counts = metrics["pairwise"]["confusion_matrix"]["counts"]
    confusion = [{"human": labels[i], "critic": labels[j], "count": counts[i][j]} for i in range(3) for j in range(3)]
    reliability = [{"kind": kind, **row} for kind, block in metrics["calibration"].items() for row in block["curve"]]
    leaderboard = []
    for judge in ("human", "critic"):
        for row in metrics["leaderboard"][judge]["models"]:
            leaderboard.append(
                {
                    "judge": judge,
                    "rank": row["rank"],
                    **_stat_row("leaderboard", "rating", row["rating"]),
                    "model": row["model"],
                }
            )
    for row in leaderboard:
        del row["section"], row["statistic"]
    histogram = []
    hist = metrics["pointwise"]["histogram"]
    for judge in ("human", "critic"):
        for i, count in enumerate(hist[judge]):
            histogram.append({"judge": judge, "lo": hist["edges"][i], "hi": hist["edges"][i + 1], "count": count})
    return {
        "statistics": statistics,
        "confusion": confusion,
        "reliability": reliability,
        "leaderboard": leaderboard,
        "models": list(metrics["pointwise"]["models"]),
        "histogram": histogram,
    }


def metrics_checkpoint(*, name: str = "") -> CriticCheckpoint | None:
    """The checkpoint (or external judge) called `name`; with no name, the active one (None if there is none).
    An unknown name is a ValidationError that lists the known ones."""
    if not name:
        return CriticCheckpoint.objects.filter(is_active=True).first()
    return checkpoint_named(name=name)
