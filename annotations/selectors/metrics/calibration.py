"""The critic's calibration: its own confidence against whether it agreed with the reviewer."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from annotations import stats
from annotations.models import Dataset, Kind
from annotations.selectors.metrics.fetch import HumanColumns, present
from annotations.selectors.metrics.scales import spans


def _agreeing(dataset: Dataset, rows: HumanColumns, pointwise: bool, blind: bool = True) -> NDArray[np.bool_]:
    """The dataset's disagreement rule (as on the reveal): the same preference, or scores within the threshold."""
    if not pointwise:
        return np.asarray(rows.preference == rows.critic_preference, dtype=bool)
    lo, hi = spans(rows.names, rows.profile)
    return np.asarray(np.abs(rows.score - rows.critic_score) <= dataset.disagreement_threshold * (hi - lo))


def calibration_section(dataset: Dataset, humans: HumanColumns) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kind in (Kind.POINTWISE, Kind.PAIRWISE):
        pointwise = kind == Kind.POINTWISE
        verdicts = (
            ~np.isnan(humans.score) & ~np.isnan(humans.critic_score)
            if pointwise
            else present(humans.preference) & present(humans.critic_preference)
        )
        rows = humans.take(
            (humans.kind == humans.code(kind)) & humans.has_critic & ~np.isnan(humans.critic_confidence) & verdicts
        )
        out[str(kind)] = stats.calibration(rows.critic_confidence, _agreeing(dataset, rows, pointwise))
    return out
