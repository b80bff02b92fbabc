"""How far the critic can be trusted on a dataset: agreement with the reviewers, the reviewers' own agreement,
calibration, position bias, anchoring, and the response models' leaderboards. The statistics live in
annotations/stats/ (no Django); this package fetches the verdicts with a few queries (fetch), computes each
section from those columns (agreement, calibration, bias, leaderboard; the probes and trust sections in
selectors/probes.py and selectors/trust.py) and shapes the JSON that the dashboard, `critic_metrics --json` and
the API all return (dashboard); tables flattens it, filters lists what the dashboard can filter by."""

from __future__ import annotations

from annotations.selectors.metrics.dashboard import (
    CACHE_SECONDS,
    HUMANS_COMBINED,
    agreement_for_dataset,
    metrics_forget,
    metrics_scope,
    scoped_items,
)
from annotations.selectors.metrics.fetch import Columns, CriticColumns, HumanColumns, ScopedItems
from annotations.selectors.metrics.filters import metric_checkpoints_known, metric_filter_options, metrics_checkpoint
from annotations.selectors.metrics.tables import PROBE_STATISTICS, STATISTICS, metric_tables, shown

__all__ = [
    "CACHE_SECONDS",
    "HUMANS_COMBINED",
    "PROBE_STATISTICS",
    "STATISTICS",
    "Columns",
    "CriticColumns",
    "HumanColumns",
    "ScopedItems",
    "agreement_for_dataset",
    "metric_checkpoints_known",
    "metric_filter_options",
    "metric_tables",
    "metrics_checkpoint",
    "metrics_forget",
    "metrics_scope",
    "scoped_items",
    "shown",
]
