"""Agreement statistics over plain arrays: no Django. Every statistic comes back as
{"value": float | None, "ci95": [lo, hi] | None, "n": int} and, when undefined, a "reason" (never NaN).

Point estimates come from the libraries (scipy, scikit-learn, krippendorff). The bootstrap intervals are
percentile intervals over B seeded replicates. Resampling 100k rows 1,000 times would be slow, so a replicate
is drawn as multinomial counts over the distinct observations (a (human, critic) pair, a (model, outcome)
triple, ...): exactly the distribution row resampling gives. The statistics are then computed from those
weighted counts in closed form, vectorised over replicates; tests/annotations/test_stats.py checks each
weighted formula against the library on the expanded rows.

One module per concept: bootstrap (the result shape and the replicates), correlation (the weighted formulas),
pointwise and pairwise (critic against people), reliability (people against people), calibration."""

from __future__ import annotations

from .bootstrap import (
    MAX_DRAWS,
    MIN_B,
    MIN_CI_N,
    MIN_N,
    SEED,
    SMALL_N,
    B,
    Floats,
    Stat,
    distinct,
    first_rows,
    replicate_weights,
    replicates_for,
    safe_div,
    seeded_rng,
    stat,
    undefined,
    unique_codes,
)
from .calibration import RELIABILITY_BINS, calibration
from .correlation import (
    kendall_tau_b_rows,
    weighted_kendall_tau_b,
    weighted_pearson,
    weighted_rank_correlations,
    weighted_spearman,
)
from .pairwise import PREFERENCES, confusion, kappa_from_tables, pairwise_agreement, preference_codes, rate
from .pointwise import model_level_kendall_tau, model_means, pointwise_agreement
from .reliability import PACKAGE_ALPHA_CELLS, Level, krippendorff_alpha, weighted_alpha

__all__ = [
    "MAX_DRAWS",
    "MIN_B",
    "MIN_CI_N",
    "MIN_N",
    "PACKAGE_ALPHA_CELLS",
    "PREFERENCES",
    "RELIABILITY_BINS",
    "SEED",
    "SMALL_N",
    "B",
    "Floats",
    "Level",
    "Stat",
    "calibration",
    "confusion",
    "distinct",
    "first_rows",
    "kappa_from_tables",
    "kendall_tau_b_rows",
    "krippendorff_alpha",
    "model_level_kendall_tau",
    "model_means",
    "pairwise_agreement",
    "pointwise_agreement",
    "preference_codes",
    "rate",
    "replicate_weights",
    "replicates_for",
    "safe_div",
    "seeded_rng",
    "stat",
    "undefined",
    "unique_codes",
    "weighted_alpha",
    "weighted_kendall_tau_b",
    "weighted_pearson",
    "weighted_rank_correlations",
    "weighted_spearman",
]
