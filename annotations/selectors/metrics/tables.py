"""The metrics as flat tables (CSV and JSON downloads, the command's table)."""

from __future__ import annotations

from typing import Any

STATISTICS = {
    "pointwise": ("pearson", "spearman", "kendall_tau", "mae", "model_level_kendall_tau"),
    "pairwise": ("accuracy_with_tie", "accuracy_without_tie", "cohen_kappa"),
}

PROBE_STATISTICS = ("flip_rate", "mean_score_shift", "mean_abs_score_shift")


def _stat_cells(s: dict[str, Any]) -> dict[str, Any]:
    """A statistic's columns: value, its interval's ends, n and the reason when it is undefined."""
    ci = s.get("ci95") or [None, None]
    return {
        "value": s.get("value"),
        "ci_low": ci[0],
        "ci_high": ci[1],
        "n": s.get("n", 0),
        "reason": s.get("reason", ""),
    }


def _stat_row(section: str, name: str, s: dict[str, Any]) -> dict[str, Any]:
    return {"section": section, "statistic": name, **_stat_cells(s)}


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
    leaderboard = [
        {
            "judge": judge,
            "rank": row["rank"],
            **_stat_cells(row["rating"]),
            "model": row["model"],
        }
        for judge in ("human", "critic")
        for row in metrics["leaderboard"][judge]["models"]
    ]
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
        **_trust_tables(metrics["trust"]),
    }


def _trust_tables(trust: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The trust cards' tables: the alt-test per reviewer, the human ceiling, PPI per model, reviewers' kappa."""
    alt = trust["alt_test"]
    alt_test = [
        {
            "reviewer": row["reviewer"],
            "p_value": row["p_value"],
            "rejected": row["rejected"],
            "epsilon": alt.get("epsilon"),
            "winning_rate": alt.get("winning_rate"),
            "advantage_probability": alt.get("advantage_probability"),
            "passed": alt.get("passed"),
        }
        for row in alt.get("per_reviewer", [])
    ]
    ceiling = []
    for kind, block in trust["human_ceiling"].items():
        for reviewer, pair in [("all reviewers", block["overall"]), *((r["reviewer"], r) for r in block["reviewers"])]:
            for judge in ("human", "critic"):
                ceiling.append({"kind": kind, "reviewer": reviewer, "judge": judge, **_stat_cells(pair[judge])})
    ppi = []
    for kind, rows in trust["ppi"].items():
        for r in rows:
            ci = r.get("ci95") or [None, None]
            human, critic = r["human_only"], r["critic_only"]
            ppi.append(
                {
                    "kind": kind,
                    "model": r["model"],
                    "estimate": r.get("estimate"),
                    "ci_low": ci[0],
                    "ci_high": ci[1],
                    "human_only": human.get("value"),
                    "critic_only": critic.get("value"),
                    "n_labeled": r["n_labeled"],
                    "n_unlabeled": r["n_unlabeled"],
                    "reason": r.get("reason", ""),
                }
            )
    kappas = [
        {
            "kind": kind,
            "reviewers": " · ".join(pair["reviewers"]),
            **_stat_cells(pair["cohen_kappa"]),
        }
        for kind, pairs in trust["reviewer_pairs"].items()
        for pair in pairs
    ]
    return {"alt_test": alt_test, "human_ceiling": ceiling, "ppi": ppi, "reviewer_kappa": kappas}
