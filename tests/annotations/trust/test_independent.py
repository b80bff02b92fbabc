"""The metrics JSON against independent computations from the definitions (the paper's alt-test, ppi-python's
default calls, scipy / scikit-learn / krippendorff, Bradley-Terry by scipy.optimize), on stored data: 3-5 reviewers
overlapping partially, 0-100 and 1-10 mixed, ties, missing or failed critic verdicts, revisions (blind counts)."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import krippendorff
import numpy as np
import ppi_py
import pytest
from django.core.cache import cache
from scipy import optimize, special
from scipy import stats as sps
from sklearn.calibration import calibration_curve
from sklearn.metrics import cohen_kappa_score

from annotations.models import CriticVerdict, HumanVerdict, Item
from annotations.selectors.metrics import agreement_for_dataset
from tests.factories import CheckpointFactory, DatasetFactory, ItemFactory, UserFactory

pytestmark = pytest.mark.django_db
SPANS = {"pointwise": (0.0, 100.0), "llava-bench": (1.0, 10.0)}
OUTCOME = {"A": 1.0, "B": 0.0, "tie": 0.5}


# --- independent implementations, from the definitions ------------------------------------------------------


def alt_test_reference(humans: dict[int, dict[int, Any]], critic: dict[int, Any], align: Any, eps: float) -> dict:
    """The paper's alt-test: items with >= 3 reviewers and a critic verdict; per reviewer with >= 30, W_f = [S(f) >=
    S(h)], W_h = [S(h) >= S(f)], t-test of W_h - W_f < eps, BY step-up (k q / (m H_m)), omega, rho = mean W_f."""
    raters: dict[int, list[int]] = {}
    for h, judged in humans.items():
        for i in judged:
            raters.setdefault(i, []).append(h)
    usable = {i for i, rs in raters.items() if len(rs) >= 3 and i in critic}
    p_values, rho, kept, items = [], [], [], set()
    for h in sorted(humans):
        mine = sorted(i for i in humans[h] if i in usable)
        if len(mine) < 30:
            continue
        w_f, w_h = [], []
        for i in mine:
            others = [humans[g][i] for g in raters[i] if g != h]
            s_h, s_f = align(humans[h][i], others), align(critic[i], others)
            w_f.append(float(s_f >= s_h))
            w_h.append(float(s_h >= s_f))
        d = np.array(w_h) - np.array(w_f)
        with np.errstate(all="ignore"):
            p = sps.ttest_1samp(d, eps, alternative="less").pvalue
        p_values.append(float(p) if np.isfinite(p) else (0.0 if d.mean() < eps else 1.0))
        rho.append(float(np.mean(w_f)))
        kept.append(h)
        items |= set(mine)
    m = len(p_values)
    order = np.argsort(p_values)
    harmonic = sum(1 / k for k in range(1, m + 1))
    passing = [k for k in range(m) if p_values[order[k]] <= (k + 1) / m * 0.05 / harmonic]
    rejected = set(order[: max(passing) + 1].tolist()) if passing else set()
    return {
        "reviewers": kept,
        "p_values": p_values,
        "rejected": [k in rejected for k in range(m)],
        "winning_rate": len(rejected) / m if m else None,
        "advantage_probability": float(np.mean(rho)) if m else None,
        "n_items": len(items),
    }


def neg_rmse(x: Fraction, others: list[Fraction]) -> Fraction:
    """-RMSE, compared as -MSE (same order) in exact arithmetic: equal distances must tie, as they are."""
    return -sum(((x - o) ** 2 for o in others), Fraction(0)) / len(others)


def accuracy(x: Any, others: list[Any]) -> Fraction:
    return Fraction(sum(x == o for o in others), len(others))


def bradley_terry_reference(games: list[tuple[str, str, float]]) -> dict[str, float]:
    """Ratings minimising sum(log(1 + e^d) - y d) + 0.01 |s|^2 (d = s_a - s_b), by scipy's trust-region solver."""
    models = sorted({m for a, b, _ in games for m in (a, b)})
    at = {m: k for k, m in enumerate(models)}
    a = np.array([at[g[0]] for g in games])
    b = np.array([at[g[1]] for g in games])
    y = np.array([g[2] for g in games])

    def loss(s: Any) -> float:
        d = s[a] - s[b]
        return float(np.sum(np.logaddexp(0, d) - y * d) + 0.01 * s @ s)

    def grad(s: Any) -> Any:
        r = special.expit(s[a] - s[b]) - y
        return np.bincount(a, r, len(models)) - np.bincount(b, r, len(models)) + 0.02 * s

    fit = optimize.minimize(loss, np.zeros(len(models)), jac=grad, method="trust-constr",
                            options={"gtol": 1e-13, "xtol": 1e-14, "maxiter": 5000})  # fmt: skip
    return {m: 1000 + 400 / np.log(10) * fit.x[k] for m, k in at.items()}


# --- the stored world ---------------------------------------------------------------------------------------


def build(rng: np.random.Generator, *, n_point: int, n_pair: int, reviewers: int, mixed: bool) -> dict[str, Any]:
    dataset = DatasetFactory(name=f"indep-{n_point}-{reviewers}", review_overlap=3)
    critic = CheckpointFactory(name=f"judge-{n_point}-{reviewers}", is_active=True)
    people = [UserFactory(username=f"ind{k}") for k in range(reviewers)]
    seed = ItemFactory(dataset=dataset)
    models = ["m-a", "m-b", "m-c"]
    rows = []
    for i in range(n_point):
        profile = "llava-bench" if mixed and i % 3 == 0 else "pointwise"
        rows.append(Item(dataset=dataset, external_id=f"p{i}", image=seed.image, question="Q", response_a="a",
                         model_a=models[i % 3], kind="pointwise", profile=profile))  # fmt: skip
    for i in range(n_pair):
        a, b = rng.choice(3, 2, replace=False)
        rows.append(Item(dataset=dataset, external_id=f"w{i}", image=seed.image, question="Q", response_a="a",
                         response_b="b", model_a=models[a], model_b=models[b], kind="pairwise",
                         profile="pairwise"))  # fmt: skip
    seed.delete()
    stored = Item.objects.bulk_create(rows)
    c_rows, h_rows = [], []
    for item in stored:
        lo, hi = SPANS.get(item.profile, (0, 0))
        truth = rng.uniform(lo, hi)
        status = "failed" if rng.random() < 0.05 else "done"
        if rng.random() < 0.9:  # some items have no critic verdict at all
            conf = float(rng.choice([0.5, 0.8, 1.0])) if rng.random() < 0.3 else float(rng.uniform(0.3, 1))
            if item.kind == "pointwise":
                score = float(np.clip(round(truth + rng.normal(3, (hi - lo) / 8)), lo, hi))
                c_rows.append(CriticVerdict(item=item, checkpoint=critic, profile=item.profile, status=status,
                                            score=score if status == "done" else None, confidence=conf))  # fmt: skip
            else:
                pref = str(rng.choice(["A", "B", "tie"], p=[0.45, 0.35, 0.2])) if status == "done" else None
                c_rows.append(CriticVerdict(item=item, checkpoint=critic, profile="pairwise", status=status,
                                            preference=pref, confidence=conf))  # fmt: skip
        roll = rng.random()  # a third unjudged (for PPI), some with fewer than three reviewers, most with 3-5
        k = 0 if roll < 0.3 else int(rng.integers(1, 3)) if roll < 0.4 else min(reviewers, int(rng.integers(3, 6)))
        for person in rng.choice(people, k, replace=False):
            revised = rng.random() < 0.3
            if item.kind == "pointwise":
                score = float(np.clip(round(truth + rng.normal(0, (hi - lo) / 10)), lo, hi))
                h_rows.append(HumanVerdict(item=item, reviewer=person, profile=item.profile, score=score,
                                           revised_score=lo if revised else None,
                                           revised_at="2025-01-01T00:00Z" if revised else None))  # fmt: skip
            else:
                pref = str(rng.choice(["A", "B", "tie"], p=[0.5, 0.3, 0.2]))
                h_rows.append(HumanVerdict(item=item, reviewer=person, profile="pairwise", preference=pref,
                                           revised_preference="tie" if revised else None,
                                           revised_at="2025-01-01T00:00Z" if revised else None))  # fmt: skip
    CriticVerdict.objects.bulk_create(c_rows)
    HumanVerdict.objects.bulk_create(h_rows)
    cache.clear()
    return {"dataset": dataset, "critic": critic}


def read(dataset: Any) -> dict[str, Any]:
    """The stored verdicts read plainly (not by the metrics' fetch): blind human verdicts, finished critic ones."""
    kind = dict(Item.objects.filter(dataset=dataset).values_list("id", "kind"))
    profile = dict(Item.objects.filter(dataset=dataset).values_list("id", "profile"))
    model = {i: (a, b) for i, a, b in Item.objects.filter(dataset=dataset).values_list("id", "model_a", "model_b")}
    done = CriticVerdict.objects.filter(item__dataset=dataset, status="done")
    critic = {i: (s, p, c) for i, s, p, c in done.values_list("item_id", "score", "preference", "confidence")}
    humans = list(HumanVerdict.objects.filter(item__dataset=dataset).values_list("item_id", "reviewer_id", "score",
                                                                                 "preference"))  # fmt: skip
    mixed = len({p for i, p in profile.items() if kind[i] == "pointwise"}) > 1
    return {"kind": kind, "profile": profile, "model": model, "critic": critic, "humans": humans, "mixed": mixed}


def frac(item: int, score: float, w: dict[str, Any], exact: bool = False) -> Any:
    lo, hi = SPANS[w["profile"][item]]
    return Fraction(int(score) - int(lo), int(hi - lo)) if exact else (score - lo) / (hi - lo)


def unit(item: int, score: float, w: dict[str, Any]) -> float:
    """A score as the metrics show it: its profile's units, or a fraction of the range when profiles mix."""
    return frac(item, score, w) if w["mixed"] else score


@pytest.mark.parametrize(
    ("n_point", "n_pair", "reviewers", "mixed", "seed"), [(110, 90, 5, True, 1), (80, 70, 3, False, 2)]
)
def test_every_figure_matches_an_independent_computation(
    n_point: int, n_pair: int, reviewers: int, mixed: bool, seed: int
) -> None:
    world = build(np.random.default_rng(seed), n_point=n_point, n_pair=n_pair, reviewers=reviewers, mixed=mixed)
    got = agreement_for_dataset(dataset=world["dataset"])
    w = read(world["dataset"])
    crit = w["critic"]
    # Pointwise agreement: one pair per blind human verdict on an item with a finished critic score.
    pairs = [(unit(i, s, w), unit(i, crit[i][0], w), crit[i][2]) for i, _r, s, _p in w["humans"]
             if w["kind"][i] == "pointwise" and i in crit]  # fmt: skip
    h, c, conf = (np.array(x) for x in zip(*pairs, strict=True))
    pw = got["pointwise"]
    assert pw["score_scale"] == ("fraction of range" if mixed else "pointwise")
    assert pw["n"] == h.size
    assert pw["pearson"]["value"] == pytest.approx(sps.pearsonr(h, c).statistic, abs=1e-9)
    assert pw["spearman"]["value"] == pytest.approx(sps.spearmanr(h, c).statistic, abs=1e-9)
    assert pw["kendall_tau"]["value"] == pytest.approx(sps.kendalltau(h, c).statistic, abs=1e-9)
    assert pw["mae"]["value"] == pytest.approx(np.abs(h - c).mean(), abs=1e-9)
    for key in ("pearson", "spearman", "kendall_tau", "mae"):
        lo, hi = pw[key]["ci95"]
        assert lo <= pw[key]["value"] <= hi
    # Pairwise agreement.
    pp = [(p, crit[i][1], crit[i][2]) for i, _r, _s, p in w["humans"] if w["kind"][i] == "pairwise" and i in crit]
    hp, cp, pconf = (np.array(x) for x in zip(*pp, strict=True))
    pa = got["pairwise"]
    assert pa["accuracy_with_tie"]["value"] == pytest.approx(np.mean(hp == cp), abs=1e-9)
    no_tie = (hp != "tie") & (cp != "tie")
    assert pa["accuracy_without_tie"]["value"] == pytest.approx(np.mean(hp[no_tie] == cp[no_tie]), abs=1e-9)
    assert pa["cohen_kappa"]["value"] == pytest.approx(cohen_kappa_score(hp, cp), abs=1e-9)
    # Krippendorff's alpha among reviewers (every blind verdict, critic or not).
    for kind, level in (("pointwise", "interval"), ("pairwise", "nominal")):
        items = sorted(i for i in w["kind"] if w["kind"][i] == kind)
        people = sorted({r for _i, r, _s, _p in w["humans"]})
        matrix = np.full((len(people), len(items)), np.nan)
        for i, r, s, p in w["humans"]:
            if w["kind"][i] == kind:
                matrix[people.index(r), items.index(i)] = frac(i, s, w) if kind == "pointwise" else "ABt".index(p[0])
        want = krippendorff.alpha(reliability_data=matrix, level_of_measurement=level)
        assert got["reviewers"][kind]["krippendorff_alpha"]["value"] == pytest.approx(want, abs=1e-9)
    # Calibration: ECE over scikit-learn's bins, pointwise "agreed" = within the threshold of the range.
    threshold = world["dataset"].disagreement_threshold
    close = np.abs(h - c) <= threshold * (1 if mixed else 100) + 1e-12
    for kind, p, agreed in (("pointwise", conf, close), ("pairwise", pconf, hp == cp)):
        edges = np.linspace(0, 1, 11)
        bins = np.searchsorted(edges[1:-1], p)  # calibration_curve's own binning
        acc, mean_conf = calibration_curve(agreed, p, n_bins=10)
        counts = np.bincount(bins, minlength=10)[np.bincount(bins, minlength=10) > 0]
        assert got["calibration"][kind]["ece"]["value"] == pytest.approx(
            float(np.sum(counts * np.abs(acc - mean_conf)) / p.size), abs=1e-9
        )
        assert [b["accuracy"] for b in got["calibration"][kind]["curve"]] == pytest.approx(acc.tolist(), abs=1e-9)
    # The alt-test, from the definitions, over both kinds of item as the app pools them per reviewer.
    check_alt_test(got["trust"]["alt_test"], got["trust"]["human_ceiling"], w, world["dataset"])
    # PPI: ppi-python's default calls on each model's labels (an item's label: its reviewers' mean).
    check_ppi(got["trust"]["ppi"], w)
    # Bradley-Terry from the reviewers' blind preferences, by scipy.
    games = [(*w["model"][i], OUTCOME[p]) for i, _r, _s, p in w["humans"] if w["kind"][i] == "pairwise"]
    want_bt = bradley_terry_reference(games)
    for row in got["leaderboard"]["human"]["models"]:
        assert row["rating"]["value"] == pytest.approx(want_bt[row["model"]], abs=1e-6)
        lo, hi = row["rating"]["ci95"]
        assert lo <= row["rating"]["value"] <= hi


def check_alt_test(alt: dict[str, Any], ceiling: dict[str, Any], w: dict[str, Any], dataset: Any) -> None:
    point: dict[int, dict[int, float]] = {}
    pair: dict[int, dict[int, str]] = {}
    for i, r, s, p in w["humans"]:
        if w["kind"][i] == "pointwise":
            point.setdefault(r, {})[i] = frac(i, s, w, exact=True)
        else:
            pair.setdefault(r, {})[i] = p
    crit = w["critic"]
    c_point = {i: frac(i, v[0], w, exact=True) for i, v in crit.items() if w["kind"][i] == "pointwise"}
    c_pair = {i: v[1] for i, v in crit.items() if w["kind"][i] == "pairwise"}
    humans = {
        r: {**{("p", i): v for i, v in point.get(r, {}).items()}, **{("w", i): v for i, v in pair.get(r, {}).items()}}
        for r in set(point) | set(pair)
    }
    critic = {**{("p", i): v for i, v in c_point.items()}, **{("w", i): v for i, v in c_pair.items()}}

    def align(x: Any, others: list[Any]) -> Any:
        return accuracy(x, others) if isinstance(x, str) else neg_rmse(x, others)

    def ceiling_score(x: Any, others: list[Any]) -> float:
        return float(align(x, others)) if isinstance(x, str) else 1 - float(np.sqrt(float(-align(x, others))))

    # The human ceiling: each verdict's alignment with the item's other reviewers (1 - RMSE on fractions), and the
    # critic's with the same reviewers, averaged per kind over items with two or more reviewers.
    raters: dict[Any, list[int]] = {}
    for r in humans:
        for key in humans[r]:
            raters.setdefault(key, []).append(r)
    for kind, tag in (("pointwise", "p"), ("pairwise", "w")):
        s_h, s_c = [], []
        for key, rs in raters.items():
            if key[0] != tag or len(rs) < 2:
                continue
            for r in rs:
                others = [humans[g][key] for g in rs if g != r]
                s_h.append(ceiling_score(humans[r][key], others))
                if key in critic:
                    s_c.append(ceiling_score(critic[key], others))
        overall = ceiling[kind]["overall"]
        assert overall["human"]["value"] == pytest.approx(np.mean(s_h), abs=1e-9)
        assert overall["critic"]["value"] == pytest.approx(np.mean(s_c), abs=1e-9)
        assert (overall["human"]["n"], overall["critic"]["n"]) == (len(s_h), len(s_c))
    want = alt_test_reference(humans, critic, align, dataset.alt_test_epsilon or 0.2)
    assert "reason" not in alt, alt
    assert alt["n_items"] == want["n_items"]
    assert [r["p_value"] for r in alt["per_reviewer"]] == pytest.approx(want["p_values"], abs=1e-9)
    assert [r["rejected"] for r in alt["per_reviewer"]] == want["rejected"]
    assert alt["winning_rate"] == pytest.approx(want["winning_rate"], abs=1e-12)
    assert alt["advantage_probability"] == pytest.approx(want["advantage_probability"], abs=1e-12)
    assert alt["passed"] == (want["winning_rate"] >= 0.5)


def check_ppi(ppi: dict[str, list[dict[str, Any]]], w: dict[str, Any]) -> None:
    crit = w["critic"]
    labels: dict[int, list[float]] = {}
    for i, _r, s, p in w["humans"]:
        labels.setdefault(i, []).append(unit(i, s, w) if w["kind"][i] == "pointwise" else OUTCOME[p])
    for kind in ("pointwise", "pairwise"):
        per_model: dict[str, tuple[list[float], list[float], list[float]]] = {}
        for i, k in w["kind"].items():
            if k != kind or i not in crit:
                continue
            pred = unit(i, crit[i][0], w) if kind == "pointwise" else OUTCOME[crit[i][1]]
            label = float(np.mean(labels[i])) if i in labels else None
            sides = [(w["model"][i][0], pred, label)]
            if kind == "pairwise":
                sides.append((w["model"][i][1], 1 - pred, None if label is None else 1 - label))
            for m, f, y in sides:
                ys, fs, fu = per_model.setdefault(m, ([], [], []))
                if y is None:
                    fu.append(f)
                else:
                    ys.append(y)
                    fs.append(f)
        rows = {r["model"]: r for r in ppi[kind]}
        compared = 0
        assert set(rows) == set(per_model)
        for m, (ys, fs, fu) in per_model.items():
            y, f, u = np.array(ys), np.array(fs), np.array(fu)
            assert (rows[m]["n_labeled"], rows[m]["n_unlabeled"]) == (y.size, u.size)
            if u.size == 0 or y.size < 10:
                assert rows[m]["estimate"] is None
                assert rows[m]["reason"]
                continue
            assert rows[m]["estimate"] == pytest.approx(ppi_py.ppi_mean_pointestimate(y, f, u)[0], abs=1e-9)
            lo, hi = ppi_py.ppi_mean_ci(y, f, u, alpha=0.05)
            assert rows[m]["ci95"] == pytest.approx([lo[0], hi[0]], abs=1e-9)
            compared += 1
        assert compared


@pytest.mark.parametrize("case", ["all-tied", "one-constant", "three-or-five", "pairwise-no-ties", "pairwise-ties"])
def test_the_alt_test_on_edge_cases_matches_the_definition(case: str) -> None:
    from annotations.trust import alt_test

    rng = np.random.default_rng(len(case))
    rows, critic = [], {}
    for i in range(60):
        k = 3 if case != "three-or-five" or i % 2 else 5
        pairwise = case.startswith("pairwise")
        choices = ["A", "B", "tie"] if case == "pairwise-ties" else ["A", "B"]
        for r in range(k):
            if case == "all-tied":
                v: Any = Fraction(1, 2)
            elif pairwise:
                v = str(rng.choice(choices))
            else:
                v = Fraction(2, 4) if case == "one-constant" and r == 0 else Fraction(int(rng.integers(1, 6)) - 1, 4)
            rows.append((i, r, v))
        critic[i] = str(rng.choice(choices)) if pairwise else Fraction(int(rng.integers(1, 6)) - 1, 4)
        critic[i] = Fraction(1, 2) if case == "all-tied" else critic[i]
    humans: dict[int, dict[int, Any]] = {}
    for i, r, v in rows:
        humans.setdefault(r, {})[i] = v
    want = alt_test_reference(humans, critic, accuracy if pairwise else neg_rmse, 0.2)
    code = {"A": 0.0, "B": 1.0, "tie": 2.0}
    value = [code[v] if isinstance(v, str) else float(v) for _i, _r, v in rows]
    c = [code[critic[i]] if isinstance(critic[i], str) else float(critic[i]) for i, _r, _v in rows]
    verdicts = alt_test.Verdicts.of(item=[x[0] for x in rows], reviewer=[x[1] for x in rows], value=value,
                                    pairwise=[pairwise] * len(rows), critic=c)  # fmt: skip
    got = alt_test.alt_test(verdicts, names={})
    assert [r["p_value"] for r in got["per_reviewer"]] == pytest.approx(want["p_values"], abs=1e-12)
    assert [r["rejected"] for r in got["per_reviewer"]] == want["rejected"]
    assert got["winning_rate"] == pytest.approx(want["winning_rate"], abs=1e-12)
    assert got["advantage_probability"] == pytest.approx(want["advantage_probability"], abs=1e-12)
    assert got["n_items"] == want["n_items"]


def test_ppi_edges_and_bootstrap_intervals_narrow_with_n() -> None:
    from annotations import stats
    from annotations.trust import ppi

    rng = np.random.default_rng(4)
    y = rng.integers(1, 6, 40).astype(float)
    flat = ppi.ppi_rows(["m"] * 100, [*y, *[np.nan] * 60], [3.0] * 100)[0]  # a critic that never varies: lambda 0
    lo, hi = ppi_py.ppi_mean_ci(y, np.full(40, 3.0), np.full(60, 3.0), alpha=0.05, lam=0.0)
    assert flat["estimate"] == pytest.approx(y.mean(), abs=1e-12)
    assert flat["ci95"] == pytest.approx([lo[0], hi[0]], abs=1e-12)
    one = ppi.ppi_rows(["solo"], [4.0], [4.0])[0]  # a model with one item: no estimate, a reason
    assert one["estimate"] is None
    assert "PPI needs" in one["reason"]
    widths = []
    for n in (40, 640):
        h = rng.integers(1, 11, n).astype(float)
        c = np.clip(h + rng.integers(-2, 3, n), 1, 10)
        out = stats.pointwise_agreement(h, c)
        for key in ("pearson", "spearman", "kendall_tau", "mae"):
            assert out[key]["ci95"][0] <= out[key]["value"] <= out[key]["ci95"][1]
        widths.append(out["pearson"]["ci95"][1] - out["pearson"]["ci95"][0])
    assert widths[1] < widths[0] / 2.5  # ~1/sqrt(16) = 1/4 of the width
