"""The leaderboard's intervals as a forest plot: each response model's rating with its 95% interval, reviewers'
board above the critic's, on one labelled rating axis."""

from __future__ import annotations

from typing import Any

from annotations.charts.axes import nice_range
from annotations.charts.frame import CHAR_PX, CRITIC, HUMAN, frame, scales, x_ticks

ROW, HEADER = 18, 24  # px
NAME_CHARS = 26
NOTE_PX = CHAR_PX * 10 / 11  # one character of a 10 px note
NOTE_ROOM = 420  # px a note may reach past the plot's right edge (the chart widens for it); longer ones are shortened


def _short(name: str) -> str:
    return name if len(name) <= NAME_CHARS else name[: NAME_CHARS - 1] + "…"


def _place_notes(chart: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    """Fit each row's note ("no rating: ...", "no interval: ...") in the chart: it starts at note_x, the chart widens
    to hold it up to NOTE_ROOM past the plot, and beyond that it is shortened to `note_shown` with an ellipsis (the
    row's <title> keeps it whole)."""
    limit = chart["right"] + NOTE_ROOM
    for row in rows:
        if "note" not in row:
            continue
        room = int((limit - row["note_x"]) / NOTE_PX)
        shown = row["note"] if len(row["note"]) <= room else row["note"][: max(room - 1, 0)].rstrip() + "…"
        row["note_shown"] = shown
        chart["width"] = max(chart["width"], int(row["note_x"] + NOTE_PX * len(shown)) + 8)


def leaderboard(board: dict[str, Any]) -> dict[str, Any] | None:
    """board: the metrics' "leaderboard" ({"human"|"critic": {"models": [{model, rank, rating: {value, ci95, n,
    reason}}]}, "scale"}). Ratings on the Arena scale (1000 + 400 log10 odds); None without a single model."""
    judges = [(judge, board[judge]["models"]) for judge in ("human", "critic") if board[judge]["models"]]
    if not judges:
        return None
    rated = [r["rating"] for _, rows in judges for r in rows if r["rating"]["value"] is not None]
    values = [v for r in rated for v in (r["ci95"] or []) + [r["value"]]] or [1000.0]
    ratings_axis = nice_range(min(values), max(max(values), min(values) + 20.0))
    lo, hi = ratings_axis[0], ratings_axis[-1]
    names = [_short(r["model"]) for _, rows in judges for r in rows]
    left = int(max(90, 24 + CHAR_PX * max(len(n) for n in names)))
    height = sum(HEADER + ROW * len(rows) for _, rows in judges)
    chart = frame(
        key="leaderboard",
        template="leaderboard",
        title="Ratings of the response models, with 95% intervals",
        desc=f"{len(names)} ratings on the Arena scale (1000 + 400 log10 of the odds of winning; ties half a win), "
        "reviewers' board above the critic's; a bar is the bootstrap 95% interval.",
        plot_width=320,
        plot_height=height,
        x_label="rating (Arena scale: 1000 + 400 log10 odds)",
        y_label="",
        legend=[
            {"label": "judged by reviewers", "colour": HUMAN, "mark": "dot"},
            {"label": "judged by the critic", "colour": CRITIC, "mark": "dot"},
        ],
        left=left,
    )
    x, _ = scales(chart, (lo, hi), (0.0, 1.0))
    x_ticks(chart, x, ratings_axis)
    rows_out: list[dict[str, Any]] = []
    top = chart["top"]
    for judge, rows in judges:
        colour = HUMAN if judge == "human" else CRITIC
        heading = "Judged by reviewers" if judge == "human" else "Judged by the critic"
        rows_out.append({"header": heading, "y": top + HEADER - 7})
        top += HEADER
        for r in rows:
            rating = r["rating"]
            row: dict[str, Any] = {"label": _short(r["model"]), "model": r["model"], "y": top + ROW / 2}
            row["colour"] = colour
            if rating["value"] is None:
                row.update(note=f"no rating: {rating.get('reason') or 'too few games'}", note_x=chart["left"] + 6)
            else:
                ci = rating["ci95"]
                row.update({"x": x(rating["value"]), "value": f"{rating['value']:.0f}"})
                if ci:
                    row.update({"x1": x(ci[0]), "x2": x(ci[1]), "interval": f"{ci[0]:.0f} to {ci[1]:.0f}"})
                else:
                    row["interval"] = row["note"] = f"no interval: {rating.get('ci_reason') or 'too few games'}"
                    row["note_x"] = row["x"] + 8
            rows_out.append(row)
            top += ROW
    _place_notes(chart, rows_out)
    chart["rows"] = rows_out
    return chart
