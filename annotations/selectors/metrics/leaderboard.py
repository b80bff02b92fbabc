"""The response models' leaderboards: Bradley-Terry ratings from the reviewers' and the critic's pairwise verdicts."""

from __future__ import annotations

from typing import Any

from annotations import bradley_terry, stats
from annotations.models import Kind
from annotations.selectors.metrics.fetch import CriticColumns, HumanColumns, present


def leaderboard_section(critic: CriticColumns, humans: HumanColumns) -> dict[str, Any]:
    h = humans.take((humans.kind == humans.code(Kind.PAIRWISE)) & present(humans.preference))
    c = critic.take((critic.kind == critic.code(Kind.PAIRWISE)) & present(critic.preference))
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
