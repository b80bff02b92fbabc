"""The metrics as flat tables (CSV and JSON downloads, the command's table)."""

from __future__ import annotations

from typing import Any

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
