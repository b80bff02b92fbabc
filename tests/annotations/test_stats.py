"""Every statistic against the library's own result on generated data, and the bootstrap's weighted formulas
against the same library on the expanded rows they stand for."""

from __future__ import annotations

import math
import warnings

import krippendorff
import numpy as np
import pytest
from scipy import stats as sps
from sklearn.calibration import calibration_curve
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, cohen_kappa_score, confusion_matrix

from annotations import bradley_terry, stats

PREFS = ["A", "B", "tie"]


def scores(seed: int, n: int, *, levels: int = 11, noise: float = 15.0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    h = rng.integers(0, levels, n) * (100 / (levels - 1))
    c = np.clip(np.round(h + rng.normal(0, noise, n)), 0, 100)
    return h, c


def preferences(seed: int, n: int, agree: float = 0.6) -> tuple[list[str], list[str]]:
    rng = np.random.default_rng(seed)
    h = rng.choice(PREFS, n)
    c = np.where(rng.random(n) < agree, h, rng.choice(PREFS, n))
    return list(h), list(c)


def no_nan(obj: object) -> None:
    """Nothing anywhere in a result is NaN or infinite (the page shows a dash and a reason instead)."""
    if isinstance(obj, dict):
        for v in obj.values():
            no_nan(v)
    elif isinstance(obj, list | tuple):
        for v in obj:
            no_nan(v)
    elif isinstance(obj, float):
        assert math.isfinite(obj), obj


def expanded(w_row: np.ndarray, *cols: np.ndarray) -> list[np.ndarray]:
    counts = w_row.astype(int)
    return [np.repeat(col, counts) for col in cols]


# -- pointwise --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("seed", "n"), [(0, 50), (1, 400), (2, 5)])
def test_pointwise_values_are_scipys(seed: int, n: int) -> None:
    h, c = scores(seed, n)
    models = [f"m{i % 4}" for i in range(n)]
    out = stats.pointwise_agreement(h, c, models)
    assert out["pearson"]["value"] == pytest.approx(sps.pearsonr(h, c).statistic)
    assert out["spearman"]["value"] == pytest.approx(sps.spearmanr(h, c).statistic)
    assert out["kendall_tau"]["value"] == pytest.approx(sps.kendalltau(h, c).statistic)
    assert out["mae"]["value"] == pytest.approx(np.mean(np.abs(h - c)))
    means = stats.model_means(models, h, c)
    hm = [np.mean(h[[m == k for m in models]]) for k in sorted(means)]
    cm = [np.mean(c[[m == k for m in models]]) for k in sorted(means)]
    assert out["model_level_kendall_tau"]["value"] == pytest.approx(sps.kendalltau(hm, cm).statistic)
    assert out["model_level_kendall_tau"]["n"] == 4
    for key in ("pearson", "spearman", "kendall_tau", "mae"):
        assert out[key]["n"] == n
        if n < stats.MIN_CI_N:  # a bootstrap over five pairs is not a 95% interval: none, and why
            assert out[key]["ci95"] is None
            assert "too few" in out[key]["ci_reason"]
            continue
        lo, hi = out[key]["ci95"]
        assert lo <= out[key]["value"] <= hi
    no_nan(out)


@pytest.mark.parametrize(("levels", "n"), [(11, 300), (101, 300), (101, 5000)])
def test_weighted_formulas_equal_scipy_on_the_rows_each_replicate_stands_for(levels: int, n: int) -> None:
    h, c = scores(3, n, levels=levels)
    (xs, ys), counts = stats.distinct(h, c)
    w = stats.replicate_weights(counts, salt=1)[:5]
    pearson = stats.weighted_pearson(w, xs, ys)
    spearman = stats.weighted_spearman(w, xs, ys)
    kendall = stats.weighted_kendall_tau_b(w, xs, ys)
    for b in range(5):
        x, y = expanded(w[b], xs, ys)
        assert x.size == n  # a replicate has n rows, as resampling them would
        assert pearson[b] == pytest.approx(sps.pearsonr(x, y).statistic)
        assert spearman[b] == pytest.approx(sps.spearmanr(x, y).statistic)
        assert kendall[b] == pytest.approx(sps.kendalltau(x, y).statistic)


def test_kendall_rows_equal_scipy_with_ties_and_missing_models() -> None:
    rng = np.random.default_rng(4)
    a = rng.integers(0, 4, (20, 6)).astype(float)
    b = rng.integers(0, 4, (20, 6)).astype(float)
    a[3, 2] = np.nan
    got = stats.kendall_tau_b_rows(a, b)
    for r in range(20):
        ok = np.isfinite(a[r]) & np.isfinite(b[r])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            want = sps.kendalltau(a[r][ok], b[r][ok]).statistic
        assert (np.isnan(want) and np.isnan(got[r])) or got[r] == pytest.approx(want)


def test_pointwise_edge_cases_are_undefined_never_nan() -> None:
    out = stats.pointwise_agreement([], [], [])
    assert all(out[k]["value"] is None for k in out)
    out = stats.pointwise_agreement([10.0, 20.0], [15.0, 30.0], ["a", "b"])
    assert out["pearson"] == {"value": None, "ci95": None, "n": 2, "reason": "n < 3"}
    assert out["mae"]["value"] == pytest.approx(7.5)  # MAE is defined for any n > 0
    flat = stats.pointwise_agreement([50.0] * 10, list(range(10)), ["a"] * 10)
    assert flat["spearman"]["reason"] == "human scores do not vary"
    assert flat["model_level_kendall_tau"]["reason"].startswith("fewer than 3")
    no_nan(out)
    no_nan(flat)


# -- pairwise ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("seed", "n"), [(0, 60), (1, 1000)])
def test_pairwise_values_are_sklearns(seed: int, n: int) -> None:
    h, c = preferences(seed, n)
    out = stats.pairwise_agreement(h, c)
    assert out["accuracy_with_tie"]["value"] == pytest.approx(accuracy_score(h, c))
    keep = [i for i in range(n) if h[i] != "tie" and c[i] != "tie"]
    assert out["n_without_tie"] == len(keep)
    assert out["accuracy_without_tie"]["value"] == pytest.approx(
        accuracy_score([h[i] for i in keep], [c[i] for i in keep])
    )
    assert out["cohen_kappa"]["value"] == pytest.approx(cohen_kappa_score(h, c))
    assert out["confusion_matrix"]["counts"] == confusion_matrix(h, c, labels=PREFS).tolist()
    for key in ("accuracy_with_tie", "accuracy_without_tie", "cohen_kappa"):
        lo, hi = out[key]["ci95"]
        assert lo <= out[key]["value"] <= hi
    no_nan(out)


def test_weighted_kappa_equals_sklearn_per_replicate() -> None:
    h, c = preferences(5, 200)
    table = np.asarray(stats.confusion(h, c), dtype=float)
    w = stats.replicate_weights(table.ravel().astype(np.int64), salt=3)[:5].reshape(-1, 3, 3)
    kappas = stats.kappa_from_tables(w)
    cells = np.array([(i, j) for i in range(3) for j in range(3)])
    for b in range(5):
        hx, cx = expanded(w[b].ravel(), cells[:, 0], cells[:, 1])
        assert kappas[b] == pytest.approx(cohen_kappa_score(hx, cx))


def test_pairwise_edge_cases() -> None:
    all_ties = stats.pairwise_agreement(["tie"] * 5, ["tie"] * 5)
    assert all_ties["accuracy_with_tie"]["value"] == 1.0
    assert all_ties["accuracy_without_tie"] == {"value": None, "ci95": None, "n": 0, "reason": "every pair has a tie"}
    assert all_ties["cohen_kappa"]["reason"] == "one class"
    one_class = stats.pairwise_agreement(["A"] * 8, ["A"] * 8)
    assert one_class["cohen_kappa"]["value"] is None
    small = stats.pairwise_agreement(["A", "B"], ["A", "A"])
    assert small["cohen_kappa"]["reason"] == "n < 3"
    assert small["accuracy_with_tie"]["value"] == 0.5
    empty = stats.pairwise_agreement([], [])
    assert empty["n"] == 0
    assert empty["accuracy_with_tie"]["value"] is None
    for out in (all_ties, one_class, small, empty):
        no_nan(out)
    with pytest.raises(ValueError, match="preferences"):
        stats.pairwise_agreement(["A", "C"], ["A", "B"])


# -- reviewers --------------------------------------------------------------------------------------------------


def reliability_matrix(units: list[int], values: list[float]) -> np.ndarray:
    """The krippendorff package's own layout: reviewers x items, NaN where a reviewer gave no value."""
    per_unit: dict[int, list[float]] = {}
    for u, v in zip(units, values, strict=True):
        per_unit.setdefault(u, []).append(v)
    width = max(len(v) for v in per_unit.values())
    matrix = np.full((width, len(per_unit)), np.nan)
    for j, vals in enumerate(per_unit.values()):
        matrix[: len(vals), j] = vals
    return matrix


@pytest.mark.parametrize("level", ["interval", "nominal"])
def test_krippendorff_alpha_is_the_packages(level: str) -> None:
    rng = np.random.default_rng(6)
    units, values = [], []
    for u in range(80):
        truth = rng.integers(0, 5)
        for _ in range(rng.integers(1, 4)):  # 1 to 3 reviewers; items with one are left out
            units.append(u)
            values.append(float(truth if rng.random() < 0.7 else rng.integers(0, 5)))
    out = stats.krippendorff_alpha(units, values, level=level)
    want = krippendorff.alpha(reliability_data=reliability_matrix(units, values), level_of_measurement=level)
    assert out["value"] == pytest.approx(want)
    assert out["n"] == sum(1 for u in set(units) if units.count(u) >= 2)
    lo, hi = out["ci95"]
    assert lo <= out["value"] <= hi


@pytest.mark.parametrize("level", ["interval", "nominal"])
def test_weighted_alpha_equals_the_package_on_expanded_items(level: str) -> None:
    rng = np.random.default_rng(7)
    counts = np.zeros((40, 4))
    for row in counts:
        for _ in range(rng.integers(2, 4)):
            row[rng.integers(0, 4) if rng.random() < 0.5 else 1] += 1
    patterns, pattern_counts = np.unique(counts, axis=0, return_counts=True)
    domain = np.arange(4, dtype=float)
    w = stats.replicate_weights(pattern_counts.astype(np.int64), salt=5)[:4]
    got = stats.weighted_alpha(w, patterns, domain, level)
    for b in range(4):
        rows = np.repeat(patterns, w[b].astype(int), axis=0)
        want = krippendorff.alpha(value_counts=rows, value_domain=domain, level_of_measurement=level)
        assert got[b] == pytest.approx(want)


def test_alpha_edge_cases() -> None:
    assert stats.krippendorff_alpha([1, 2, 3], [5.0, 6.0, 7.0], level="interval")["reason"] == (
        "no item has more than one reviewer"
    )
    same = stats.krippendorff_alpha([1, 1, 2, 2, 3, 3], ["A"] * 6, level="nominal")
    assert same == {"value": None, "ci95": None, "n": 3, "reason": "every reviewer gave the same value"}
    # One item (the package would say 0.000 [0.000, 0.000]): no value, and why.
    one = stats.krippendorff_alpha([1, 1], [10.0, 90.0], level="interval")
    assert one["value"] is None
    assert one["reason"] == "1 item(s) with two or more reviewers: alpha needs at least 3"
    assert stats.krippendorff_alpha([], [], level="nominal")["value"] is None


# -- calibration ------------------------------------------------------------------------------------------------


def test_reliability_curve_and_ece_match_sklearns_bins() -> None:
    rng = np.random.default_rng(8)
    p = rng.random(2000)
    y = rng.random(2000) < p * 0.8
    out = stats.calibration(p, y)
    prob_true, prob_pred = calibration_curve(y, p, n_bins=10, strategy="uniform")
    assert [row["accuracy"] for row in out["curve"]] == pytest.approx(list(prob_true))
    assert [row["confidence"] for row in out["curve"]] == pytest.approx(list(prob_pred))
    sizes = np.array([row["n"] for row in out["curve"]])
    assert out["ece"]["value"] == pytest.approx(float(np.sum(sizes / 2000 * np.abs(prob_true - prob_pred))))
    lo, hi = out["ece"]["ci95"]
    assert lo <= out["ece"]["value"] <= hi
    assert stats.calibration([], [])["ece"]["value"] is None


# -- Bradley-Terry ----------------------------------------------------------------------------------------------


def test_bradley_terry_is_sklearns_logistic_regression_with_ties_as_half_wins() -> None:
    rng = np.random.default_rng(9)
    names = ["alpha", "beta", "gamma", "delta"]
    strength = {"alpha": 1.0, "beta": 0.3, "gamma": 0.0, "delta": -0.8}
    a, b, o = [], [], []
    for _ in range(600):
        i, j = rng.choice(4, 2, replace=False)
        p = 1 / (1 + math.exp(strength[names[j]] - strength[names[i]]))
        r = rng.random()
        a.append(names[i])
        b.append(names[j])
        o.append("tie" if r < 0.15 else ("A" if r < 0.15 + 0.85 * p else "B"))
    board = bradley_terry.bradley_terry(a, b, o)
    order = sorted(names)
    x, y, sw = [], [], []
    for ma, mb, out in zip(a, b, o, strict=True):
        row = np.zeros(4)
        row[order.index(ma)], row[order.index(mb)] = 1, -1
        for label, weight in ((1, {"A": 1.0, "tie": 0.5, "B": 0.0}[out]), (0, {"A": 0.0, "tie": 0.5, "B": 1.0}[out])):
            if weight:
                x.append(row)
                y.append(label)
                sw.append(weight)
    lr = LogisticRegression(C=1 / (2 * bradley_terry.BT_RIDGE), fit_intercept=False, tol=1e-10, max_iter=10_000)
    lr.fit(np.array(x), np.array(y), sample_weight=np.array(sw))
    want = {m: bradley_terry.BT_BASE + bradley_terry.BT_SCALE * lr.coef_[0][k] for k, m in enumerate(order)}
    got = {row["model"]: row["rating"]["value"] for row in board["models"]}
    for m in names:
        assert got[m] == pytest.approx(want[m], abs=0.05)
    assert [row["model"] for row in board["models"]] == ["alpha", "beta", "gamma", "delta"]
    for row in board["models"]:
        lo, hi = row["rating"]["ci95"]
        assert lo <= row["rating"]["value"] <= hi
    assert sum(row["rating"]["n"] for row in board["models"]) == 2 * 600


def test_a_model_that_never_lost_still_gets_a_finite_rating() -> None:
    board = bradley_terry.bradley_terry(["a", "a", "b"], ["b", "c", "c"], ["A", "A", "tie"])
    no_nan(bradley_terry.strip_private(board))
    assert board["models"][0]["model"] == "a"
    assert bradley_terry.bradley_terry(["a"], ["a"], ["A"])["models"] == []


def test_leaderboard_correlation_is_kendalls_tau() -> None:
    h = bradley_terry.bradley_terry(["a", "b", "c", "a"] * 20, ["b", "c", "d", "d"] * 20, ["A", "A", "A", "tie"] * 20)
    c = bradley_terry.bradley_terry(["a", "b", "c", "a"] * 20, ["b", "c", "d", "d"] * 20, ["B", "A", "A", "A"] * 20)
    hv = {r["model"]: r["rating"]["value"] for r in h["models"]}
    cv = {r["model"]: r["rating"]["value"] for r in c["models"]}
    models = sorted(hv)
    out = bradley_terry.leaderboard_correlation(h, c)
    assert out["value"] == pytest.approx(sps.kendalltau([hv[m] for m in models], [cv[m] for m in models]).statistic)
    assert out["n"] == 4


# -- the bootstrap ----------------------------------------------------------------------------------------------


def test_the_bootstrap_is_seeded_so_a_page_shows_the_same_numbers_twice() -> None:
    h, c = scores(10, 500)
    assert stats.pointwise_agreement(h, c, ["m"] * 500) == stats.pointwise_agreement(h, c, ["m"] * 500)
    hp, cp = preferences(10, 500)
    assert stats.pairwise_agreement(hp, cp) == stats.pairwise_agreement(hp, cp)


def test_many_distinct_observations_get_fewer_replicates_but_never_too_few() -> None:
    assert stats.replicates_for(9) == stats.B
    assert stats.replicates_for(10**7) == stats.MIN_B


def test_rate() -> None:
    out = stats.rate([True, False, True, True])
    assert out["value"] == 0.75
    assert out["n"] == 4
    assert stats.rate([], reason="none")["reason"] == "none"


def test_model_level_tau_with_very_many_distinct_scores_uses_the_normal_approximation() -> None:
    rng = np.random.default_rng(12)
    models = [f"m{i % 5}" for i in range(20_000)]
    offset = np.array([int(m[1]) * 5 for m in models], dtype=float)
    h = np.clip(np.round(rng.uniform(0, 80, 20_000) + offset), 0, 100)
    c = np.clip(np.round(h + rng.normal(0, 20, 20_000)), 0, 100)
    assert len(stats.distinct(models, h, c)[1]) * stats.B > stats.MAX_DRAWS  # the approximate path
    out = stats.model_level_kendall_tau(h, c, models)
    means = stats.model_means(models, h, c)
    want = sps.kendalltau([v[0] for v in means.values()], [v[1] for v in means.values()]).statistic
    assert out["value"] == pytest.approx(want)
    lo, hi = out["ci95"]
    assert lo <= out["value"] <= hi


def test_alpha_on_many_items_uses_the_closed_form_and_still_equals_the_package() -> None:
    rng = np.random.default_rng(13)
    units = np.repeat(np.arange(1200), 2)
    values = np.clip(np.repeat(rng.integers(0, 101, 1200), 2) + rng.integers(-5, 6, 2400), 0, 100).astype(float)
    assert stats.PACKAGE_ALPHA_CELLS < 1200 * 101**2
    out = stats.krippendorff_alpha(units, values, level="interval")
    want = krippendorff.alpha(reliability_data=values.reshape(1200, 2).T, level_of_measurement="interval")
    assert out["value"] == pytest.approx(want)


@pytest.mark.parametrize("rows_each", [1, 50], ids=["rows resampled", "multinomial"])
def test_replicates_resample_the_rows(rows_each: int) -> None:
    """Either way of drawing gives the bootstrap: each replicate has n rows, and each distinct observation's count
    has the multinomial's mean n p and variance n p (1 - p) (checked to a few standard errors)."""
    counts = np.random.default_rng(4).integers(1, 2 * rows_each + 1, 400).astype(np.int64)
    w = stats.replicate_weights(counts, salt=11)
    n = counts.sum()
    assert np.all(w.sum(axis=1) == n)
    p = counts / n
    b = w.shape[0]
    mean_se = np.sqrt(n * p * (1 - p) / b)
    assert np.all(np.abs(w.mean(axis=0) - n * p) < 5 * mean_se)
    assert abs(w.var(axis=0).sum() / (n * p * (1 - p)).sum() - 1) < 0.1
    assert stats.replicate_weights(counts, salt=11).tolist() == w.tolist()  # seeded: the same replicates again


@pytest.mark.parametrize(
    "values",
    [
        np.arange(1000, 2000)[::-1],  # dense ids
        np.random.default_rng(1).integers(0, 101, 5000).astype(float),  # whole-number scores, counted
        np.random.default_rng(2).integers(0, 10**9, 300),  # sparse ids, sorted
        np.random.default_rng(3).normal(size=200),  # fractions, sorted
        np.array([3.0, np.nan, 1.0, np.nan]),
        np.array([], dtype=np.int64),
    ],
)
def test_unique_codes_are_numpys_unique_with_its_inverse(values: np.ndarray) -> None:
    got, codes = stats.unique_codes(values)
    want, inverse = np.unique(values, return_inverse=True)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(codes, inverse.ravel())
    assert got.dtype == want.dtype


@pytest.mark.parametrize("span", [50, 10**9])  # dense ids (a table) and sparse ones (a sort)
def test_first_rows_finds_the_first_row_holding_each_id(span: int) -> None:
    rng = np.random.default_rng(5)
    ids = rng.integers(0, span, 400)
    ids[::7] = ids[0]  # repeated ids: the first of them counts
    wanted = np.concatenate([ids, rng.integers(-5, span + 5, 300)])
    pos, found = stats.first_rows(ids, wanted)
    for w, p, f in zip(wanted.tolist(), pos.tolist(), found.tolist(), strict=True):
        rows = np.flatnonzero(ids == w)
        assert f == bool(rows.size)
        if f:
            assert p == rows[0]
    none, nothing = stats.first_rows(np.array([], dtype=np.int64), wanted)
    assert not nothing.any()
    assert not none.any()


@pytest.mark.parametrize(("levels", "n"), [(11, 300), (101, 300), (101, 5000), (101, 40000)])
def test_rank_correlations_together_are_the_separate_ones(levels: int, n: int) -> None:
    """The dashboard draws Spearman's and Kendall's replicates from shared tables: the same numbers as each alone."""
    h, c = scores(7, n, levels=levels)
    (xs, ys), counts = stats.distinct(h, c)
    w = stats.replicate_weights(counts, salt=1)
    spearman, kendall = stats.weighted_rank_correlations(w, xs, ys)
    np.testing.assert_allclose(spearman, stats.weighted_spearman(w, xs, ys), rtol=1e-12)
    np.testing.assert_allclose(kendall, stats.weighted_kendall_tau_b(w, xs, ys), rtol=1e-12)
