"""The metrics' `probes` section (the dashboard's bias card): for each probe kind, how the critic's verdicts moved
from its verdict on the item to its verdict under the probe. Drawn from the verdict columns selectors/metrics/fetch.py
has fetched, so a reviewer's card covers only the items they have judged, as every other card. The statistics are in
annotations/trust/probes.py; the probes themselves are queued by annotations/services/probes.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from annotations import stats
from annotations.models import Dataset, Kind, Probe
from annotations.trust import probes as effects

if TYPE_CHECKING:
    from annotations.selectors.metrics import CriticColumns

PROBES = ("", *Probe.values)  # a verdict's probe as a code: its index here (0: the item's own verdict)
APPLIES = {Probe.SWAP: (Kind.PAIRWISE,), Probe.BLANK_IMAGE: (Kind.POINTWISE, Kind.PAIRWISE)}
APPLIES[Probe.OTHER_IMAGE] = APPLIES[Probe.BLANK_IMAGE]
HOW_TO_READ = {
    Probe.SWAP: "The responses exchanged: a critic that judges the answers mirrors its preference; a flip is "
    "position bias.",
    Probe.BLANK_IMAGE: "A white image of the same size: a critic that judges the picture should change its "
    "verdicts; a flip rate near 0 means the picture is not being judged.",
    Probe.OTHER_IMAGE: "Another item's image: the responses no longer describe the picture, so a critic that "
    "checks them against it should change its verdicts (scores should fall).",
}

Spans = Callable[[NDArray[np.str_], NDArray[np.int32]], tuple[NDArray[np.float64], NDArray[np.float64]]]
Scaled = Callable[..., tuple[str, list[NDArray[np.float64]]]]


def probe_code_sql(column: str) -> str:
    """SQL giving a verdict's probe as its index in PROBES (0 for the item's own verdict)."""
    cases = " ".join(f"WHEN '{name}' THEN {i}" for i, name in enumerate(PROBES) if name)
    return f"CASE {column} {cases} ELSE 0 END"


def _paired(critic: CriticColumns, probed: CriticColumns) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """For each probe verdict, the row of the item's own verdict in `critic`, and whether there is one."""
    return stats.first_rows(critic.item, probed.item)


def probes_section(
    *, dataset: Dataset, critic: CriticColumns, probes: CriticColumns, spans: Spans, scaled: Scaled
) -> dict[str, Any]:
    """{kind: {"label", "how_to_read", "verdicts": finished probe verdicts in view, "pointwise": {n, flip_rate,
    mean_score_shift, mean_abs_score_shift, score_scale, flip_rule}, "pairwise": {n, flip_rate, table, flip_rule}}}
    for swap (pairwise only), blank-image and other-image. `critic`: the items' own verdicts, `probes`: the probe
    verdicts (CriticColumns with a `probe` code column); `spans` and `scaled` as in selectors/metrics/scales.py."""
    out: dict[str, Any] = {}
    for kind in Probe:
        mine = probes.take(probes.probe == PROBES.index(kind.value))
        section: dict[str, Any] = {
            "label": kind.label,
            "how_to_read": HOW_TO_READ[kind],
            "verdicts": int(mine.item.size),
        }
        pos, has = _paired(critic, mine)
        reason = f"no item has both its verdict and a finished {kind.value} probe"
        for item_kind in APPLIES[kind]:
            is_kind = mine.kind == mine.code(item_kind)
            if item_kind == Kind.PAIRWISE:
                ok = has & is_kind & (mine.preference >= 0) & (critic.preference[pos] >= 0)
                block = effects.pairwise_effect(critic.preference[pos][ok], mine.preference[ok], reason=reason)
                block["flip_rule"] = (
                    "the preference was not mirrored when the responses were exchanged (stored in the item's order)"
                    if kind == Probe.SWAP
                    else "the preference changed"
                )
            else:
                ok = has & is_kind & ~np.isnan(mine.score) & ~np.isnan(critic.score[pos])
                rows = mine.take(ok)
                scale, (before, after) = scaled(rows.names, rows.profile, critic.score[pos][ok], rows.score)
                if scale == "fraction of range":
                    tolerance: Any = dataset.disagreement_threshold
                else:
                    lo, hi = spans(rows.names, rows.profile)
                    tolerance = dataset.disagreement_threshold * (hi - lo)
                block = effects.pointwise_effect(before, after, tolerance, reason=reason)
                block["score_scale"] = scale
                block["flip_rule"] = (
                    f"the score moved by more than {dataset.disagreement_threshold:g} of the profile's range "
                    "(the dataset's disagreement threshold)"
                )
            section[str(item_kind)] = block
        out[kind.value] = section
    return out
