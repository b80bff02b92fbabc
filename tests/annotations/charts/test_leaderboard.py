"""The forest plot's notes ("no rating: ...", "no interval: ...") stay inside the chart: it widens for them, and one
too long even for that is shortened on the plot with the whole text in its row's <title>."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from annotations.charts import svg_document
from annotations.charts.leaderboard import NOTE_PX, leaderboard

SVG = "{http://www.w3.org/2000/svg}"
SHORT_N = "n = 9: too few for a bootstrap interval (needs 10)"


def rating(value: float | None, ci: list[float] | None = None, **why: str) -> dict[str, Any]:
    return {"value": value, "ci95": ci, "n": 9, **why}


def board(*rows: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    models = [{"model": m, "rank": i + 1, "rating": r} for i, (m, r) in enumerate(rows)]
    return {"human": {"models": models}, "critic": {"models": []}, "scale": "arena"}


def notes(chart: dict[str, Any]) -> list[tuple[float, str, str]]:
    """Each note on the drawn SVG: (x, text shown, its row's title)."""
    root = ET.fromstring(svg_document(chart))  # noqa: S314 - our own output
    out = []
    for group in root.iter(f"{SVG}g"):
        note = group.find(f"{SVG}text[@class='note']")
        if group.get("class") == "model" and note is not None:
            out.append((float(note.get("x") or 0), note.text or "", group.findtext(f"{SVG}title") or ""))
    return out


def test_a_long_no_interval_note_beside_the_highest_rating_fits_in_the_chart() -> None:
    chart = leaderboard(
        board(
            ("gpt-4o", rating(1100.0, ci_reason=SHORT_N)),  # the highest: its dot at the plot's right edge
            ("llava", rating(900.0, [850.0, 950.0])),
            ("newcomer", rating(None, reason="played no game that was not a tie against a rated model")),
        )
    )
    assert chart is not None
    drawn = notes(chart)
    assert len(drawn) == 2
    for x, text, title in drawn:
        assert x + NOTE_PX * len(text) <= chart["width"]
        assert text in (f"no interval: {SHORT_N}", "no rating: played no game that was not a tie against a rated model")
        assert text in title


def test_a_note_too_long_even_for_a_wider_chart_is_shortened_and_kept_whole_in_its_title() -> None:
    reason = "n = 9: " + "far too few games in which this model met another rated model " * 6
    chart = leaderboard(board(("gpt-4o", rating(1100.0, ci_reason=reason)), ("llava", rating(900.0, [850.0, 950.0]))))
    assert chart is not None
    [(x, text, title)] = notes(chart)
    assert text.endswith("…")
    assert len(text) < len(reason)
    assert x + NOTE_PX * len(text) <= chart["width"]
    assert f"no interval: {reason.strip()}" in " ".join(title.split())
