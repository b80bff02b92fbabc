"""How far the critic can be trusted on a dataset: agreement with the reviewers, the reviewers' own agreement,
calibration, position bias, anchoring, and the response models' leaderboards. The statistics live in
annotations/stats.py (no Django); this module fetches the verdicts with a few `values_list` queries and shapes
the JSON that the dashboard, `critic_metrics --json` and the API all return."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db.models import Count, Max, Q
from threadpoolctl import threadpool_limits

from annotations import stats
from annotations.models import CriticCheckpoint, CriticVerdict, Dataset, HumanVerdict, JobStatus, Kind, Split
from critic_worker.profiles import get_profile

HUMANS_COMBINED = (
    "One pair per human verdict: each reviewer's blind verdict (committed before the critic's was shown) is "
    "paired with the critic's verdict on that item, as MLLM-as-a-Judge pairs each human annotation with the "
    "judge's. An item with k reviewers counts k times. Revisions after the reveal are used only to measure "
    "anchoring."
)
SCATTER_MAX = 3000
HISTOGRAM_BINS = 10
CACHE_SECONDS = 600


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


def _fingerprint(dataset: Dataset, checkpoint: CriticCheckpoint | None) -> str:
    """Changes whenever a verdict that the metrics read is added, finished, re-run or revised."""
    critic = CriticVerdict.objects.filter(item__dataset=dataset, checkpoint=checkpoint).aggregate(
        n=Count("pk"), last=Max("pk"), finished=Max("finished_at"), queued=Max("queued_at")
    )
    human = HumanVerdict.objects.filter(item__dataset=dataset).aggregate(
        n=Count("pk"), last=Max("pk"), revised=Max("revised_at")
    )
    return hashlib.sha256(json.dumps([critic, human], default=str, sort_keys=True).encode()).hexdigest()[:24]


def agreement_for_dataset(
    *,
    dataset: Dataset,
    checkpoint: CriticCheckpoint | None = None,
    split: str | None = None,
    profile: str | None = None,
    reviewer: str | None = None,
    response_model: str | None = None,
    include_plots: bool = False,
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
    - "anchoring": n, revision_rate, toward_critic_rate (of the revisions, those that moved to the critic);
    - "leaderboard": {"human": {models: [{model, rank, rating}], n}, "critic": {...}, "kendall_tau"}:
      Bradley-Terry ratings (ties half a win) from the reviewers' and from the critic's pairwise verdicts.

    With include_plots, "plots" adds the points of the human-vs-critic scatter (at most SCATTER_MAX).
    Results are cached until a verdict changes."""
    if checkpoint is None:
        checkpoint = CriticCheckpoint.objects.filter(is_active=True).first()
    filters = {"split": split or None, "profile": profile or None, "reviewer": reviewer or None}
    filters["response_model"] = response_model or None
    key = (
        "metrics:"
        + hashlib.sha256(
            json.dumps(
                [
                    dataset.pk,
                    checkpoint.pk if checkpoint else None,
                    filters,
                    include_plots,
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
        result = _compute(dataset, checkpoint, filters, include_plots)
    cache.set(key, result, CACHE_SECONDS)
    return result


def _compute(
    dataset: Dataset, checkpoint: CriticCheckpoint | None, filters: dict[str, str | None], include_plots: bool
) -> dict[str, Any]:
    item_q = Q(item__dataset=dataset)
    if filters["split"]:
        item_q &= Q(item__split=filters["split"])
    if filters["profile"]:
        item_q &= Q(item__profile=filters["profile"])
    if filters["response_model"]:
        item_q &= Q(item__model_a=filters["response_model"]) | Q(item__model_b=filters["response_model"])

    critic: dict[int, tuple[Any, ...]] = {}
    swapped: dict[int, Any] = {}
    if checkpoint is not None:
        rows = CriticVerdict.objects.filter(item_q, checkpoint=checkpoint, status=JobStatus.DONE).values_list(
            "item_id", "swapped", "item__kind", "item__profile", "item__model_a", "item__model_b", "score",
            "preference", "confidence",
        )  # fmt: skip
        for item_id, is_swap, *rest in rows.iterator(chunk_size=5000):
            if is_swap:
                swapped[item_id] = rest[5]
            else:
                critic[item_id] = tuple(rest)
    humans = list(
        HumanVerdict.objects.filter(item_q)
        .values_list(
            "item_id",
            "reviewer__username",
            "score",
            "preference",
            "revised_score",
            "revised_preference",
            "revised_at",
            "item__kind",
            "item__profile",
            "item__model_a",
            "item__model_b",
        )
        .iterator(chunk_size=5000)
    )
    reviewer_items: set[int] | None = None
    if filters["reviewer"]:
        reviewer_items = {h[0] for h in humans if h[1] == filters["reviewer"]}
        critic = {k: v for k, v in critic.items() if k in reviewer_items}
        swapped = {k: v for k, v in swapped.items() if k in reviewer_items}
    mine = [h for h in humans if reviewer_items is None or h[1] == filters["reviewer"]]

    out: dict[str, Any] = {
        "dataset": dataset.name,
        "dataset_id": dataset.pk,
        "checkpoint": _checkpoint_info(checkpoint),
        "filters": filters,
        "humans_combined": HUMANS_COMBINED,
        "bootstrap": {
            "replicates": stats.B,
            "seed": stats.SEED,
            "interval": "percentile, 95%",
            "note": f"at most {stats.MAX_DRAWS:,} replicate cells per statistic: data with very many distinct "
            f"observations get fewer replicates (never under {stats.MIN_B})",
        },
        "counts": {"critic_verdicts": len(critic), "human_verdicts": len(mine), "swap_checks": len(swapped)},
    }
    out["pointwise"], scatter = _pointwise(dataset, critic, mine)
    out["pairwise"] = _pairwise(critic, mine)
    out["reviewers"] = _reviewers(humans, reviewer_items)
    out["calibration"] = _calibration(dataset, critic, mine)
    out["position_bias"] = _position_bias(critic, swapped)
    out["anchoring"] = _anchoring(dataset, critic, mine)
    out["leaderboard"] = _leaderboard(critic, mine)
    if include_plots:
        out["plots"] = {"scatter": scatter}
    return out


def _scale(profiles: set[str]) -> tuple[str, Any]:
    """Scores in their profile's units, or as a fraction of the range when profiles with different ranges mix."""
    spans = {_profile_span(p) for p in profiles}
    if len(spans) <= 1:
        return (next(iter(profiles)) if profiles else "none"), None

    def to_fraction(profile: str, score: float) -> float:
        lo, hi = _profile_span(profile)
        return (score - lo) / (hi - lo) if hi > lo else 0.0

    return "fraction of range", to_fraction


def _pointwise(
    dataset: Dataset, critic: dict[int, tuple[Any, ...]], humans: list[tuple[Any, ...]]
) -> tuple[dict[str, Any], list[list[float]]]:
    pairs = [
        (h[8], h[2], critic[h[0]][4], h[9])
        for h in humans
        if h[7] == Kind.POINTWISE and h[2] is not None and h[0] in critic and critic[h[0]][4] is not None
    ]
    name, convert = _scale({p[0] for p in pairs})
    if convert is not None:
        pairs = [(p, convert(p, hs), convert(p, cs), m) for p, hs, cs, m in pairs]
    h = np.array([p[1] for p in pairs], dtype=float)
    c = np.array([p[2] for p in pairs], dtype=float)
    models = [p[3] or "unknown model" for p in pairs]
    section: dict[str, Any] = {"n": len(pairs), "score_scale": name}
    section.update(stats.pointwise_agreement(h, c, models))
    section["models"] = [
        {"model": m, "human_mean": hm, "critic_mean": cm, "n": k}
        for m, (hm, cm, k) in sorted(stats.model_means(models, h, c).items())
    ] if pairs else []  # fmt: skip
    if pairs:
        lo = min(float(h.min()), float(c.min()))
        hi = max(float(h.max()), float(c.max()))
        if convert is None and name != "none":
            lo, hi = _profile_span(name)
        elif convert is not None:
            lo, hi = 0.0, 1.0
        edges = np.linspace(lo, hi if hi > lo else lo + 1, HISTOGRAM_BINS + 1)
        section["histogram"] = {
            "edges": edges.tolist(),
            "human": np.histogram(h, edges)[0].tolist(),
            "critic": np.histogram(c, edges)[0].tolist(),
        }
        section["range"] = [lo, hi]
    else:
        section["histogram"] = {"edges": [], "human": [], "critic": []}
        section["range"] = None
    scatter: list[list[float]] = []
    if pairs:
        pick = np.arange(len(pairs))
        if len(pairs) > SCATTER_MAX:
            pick = np.sort(np.random.default_rng(stats.SEED).choice(len(pairs), SCATTER_MAX, replace=False))
        scatter = [[float(h[i]), float(c[i])] for i in pick]
        fit = np.polyfit(h, c, 1) if len(pairs) >= 2 and np.ptp(h) > 0 else None
        section["fit"] = {"slope": float(fit[0]), "intercept": float(fit[1])} if fit is not None else None
    else:
        section["fit"] = None
    return section, scatter


def _pairwise(critic: dict[int, tuple[Any, ...]], humans: list[tuple[Any, ...]]) -> dict[str, Any]:
    pairs = [
        (h[3], critic[h[0]][5])
        for h in humans
        if h[7] == Kind.PAIRWISE and h[3] is not None and h[0] in critic and critic[h[0]][5] is not None
    ]
    return stats.pairwise_agreement([p[0] for p in pairs], [p[1] for p in pairs])


def _reviewers(humans: list[tuple[Any, ...]], reviewer_items: set[int] | None) -> dict[str, Any]:
    rows = [h for h in humans if reviewer_items is None or h[0] in reviewer_items]
    out: dict[str, Any] = {}
    levels: tuple[tuple[str, stats.Level], ...] = ((Kind.POINTWISE, "interval"), (Kind.PAIRWISE, "nominal"))
    for kind, level in levels:
        these = [h for h in rows if h[7] == kind]
        if kind == Kind.POINTWISE:
            _name, convert = _scale({h[8] for h in these})
            values: list[Any] = [convert(h[8], h[2]) if convert else h[2] for h in these]
        else:
            values = [h[3] for h in these]
        units = [h[0] for h in these]
        alpha = (
            stats.krippendorff_alpha(units, values, level=level)
            if these
            else stats.undefined(0, "no item has more than one reviewer")
        )
        out[str(kind)] = {"krippendorff_alpha": alpha, "level": level}
    return out


def _agrees(dataset: Dataset, kind: str, profile: str, human: Any, critic: Any) -> bool:
    """The dataset's disagreement rule (as on the reveal): another preference, or scores beyond the threshold."""
    if kind == Kind.PAIRWISE:
        return bool(human == critic)
    lo, hi = _profile_span(profile)
    return bool(abs(human - critic) <= dataset.disagreement_threshold * (hi - lo))


def _calibration(dataset: Dataset, critic: dict[int, tuple[Any, ...]], humans: list[tuple[Any, ...]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kind, field in ((Kind.POINTWISE, 2), (Kind.PAIRWISE, 3)):
        conf, correct = [], []
        for h in humans:
            c = critic.get(h[0])
            if h[7] != kind or c is None or c[6] is None or h[field] is None:
                continue
            verdict = c[4] if kind == Kind.POINTWISE else c[5]
            if verdict is None:
                continue
            conf.append(c[6])
            correct.append(_agrees(dataset, kind, h[8], h[field], verdict))
        out[str(kind)] = stats.calibration(conf, correct)
    return out


def _position_bias(critic: dict[int, tuple[Any, ...]], swapped: dict[int, str]) -> dict[str, Any]:
    pairs = [(critic[k][5], v) for k, v in swapped.items() if k in critic and critic[k][5] is not None and v]
    flips = [a != b for a, b in pairs]
    table = stats.confusion([a for a, _ in pairs], [b for _, b in pairs]) if pairs else [[0] * 3 for _ in range(3)]
    return {
        "n": len(pairs),
        "flip_rate": stats.rate(flips, salt=8, reason="no item has a swap check yet"),
        "table": {"labels": list(stats.PREFERENCES), "rows": "as shown", "columns": "swapped", "counts": table},
    }


def _anchoring(dataset: Dataset, critic: dict[int, tuple[Any, ...]], humans: list[tuple[Any, ...]]) -> dict[str, Any]:
    """Of the verdicts whose reviewer saw the critic's, how many changed after the reveal, and of those how many
    moved toward the critic (pairwise: to its preference; pointwise: closer to its score)."""
    revised, toward = [], []
    for h in humans:
        c = critic.get(h[0])
        if c is None:
            continue
        pointwise = h[7] == Kind.POINTWISE
        blind, after = (h[2], h[4]) if pointwise else (h[3], h[5])
        verdict = c[4] if pointwise else c[5]
        if blind is None or verdict is None:
            continue
        changed = h[6] is not None and after is not None and after != blind
        revised.append(changed)
        if changed:
            moved = abs(after - verdict) < abs(blind - verdict) if pointwise else after == verdict
            toward.append(bool(moved))
    return {
        "n": len(revised),
        "revision_rate": stats.rate(revised, salt=9, reason="no verdict paired with the critic's"),
        "toward_critic_rate": stats.rate(toward, salt=10, reason="no verdict was revised"),
    }


def _leaderboard(critic: dict[int, tuple[Any, ...]], humans: list[tuple[Any, ...]]) -> dict[str, Any]:
    h_rows = [(h[9], h[10], h[3]) for h in humans if h[7] == Kind.PAIRWISE and h[3] is not None]
    c_rows = [(c[2], c[3], c[5]) for c in critic.values() if c[0] == Kind.PAIRWISE and c[5] is not None]
    boards = {}
    for name, rows in (("human", h_rows), ("critic", c_rows)):
        boards[name] = stats.bradley_terry([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])
    corr = (
        stats.leaderboard_correlation(boards["human"], boards["critic"])
        if boards["human"]["models"] and boards["critic"]["models"]
        else stats.undefined(0, "needs both leaderboards")
    )
    return {
        "human": stats.strip_private(boards["human"]),
        "critic": stats.strip_private(boards["critic"]),
        "kendall_tau": corr,
        "scale": "Bradley-Terry, ties half a win each; 1000 + 400 log10(odds), as Chatbot Arena",
    }


def metric_filter_options(*, dataset: Dataset) -> dict[str, list[str]]:
    """What the dashboard's filters can choose from."""
    items = dataset.items.all()
    models = set(items.exclude(model_a="").values_list("model_a", flat=True).distinct())
    models |= set(items.exclude(model_b="").values_list("model_b", flat=True).distinct())
    return {
        "checkpoints": list(
            CriticCheckpoint.objects.filter(verdicts__item__dataset=dataset).distinct().values_list("name", flat=True)
        ),
        "splits": list(Split.values),
        "profiles": sorted(set(items.values_list("profile", flat=True).distinct())),
        "reviewers": sorted(
            set(
                HumanVerdict.objects.filter(item__dataset=dataset)
                .values_list("reviewer__username", flat=True)
                .distinct()
            )
        ),
        "response_models": sorted(models),
    }


# -- flat tables (CSV and JSON downloads, the command's table) ------------------------------------------------------

STATISTICS = {
    "pointwise": ("pearson", "spearman", "kendall_tau", "mae", "model_level_kendall_tau"),
    "pairwise": ("accuracy_with_tie", "accuracy_without_tie", "cohen_kappa"),
}


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
    found = CriticCheckpoint.objects.filter(name=name).first()
    if found is None:
        known = ", ".join(CriticCheckpoint.objects.values_list("name", flat=True)) or "none yet"
        raise ValidationError(f"No checkpoint named {name!r} (known: {known}).")
    return found
