"""Labels needed to reach a target interval width: the desk's "most informative first" order against a random
order, on synthetic data with known truth (annotations/trust/planning.py; Zrnic & Candes, Active Statistical
Inference, ICML 2024).

    .venv/bin/python bench/active_labels.py [--items 20000] [--target 0.03] [--runs 20]

Each run draws N pairwise items whose critic is calibrated: its verdict distribution p over A / B / tie is the
true chance of each human outcome (most items easy, the critic sure; a quarter hard, the critic torn), the human
label is drawn from p, the critic's verdict is its most probable outcome. Both orders take items by priority-
sampling keys over the same fixed per-item uniforms: (u + FLOOR) / U for the desk's order (u the critic's
uncertainty), 1 / U for the random one; after each n labels both use the same active PPI estimate with the
inclusion probabilities of their order. The figure: the fewest labels whose mean 95% interval width (over the
runs) is under the target, for each order, and how often the intervals cover the true win rate there. Writes its
section of docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from annotations.trust import planning  # noqa: E402

VALUES = np.array([1.0, 0.0, 0.5])  # A, B, tie: response A's outcome
GOAL_SAVING = 0.25


def world(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(labels, the critic's predictions, its uncertainties, each item's true expected outcome)."""
    hard = rng.random(n) < 0.25
    concentration = np.where(hard, 1.5, 0.08)[:, None] * np.ones(3)
    p = np.array([rng.dirichlet(c) for c in concentration])
    p = 0.98 * p + 0.02 / 3  # no verdict is ever quite certain
    outcome = np.array([rng.choice(3, p=row) for row in p])
    verdict = p.argmax(1)
    predicted = VALUES[verdict]
    u = np.sqrt((p * (VALUES[None, :] - predicted[:, None]) ** 2).sum(1))
    return VALUES[outcome], predicted, u, (p * VALUES).sum(1)


def widths(
    order_weight: np.ndarray, ids: np.ndarray, y: np.ndarray, f: np.ndarray, grid: np.ndarray, truth: float
) -> tuple[np.ndarray, np.ndarray]:
    """The interval width and whether it covers the truth, after each number of labels in grid."""
    keys = (order_weight + planning.FLOOR) / planning.stable_uniform(ids)
    rank = np.empty(ids.size, dtype=np.int64)
    rank[np.argsort(-keys, kind="stable")] = np.arange(ids.size)
    out_w, out_c = np.empty(grid.size), np.empty(grid.size, dtype=bool)
    for k, n in enumerate(grid):
        labeled = rank < n
        pi = planning.inclusion_probabilities(keys, order_weight, labeled)
        fit = planning.active_ppi_mean(y, f, labeled, pi)
        out_w[k] = fit["width"]
        out_c[k] = fit["ci95"][0] <= truth <= fit["ci95"][1]
    return out_w, out_c


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--target", type=float, default=0.03)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    grid = np.unique(np.geomspace(50, args.items, 120).round().astype(int))
    results = {"random": [], "most informative": []}
    cover = {"random": [], "most informative": []}
    for run in range(args.runs):
        rng = np.random.default_rng(run)
        y, f, u, _expected = world(rng, args.items)
        ids = np.arange(args.items) + run * args.items  # fresh uniforms each run
        truth = float(y.mean())  # the win rate over these items, as people would judge them all
        for name, weight in (("random", np.full(args.items, 0.25)), ("most informative", u)):
            w, c = widths(weight, ids, y, f, grid, truth)
            results[name].append(w)
            cover[name].append(c)
    needed, coverage, overall = {}, {}, {}
    for name in results:
        mean_width = np.mean(results[name], axis=0)
        hit = np.flatnonzero(mean_width <= args.target)
        needed[name] = int(grid[hit[0]]) if hit.size else None
        coverage[name] = float(np.mean(cover[name], axis=0)[hit[0]]) if hit.size else None
        overall[name] = float(np.mean(np.asarray(cover[name])[:, grid >= 200]))
        print(f"{name:>17}: {needed[name]} labels for a mean width <= {args.target} (coverage {coverage[name]})")
    both = needed["random"] and needed["most informative"]
    saving = 1 - needed["most informative"] / needed["random"] if both else None
    print(f"saving: {saving:.1%}" if saving is not None else "target not reached")
    lines = [
        "## Which items to label: most informative first (issue 17)",
        "",
        f"`.venv/bin/python bench/active_labels.py --items {args.items} --target {args.target} --runs {args.runs}`: "
        f"{args.runs} synthetic datasets of {args.items:,} pairwise items with known truth (a calibrated critic: its "
        "verdict distribution is the true chance of each human outcome; three quarters of the items easy, a quarter "
        "hard). Labels are taken in the desk's order — priority sampling on the critic's uncertainty "
        "(annotations/trust/planning.py) — or in a random order (the same keys with equal weights), and after each "
        "number of labels the win rate is estimated by the same active PPI estimate (Zrnic & Candès 2024) with each "
        "order's inclusion probabilities. Figure: the fewest labels whose mean 95% interval width over the runs is "
        f"at most {args.target}.",
        "",
        "| order | labels to the target width | coverage of the true win rate there "
        "| coverage over every label count from 200 |",
        "|---|---:|---:|---:|",
    ]
    for name in results:
        shown = f"{needed[name]:,}" if needed[name] else "not reached"
        cov = f"{coverage[name]:.2f}" if coverage[name] is not None else "—"
        lines.append(f"| {name} | {shown} | {cov} | {overall[name]:.3f} |")
    verdict = (
        f"{saving:.0%} fewer labels than random order (goal: at least {GOAL_SAVING:.0%}: "
        f"{'met' if saving >= GOAL_SAVING else 'not met'})"
        if saving is not None
        else "the target was not reached"
    )
    lines += ["", f"Most informative first needs {verdict}."]
    from bench.report import write_section

    write_section("active-labels", "\n".join(lines))


if __name__ == "__main__":
    main()
