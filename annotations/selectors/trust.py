"""The metrics' `trust` section: the alt-test, the human ceiling, PPI estimates and label planning, from the verdict
columns selectors/metrics/fetch.py has already fetched (no query of its own but the reviewers' names). The statistics
are in annotations/trust/ (no Django); this module lines the columns up for them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from django.contrib.auth.models import User
from numpy.typing import NDArray

from annotations.models import Dataset, Kind
from annotations.trust import alt_test, planning, ppi, reviewers

if TYPE_CHECKING:
    from annotations.selectors.metrics import CriticColumns, HumanColumns

REFERENCES = {
    "alt_test": "Calderon, Reichart & Dror, The Alternative Annotator Test for LLM-as-a-Judge, ACL 2025 "
    "(arXiv:2501.10970)",
    "ppi": "Angelopoulos, Bates, Fannjiang, Jordan & Zrnic, Prediction-powered inference, Science 382 (2023); "
    "Angelopoulos, Duchi & Zrnic, PPI++ (arXiv:2311.01453); computed with ppi-python",
    "active": "Zrnic & Candes, Active Statistical Inference, ICML 2024; priority sampling: Duffield, Lund & "
    "Thorup, JACM 54 (2007)",
    "kappa": "Cohen 1960 (preferences); quadratic-weighted, Cohen 1968 (scores)",
    "bradley_terry": "Bradley & Terry 1952; Chatbot Arena's scale (Chiang et al. 2024)",
}
PREFERENCE_OUTCOME = np.array([1.0, 0.0, 0.5])  # A, B, tie: response A's outcome


def reviewer_names(ids: NDArray[np.int64]) -> dict[int, str]:
    wanted = np.unique(ids).tolist()
    return dict(User.objects.filter(pk__in=wanted).values_list("pk", "username")) if wanted else {}


def _unit_values(humans: HumanColumns, spans: tuple[NDArray[np.float64], NDArray[np.float64]]) -> tuple[Any, Any]:
    """Each verdict's value and the critic's on the alt-test's scale: preference codes, or scores as fractions of
    the profile's range."""
    lo, hi = spans
    width = np.where(hi > lo, hi - lo, 1.0)
    pairwise = humans.kind == humans.code(Kind.PAIRWISE)
    mine = np.where(pairwise, humans.preference.astype(float), (humans.score - lo) / width)
    critic = np.where(pairwise, humans.critic_preference.astype(float), (humans.critic_score - lo) / width)
    critic = np.where(pairwise & (humans.critic_preference < 0), np.nan, critic)
    return mine, critic


def _ppi_inputs(critic: CriticColumns, humans: HumanColumns, kind: str, scale: Any) -> tuple[Any, Any, Any, Any]:
    """One entry per (item, response model): the model (a code into the returned names), the mean human label
    (NaN where nobody judged the item) and the critic's prediction (NaN where it has none). Items are indexed by
    their id's offset, so no sorting of 100k ids (the ids of a dataset are dense: it is imported in bulk)."""
    h, c = humans, critic  # masks on the columns used, rather than copies of every column (take)
    if kind == Kind.POINTWISE:
        h_val, c_val = scale(h, h.score), scale(c, c.score)
    else:
        h_val = np.where(h.preference >= 0, PREFERENCE_OUTCOME[h.preference.clip(0, 2)], np.nan)
        c_val = np.where(c.preference >= 0, PREFERENCE_OUTCOME[c.preference.clip(0, 2)], np.nan)
    h_ok = (h.kind == h.code(kind)) & ~np.isnan(h_val)
    c_ok = (c.kind == c.code(kind)) & ~np.isnan(c_val)
    ids = np.concatenate([h.item[h_ok], c.item[c_ok]])
    names = np.where(h.names == "", "unknown model", h.names)
    if not ids.size:
        return np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0), names
    lo = int(ids.min())
    span = int(ids.max()) - lo + 1
    if span > 4 * ids.size:  # sparse ids: index by rank instead
        uniq = np.unique(ids)
        at_h, at_c, span = np.searchsorted(uniq, h.item[h_ok]), np.searchsorted(uniq, c.item[c_ok]), uniq.size
    else:
        at_h, at_c = h.item[h_ok] - lo, c.item[c_ok] - lo
    with np.errstate(invalid="ignore", divide="ignore"):
        label = np.bincount(at_h, weights=h_val[h_ok], minlength=span) / np.bincount(at_h, minlength=span)
    pred = np.full(span, np.nan)
    pred[at_c] = c_val[c_ok]
    model_a = np.zeros(span, dtype=np.int64)
    model_b = np.zeros(span, dtype=np.int64)
    model_a[at_h], model_b[at_h] = h.model_a[h_ok], h.model_b[h_ok]
    model_a[at_c], model_b[at_c] = c.model_a[c_ok], c.model_b[c_ok]
    present = ~np.isnan(label) | ~np.isnan(pred)
    label, pred, model_a, model_b = label[present], pred[present], model_a[present], model_b[present]
    if kind == Kind.POINTWISE:
        return model_a, label, pred, names
    return (
        np.concatenate([model_a, model_b]),
        np.concatenate([label, 1 - label]),
        np.concatenate([pred, 1 - pred]),
        names,
    )


HEADLINE = (("pointwise", "pearson"), ("pairwise", "accuracy_with_tie"), ("pairwise", "cohen_kappa"))


def trust_section(
    *, dataset: Dataset, critic: CriticColumns, everyone: HumanColumns, spans: Any, sections: dict[str, Any]
) -> dict[str, Any]:
    """The `trust` key of the metrics: {"alt_test", "human_ceiling", "ppi": {"pointwise", "pairwise"},
    "planning", "reviewer_pairs", "references"}. `spans(names, profiles)` gives each row's score range (from
    selectors/metrics/scales.py); `sections`, the metrics computed so far, whose headline agreement figures are planned
    too. Pointwise PPI is in the profile's units, or in fractions of the range when profiles
    with different ranges are mixed (as the pointwise section)."""
    names = reviewer_names(everyone.reviewer)
    mine, critic_value = _unit_values(everyone, spans(everyone.names, everyone.profile))
    pairwise = everyone.kind == everyone.code(Kind.PAIRWISE)
    verdicts = alt_test.Verdicts.of(
        item=everyone.item, reviewer=everyone.reviewer, value=mine, pairwise=pairwise, critic=critic_value
    )
    keep = ~np.isnan(verdicts.value)
    verdicts = alt_test.Verdicts.of(**{k: getattr(verdicts, k)[keep] for k in vars(verdicts)})
    epsilon = dataset.alt_test_epsilon if dataset.alt_test_epsilon is not None else alt_test.EPSILON
    loo = alt_test.leave_one_out(verdicts)
    out: dict[str, Any] = {
        "alt_test": alt_test.alt_test(verdicts, names=names, epsilon=epsilon, loo=loo),
        "human_ceiling": alt_test.human_ceiling(verdicts, names=names, loo=loo),
    }
    out["reviewer_pairs"] = {
        "pointwise": reviewers.pairs(
            verdicts.item[~verdicts.pairwise], verdicts.reviewer[~verdicts.pairwise],
            verdicts.value[~verdicts.pairwise], names=names, weighted=True,
        ),
        "pairwise": reviewers.pairs(
            verdicts.item[verdicts.pairwise], verdicts.reviewer[verdicts.pairwise],
            verdicts.value[verdicts.pairwise], names=names, weighted=False,
        ),
    }  # fmt: skip
    scale, score_range = _score_scale(critic, everyone, spans)
    rows: dict[str, list[dict[str, Any]]] = {}
    targets = {"pointwise": dataset.target_interval_width * score_range, "pairwise": dataset.target_interval_width}
    for kind_name in targets:
        model, label, pred, names = _ppi_inputs(critic, everyone, kind_name, scale)
        rows[kind_name] = ppi.ppi_rows(model, label, pred, names=names) if len(model) else []
    out["ppi"] = {kind: [_public(r) for r in kind_rows] for kind, kind_rows in rows.items()}
    out["planning"] = {"target_fraction": dataset.target_interval_width, "ppi": {}}
    for kind_name, kind_rows in rows.items():
        out["planning"]["ppi"][kind_name] = [
            planning.ppi_plan(r, target=targets[kind_name], sd_label=r.get("_sd_label", 0.0)) for r in kind_rows
        ]
    out["planning"]["agreement"] = [
        planning.bootstrap_plan(f"{kind} {name}", sections[kind][name], target=dataset.target_interval_width)
        for kind, name in HEADLINE
    ]
    out["references"] = REFERENCES
    return out


def _score_scale(critic: CriticColumns, humans: HumanColumns, spans: Any) -> tuple[Any, float]:
    """The pointwise scores' scale: (function of (columns, scores) giving the scores in it, its range)."""
    seen = set()
    for cols in (critic, humans):
        used = np.unique(cols.profile[cols.kind == cols.code(Kind.POINTWISE)])
        lo, hi = spans(cols.names, used)
        seen |= set(zip(lo.tolist(), hi.tolist(), strict=True))
    if len(seen) <= 1:
        lo1, hi1 = next(iter(seen)) if seen else (0.0, 1.0)
        return (lambda cols, scores: scores), float(hi1 - lo1) or 1.0

    def fraction(cols: Any, scores: Any) -> Any:
        lo, hi = spans(cols.names, cols.profile)
        return (scores - lo) / np.where(hi > lo, hi - lo, 1.0)

    return fraction, 1.0


def _public(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if not k.startswith("_")}


def _shown(s: dict[str, Any]) -> str:
    if s.get("value") is None:
        return f"— ({s.get('reason', '')})"
    ci = s.get("ci95")
    interval = f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else f" (no interval: {s.get('ci_reason', '')})"
    return f"{s['value']:.3f}{interval} n={s['n']}"


def trust_lines(trust: dict[str, Any]) -> list[str]:
    """The trust section as lines of text, for `critic_metrics`."""
    alt = trust["alt_test"]
    lines = ["", "alt-test (Calderon, Reichart & Dror 2025)"]
    if "reason" in alt:
        lines.append(f"  — ({alt['reason']})")
    else:
        lines.append(
            f"  {'passed' if alt['passed'] else 'not passed'}: winning rate {alt['winning_rate']:.2f}, advantage "
            f"probability {alt['advantage_probability']:.2f}, epsilon {alt['epsilon']:.2f}, n={alt['n_items']} items"
        )
        lines += [
            f"  {r['reviewer']:<20} p={r['p_value']:.4f} {'critic wins' if r['rejected'] else ''}"
            for r in alt["per_reviewer"]
        ]
    lines.append("human ceiling (each reviewer vs the others | the critic vs them)")
    for kind, block in trust["human_ceiling"].items():
        lines.append(f"  {kind}: {block['metric']}")
        rows = [{"reviewer": "everyone", **block["overall"]}, *block["reviewers"]]
        lines += [f"    {r['reviewer']:<18} {_shown(r['human']):<40} | {_shown(r['critic'])}" for r in rows]
    lines.append("PPI estimates (Angelopoulos et al. 2023, PPI++; ppi-python)")
    for kind, rows in trust["ppi"].items():
        for r in rows:
            estimate = (
                f"{r['estimate']:.3f} [{r['ci95'][0]:.3f}, {r['ci95'][1]:.3f}]"
                if r["estimate"] is not None
                else f"— ({r['reason']})"
            )
            lines.append(
                f"  {kind:<9} {r['model']:<24} {estimate}  people {_shown(r['human_only'])}  "
                f"labeled {r['n_labeled']} unlabeled {r['n_unlabeled']}"
            )
    lines.append(f"label planning (target: {trust['planning']['target_fraction']} of each figure's scale)")
    plans = [(k, p) for k, ps in trust["planning"]["ppi"].items() for p in ps]
    plans += [("", p) for p in trust["planning"]["agreement"]]
    for kind, p in plans:
        more = p["further_labels"] if p["further_labels"] is not None else f"— ({p.get('reason', '')})"
        lines.append(f"  {(kind + ' ' + p['figure']).strip():<34} further verdicts: {more}")
    return lines
