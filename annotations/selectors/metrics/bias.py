"""The critic's position bias (swap checks) and the reviewers' anchoring on the critic after the reveal."""

from __future__ import annotations

from typing import Any

import numpy as np

from annotations import stats
from annotations.models import Kind
from annotations.selectors.metrics.fetch import CriticColumns, HumanColumns, present


def position_bias_section(critic: CriticColumns, swapped: CriticColumns) -> dict[str, Any]:
    if critic.item.size:
        pos, found = stats.first_rows(critic.item, swapped.item)
        found &= present(critic.preference[pos]) & present(swapped.preference)
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


def anchoring_section(humans: HumanColumns) -> dict[str, Any]:
    """Of the verdicts whose reviewer saw the critic's, how many changed after the reveal, and of those how many
    moved toward the critic (pairwise: to its preference; pointwise: closer to its score)."""
    pw = humans.kind == humans.code(Kind.POINTWISE)
    blind_s, after_s, critic_s = humans.score, humans.revised_score, humans.critic_score
    paired = humans.has_critic & np.where(
        pw,
        ~np.isnan(blind_s) & ~np.isnan(critic_s),
        present(humans.preference) & present(humans.critic_preference),
    )
    with np.errstate(invalid="ignore"):
        changed_s = ~np.isnan(after_s) & (after_s != blind_s)
        toward_s = np.abs(after_s - critic_s) < np.abs(blind_s - critic_s)
    changed_p = present(humans.revised_preference) & (humans.revised_preference != humans.preference)
    toward_p = humans.revised_preference == humans.critic_preference
    changed = humans.revised & np.where(pw, changed_s, changed_p)
    toward = np.where(pw, toward_s, toward_p)
    return {
        "n": int(paired.sum()),
        "revision_rate": stats.rate(changed[paired], salt=9, reason="no verdict paired with the critic's"),
        "toward_critic_rate": stats.rate(toward[paired & changed], salt=10, reason="no verdict was revised"),
    }
