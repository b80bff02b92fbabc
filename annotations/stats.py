"""Agreement statistics over plain arrays: no Django. Every statistic comes back as
{"value": float | None, "ci95": [lo, hi] | None, "n": int} and, when undefined, a "reason" (never NaN).

Point estimates come from the libraries (scipy, scikit-learn, krippendorff). The bootstrap intervals are
percentile intervals over B seeded replicates. Resampling 100k rows 1,000 times would be slow, so a replicate
is drawn as multinomial counts over the distinct observations (a (human, critic) pair, a (model, outcome)
triple, ...): exactly the distribution row resampling gives. The statistics are then computed from those
weighted counts in closed form, vectorised over replicates; tests/annotations/test_stats.py checks each
weighted formula against the library on the expanded rows."""

from __future__ import annotations

import math
from typing import Any, Literal

import krippendorff
import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats
from sklearn.metrics import cohen_kappa_score

B = 1000  # bootstrap replicates
SEED = 20241002  # fixed: the same data gives the same intervals on every page view
PACKAGE_ALPHA_CELLS = 5_000_000  # above, Krippendorff's alpha from the tested closed form instead of the package
MIN_N = 3  # a statistic over fewer observations (items, pairs, games) is shown as undefined, with the reason
MIN_CI_N = 10  # a percentile bootstrap over fewer observations is not a 95% interval: none is given, with the reason
SMALL_N = 30  # below, the page marks the figure as a small sample
PREFERENCES = ("A", "B", "tie")
RELIABILITY_BINS = 10

Stat = dict[str, Any]
Level = Literal["interval", "nominal"]
Floats = NDArray[np.float64]


# -- the result shape -------------------------------------------------------------------------------------------


def _finite(x: Any) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def undefined(n: int, reason: str) -> Stat:
    return {"value": None, "ci95": None, "n": int(n), "reason": reason}


def stat(value: Any, replicates: ArrayLike | None, n: int, *, resampled: int | None = None) -> Stat:
    """A defined value with its percentile interval (replicates where the statistic is undefined are dropped;
    with fewer than half left, no interval). Under MIN_CI_N observations the bootstrap cannot be trusted (a
    correlation over 3 pairs gives [0.945, 1.000]): no interval, "ci_reason" says why; under SMALL_N,
    "small_sample" is true. `resampled`: how many observations the bootstrap drew, when not n (a model-level
    statistic over n models resamples the items)."""
    v = _finite(value)
    if v is None:
        return undefined(n, "undefined for this data")
    drawn = n if resampled is None else resampled
    if drawn < MIN_CI_N:
        reason = f"n = {drawn}: too few for a bootstrap interval (needs {MIN_CI_N})"
        return {"value": v, "ci95": None, "n": int(n), "ci_reason": reason, "small_sample": True}
    ci = None
    if replicates is not None:
        everything = np.asarray(replicates, dtype=float)
        reps = everything[np.isfinite(everything)]
        if reps.size and reps.size >= everything.size / 2:
            lo, hi = np.percentile(reps, [2.5, 97.5])
            # The percentile interval can miss the estimate by rounding when the data barely vary.
            ci = [min(float(lo), v), max(float(hi), v)]
    out: Stat = {"value": v, "ci95": ci, "n": int(n)}
    if drawn < SMALL_N:
        out["small_sample"] = True
    return out


def _rng(salt: int = 0) -> np.random.Generator:
    return np.random.default_rng(SEED + salt)


SPAN_PER_VALUE = 4  # integers over a range up to this many times their count are coded by counting, not sorting


def unique_codes(values: ArrayLike) -> tuple[NDArray[Any], NDArray[np.int64]]:
    """np.unique(values, return_inverse=True) for a 1-D array: the sorted distinct values and each value's index
    among them. Integers (or whole-number floats) over a range not much wider than their count, such as ids,
    scores and codes, are coded by counting in O(n) instead of sorting; anything else goes to np.unique."""
    arr = np.asarray(values)
    if arr.ndim == 1 and arr.size and arr.dtype.kind in "iuf":
        lo, hi = arr.min(), arr.max()
        if np.isfinite(lo) and np.isfinite(hi) and float(hi) - float(lo) <= SPAN_PER_VALUE * arr.size + 1024:
            offset = arr - lo
            whole = offset.astype(np.int64)
            if arr.dtype.kind != "f" or np.array_equal(whole, offset):
                present = np.bincount(whole) > 0
                code = np.cumsum(present) - 1
                return (np.flatnonzero(present) + lo).astype(arr.dtype), code[whole]
    uniq, inverse = np.unique(arr, return_inverse=True)
    return uniq, inverse.ravel().astype(np.int64)


def first_rows(ids: ArrayLike, wanted: ArrayLike) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """For each id in `wanted`, the first row of `ids` holding it (0 where none) and whether there is one: how the
    metrics line a verdict up with the critic's verdict on the same item. Ids over a range not much wider than their
    count (a dataset's items) are looked up in a table in O(n); others by a stable sort and a binary search."""
    have = np.asarray(ids, dtype=np.int64)
    want = np.asarray(wanted, dtype=np.int64)
    if not have.size:
        return np.zeros(want.size, dtype=np.int64), np.zeros(want.size, dtype=bool)
    lo, hi = int(have.min()), int(have.max())
    if hi - lo <= SPAN_PER_VALUE * have.size + 1024:
        table = np.full(hi - lo + 1, have.size, dtype=np.int64)
        np.minimum.at(table, have - lo, np.arange(have.size))
        inside = (want >= lo) & (want <= hi)
        pos = np.zeros(want.size, dtype=np.int64)
        pos[inside] = table[want[inside] - lo]
        found = inside & (pos < have.size)
        return np.where(found, pos, 0), found
    order = np.argsort(have, kind="stable")
    pos = order[np.searchsorted(have[order], want).clip(0, have.size - 1)]
    return pos, have[pos] == want


def _distinct(*columns: ArrayLike) -> tuple[list[NDArray[Any]], NDArray[np.int64]]:
    """The distinct rows of these columns and how often each occurs (each column coded to integers, the codes
    combined into one key: much faster than sorting structured rows; counted rather than sorted when the key's
    range is small)."""
    arrays = [np.asarray(col) for col in columns]
    key = np.zeros(arrays[0].size, dtype=np.int64)
    span = 1
    for col in arrays:
        values, code = unique_codes(col)
        key = key * values.size + code
        span *= values.size
    if key.size > 0 and span <= SPAN_PER_VALUE * key.size + 1024:
        counts = np.bincount(key, minlength=span)
        first = np.full(span, key.size)
        np.minimum.at(first, key, np.arange(key.size))
        first = first[counts > 0]
        counts = counts[counts > 0]
    else:
        _keys, first, counts = np.unique(key, return_index=True, return_counts=True)
    return [col[first] for col in arrays], counts.astype(np.int64)


MAX_DRAWS = 1_000_000  # replicate cells drawn per statistic; beyond, fewer replicates (never under MIN_B)
MIN_B = 200


def replicates_for(k: int) -> int:
    """1,000 replicates, fewer when the data have very many distinct observations (the draw costs B x K)."""
    return max(MIN_B, min(B, MAX_DRAWS // max(1, k)))


DRAWS_PER_BLOCK = 1 << 18  # rows resampled per block of replicates (2 MiB of indices: stays in cache)
ROWS_PER_OBSERVATION = 16  # below, drawing rows beats one binomial per cell (measured ~5 ns a row, ~100 a cell)


def replicate_weights(counts: NDArray[np.int64], *, salt: int = 0) -> Floats:
    """Bootstrap replicates as counts over the distinct observations (replicates x K), i.e. a multinomial draw of
    n over the observed frequencies, which is exactly what resampling the n rows with replacement gives. Drawn
    as such when there are many rows per distinct observation, else by resampling the rows themselves."""
    n, k = int(counts.sum()), counts.size
    b, rng = replicates_for(k), _rng(salt)
    if n >= ROWS_PER_OBSERVATION * k:
        return rng.multinomial(n, counts / n, size=b).astype(np.float64)
    # The distinct observation of each row; 32-bit codes halve the memory the block's counting pass walks.
    code: type[np.signedinteger[Any]] = np.int32 if b * k < 2**31 else np.int64
    owner: NDArray[np.signedinteger[Any]] = np.repeat(np.arange(k, dtype=code), counts)
    out = np.empty((b, k))
    # Several replicates per call: the generator gives the same stream as one call per replicate, and one counting
    # pass over a block (each replicate's observations offset by k) replaces a Python loop of small bincounts.
    step = max(1, DRAWS_PER_BLOCK // n)
    for start in range(0, b, step):
        m = min(step, b - start)
        rows = owner[rng.integers(0, n, (m, n))]
        rows += (np.arange(m, dtype=code) * k)[:, None]
        out[start : start + m] = np.bincount(rows.ravel(), minlength=m * k).reshape(m, k)
    return out


def _safe_div(num: Floats, den: Floats) -> Floats:
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)
    return np.asarray(out, dtype=np.float64)


# -- weighted formulas (one value per replicate row of w) ----------------------------------------------------------


def weighted_pearson(w: Floats, x: Floats, y: Floats) -> Floats:
    n = w.sum(axis=1)
    mx, my = _safe_div(w @ x, n), _safe_div(w @ y, n)
    cov = _safe_div(w @ (x * y), n) - mx * my
    vx = _safe_div(w @ (x * x), n) - mx * mx
    vy = _safe_div(w @ (y * y), n) - my * my
    den = np.sqrt(np.clip(vx, 0, None) * np.clip(vy, 0, None))
    # Round-off leaves a tiny variance where there is none: treat it as none.
    scale = np.maximum(np.abs(mx) + np.abs(my), 1.0) ** 2
    return np.where((vx > 1e-12 * scale) & (vy > 1e-12 * scale), _safe_div(cov, den), np.nan)


def _value_groups(values: Floats) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """Each observation's value code, the observations ordered by it, and where each value's run starts."""
    uniq, group = unique_codes(values)
    order = np.argsort(group, kind="stable")
    return group, order, np.searchsorted(group[order], np.arange(uniq.size))


def _per_value(w: Floats, order: NDArray[np.int64], starts: NDArray[np.int64]) -> Floats:
    """Per replicate, the weight on each distinct value (replicates x values): sums of runs, no one-hot product."""
    runs = w if bool((order[1:] > order[:-1]).all()) else w[:, order]
    return np.asarray(np.add.reduceat(runs, starts, axis=1), dtype=np.float64)


def weighted_spearman(w: Floats, x: Floats, y: Floats) -> Floats:
    """Spearman's rho per replicate: Pearson's r of the mid-ranks (ties share the mean of their ranks). The ranks
    are a value's, so the sums run over the distinct values; only the cross term needs the observations."""
    _gx, order_x, starts_x = _value_groups(x)
    gy, order_y, starts_y = _value_groups(y)
    px, py = _per_value(w, order_x, starts_x), _per_value(w, order_y, starts_y)
    rx, ry = _midranks(px), _midranks(py)
    # The sum of w rx ry: per x value, the weight times y rank of its observations, times its own rank.
    cross = (_per_value(w * ry[:, gy], order_x, starts_x) * rx).sum(1)
    return _spearman(px, py, rx, ry, w.sum(axis=1), cross)


def _midranks(per_value: Floats) -> Floats:
    """Each value's mid-rank in its replicate (replicates x values): ties share the mean of their ranks."""
    return np.asarray(np.cumsum(per_value, axis=1) - (per_value - 1) / 2, dtype=np.float64)


def _spearman(px: Floats, py: Floats, rx: Floats, ry: Floats, n: Floats, cross: Floats) -> Floats:
    """Pearson's r of the mid-ranks from each value's weight and rank and the sum of w rx ry over observations."""
    mx, my = (px * rx).sum(1) / n, (py * ry).sum(1) / n
    cov = cross / n - mx * my
    vx = (px * rx * rx).sum(1) / n - mx * mx
    vy = (py * ry * ry).sum(1) / n - my * my
    return np.where((vx > 1e-9) & (vy > 1e-9), _safe_div(cov, np.sqrt(np.abs(vx * vy))), np.nan)


def weighted_rank_correlations(w: Floats, x: Floats, y: Floats) -> tuple[Floats, Floats]:
    """Spearman's rho and Kendall's tau-b per replicate, as weighted_spearman and weighted_kendall_tau_b give them:
    when Kendall's contingency tables are drawn, Spearman's sums come from the same tables (its ranks from their
    margins, its cross term one more pass while each chunk is in cache)."""
    ux, gx = unique_codes(x)
    uy, gy = unique_codes(y)
    if x.size**2 <= 40 * ux.size * uy.size:
        return weighted_spearman(w, x, y), _kendall_from_pairs(w, x, y, gx, gy, ux.size, uy.size)
    if 2 * x.size < ux.size * uy.size:  # tables mostly empty: Spearman is cheaper over the observations
        return weighted_spearman(w, x, y), _kendall_from_tables(w, gx, gy, ux.size, uy.size)[0]
    kendall, spearman = _kendall_from_tables(w, gx, gy, ux.size, uy.size, with_spearman=True)
    return spearman, kendall


def weighted_kendall_tau_b(w: Floats, x: Floats, y: Floats, *, chunk_cells: int = 65_536) -> Floats:
    """Kendall's tau-b per replicate: concordant minus discordant pairs, from the pairs of distinct observations
    (a K x K sign matrix) when there are few, else from each replicate's contingency table (in chunks of
    replicates that stay in cache; integer tables when the weights are counts, as cumulative sums of integers
    are several times faster and exact)."""
    ux, gx = unique_codes(x)
    uy, gy = unique_codes(y)
    if x.size**2 <= 40 * ux.size * uy.size:  # a matrix product is far cheaper per cell than the cumsums
        return _kendall_from_pairs(w, x, y, gx, gy, ux.size, uy.size)
    return _kendall_from_tables(w, gx, gy, ux.size, uy.size, chunk_cells=chunk_cells)[0]


def _kendall_from_tables(
    w: Floats, gx: NDArray[np.int64], gy: NDArray[np.int64], nx: int, ny: int, *, chunk_cells: int = 65_536,
    with_spearman: bool = False,
) -> tuple[Floats, Floats]:  # fmt: skip
    """Kendall's tau-b per replicate from its contingency table (nx x values, ny y values; gx, gy each
    observation's), and with_spearman Spearman's rho from the same table (else an empty array)."""
    out = np.empty(w.shape[0])
    rho = np.empty(w.shape[0] if with_spearman else 0)
    cell = gx * ny + gy  # each distinct observation is one (x value, y value) cell
    dtype = np.int64 if np.array_equal(w, np.round(w)) else np.float64
    step = max(1, chunk_cells // max(1, nx * ny))
    for start in range(0, w.shape[0], step):
        wb = w[start : start + step]
        flat = np.zeros((wb.shape[0], nx * ny), dtype=dtype)
        flat[:, cell] = wb
        table = flat.reshape(-1, nx, ny)
        rows = table.sum(2)
        rows_f, cols = rows.astype(np.float64), table.sum(1).astype(np.float64)
        n = rows.sum(1).astype(np.float64)
        if with_spearman:
            rx, ry = _midranks(rows_f), _midranks(cols)
            rho[start : start + step] = _spearman(rows_f, cols, rx, ry, n, np.einsum("bi,bij,bj->b", rx, table, ry))
        # For each cell, `later` counts the observations in its column with a greater x; summed along the row up
        # to the cell, those with a greater x and a y no greater. Concordant minus discordant pairs is then
        # sum T (later's row total - 2 x that running sum + later), with no second pass for the discordant.
        later = table.cumsum(1)
        np.subtract(later[:, -1:, :], later, out=later)
        s = (rows * later.sum(2)).sum(1) + np.einsum("bij,bij->b", table, later)
        later.cumsum(2, out=later)
        s -= 2 * np.einsum("bij,bij->b", table, later)
        n0 = n * (n - 1) / 2
        n1 = (rows_f * (rows_f - 1) / 2).sum(1)
        n2 = (cols * (cols - 1) / 2).sum(1)
        out[start : start + step] = _safe_div(s.astype(np.float64), np.sqrt(np.clip((n0 - n1) * (n0 - n2), 0, None)))
    return out, rho


def _kendall_from_pairs(
    w: Floats, x: Floats, y: Floats, gx: NDArray[Any], gy: NDArray[Any], nx: int, ny: int
) -> Floats:
    signs = np.sign(x[:, None] - x[None, :]) * np.sign(y[:, None] - y[None, :])
    s = 0.5 * ((w @ signs) * w).sum(1)
    n = w.sum(1)
    rows = np.zeros((w.shape[0], nx))
    cols = np.zeros((w.shape[0], ny))
    np.add.at(rows.T, gx, w.T)
    np.add.at(cols.T, gy, w.T)
    n0 = n * (n - 1) / 2
    n1 = (rows * (rows - 1) / 2).sum(1)
    n2 = (cols * (cols - 1) / 2).sum(1)
    return _safe_div(s, np.sqrt(np.clip((n0 - n1) * (n0 - n2), 0, None)))


def kendall_tau_b_rows(a: Floats, b: Floats) -> Floats:
    """Kendall's tau-b between two rankings per replicate (R x M), over the entries finite in both."""
    ok = np.isfinite(a) & np.isfinite(b)
    i, j = np.triu_indices(a.shape[1], 1)
    valid = ok[:, i] & ok[:, j]
    with np.errstate(invalid="ignore"):
        sa = np.sign(a[:, i] - a[:, j])
        sb = np.sign(b[:, i] - b[:, j])
    s = np.where(valid, sa * sb, 0.0).sum(1)
    n0 = valid.sum(1)
    tied_a = (valid & (sa == 0)).sum(1)
    tied_b = (valid & (sb == 0)).sum(1)
    return _safe_div(s, np.sqrt((n0 - tied_a) * (n0 - tied_b)).astype(float))


# -- critic vs human, pointwise -----------------------------------------------------------------------------------


def _no_variation(h: Floats, c: Floats) -> str | None:
    if np.ptp(h) == 0:
        return "human scores do not vary"
    if np.ptp(c) == 0:
        return "critic scores do not vary"
    return None


def pointwise_agreement(human: ArrayLike, critic: ArrayLike, models: ArrayLike | None = None) -> dict[str, Stat]:
    """Pearson, Spearman, Kendall's tau-b and MAE between paired scores, and the model-level Kendall's tau (the
    response models ranked by their mean score under each judge)."""
    h = np.asarray(human, dtype=float)
    c = np.asarray(critic, dtype=float)
    n = int(h.size)
    out: dict[str, Stat] = {}
    if n == 0:
        for key in ("pearson", "spearman", "kendall_tau", "mae"):
            out[key] = undefined(0, "no pairs")
    else:
        (xs, ys), counts = _distinct(h, c)
        w = replicate_weights(counts, salt=1)
        out["mae"] = stat(np.mean(np.abs(h - c)), w @ np.abs(xs - ys) / n, n)
        flat = _no_variation(h, c)
        if n < MIN_N or flat:
            reason = f"n < {MIN_N}" if n < MIN_N else str(flat)
            for key in ("pearson", "spearman", "kendall_tau"):
                out[key] = undefined(n, reason)
        else:
            out["pearson"] = stat(stats.pearsonr(h, c).statistic, weighted_pearson(w, xs, ys), n)
            spearman, kendall = weighted_rank_correlations(w, xs, ys)
            out["spearman"] = stat(stats.spearmanr(h, c).statistic, spearman, n)
            out["kendall_tau"] = stat(stats.kendalltau(h, c).statistic, kendall, n)
    out["model_level_kendall_tau"] = model_level_kendall_tau(h, c, models if models is not None else [""] * n)
    return {key: out[key] for key in ("pearson", "spearman", "kendall_tau", "mae", "model_level_kendall_tau")}


def model_means(models: ArrayLike, human: ArrayLike, critic: ArrayLike) -> dict[str, tuple[float, float, int]]:
    """Each response model's mean human and mean critic score, and its number of pairs."""
    h = np.asarray(human, dtype=float)
    c = np.asarray(critic, dtype=float)
    uniq, code = np.unique(np.asarray(models, dtype=str), return_inverse=True)
    return _means_by_code(uniq, code.ravel(), h, c)


def _means_by_code(
    uniq: NDArray[np.str_], code: NDArray[np.int64], h: Floats, c: Floats
) -> dict[str, tuple[float, float, int]]:
    k = np.bincount(code, minlength=uniq.size)
    sh = np.bincount(code, weights=h, minlength=uniq.size)
    sc = np.bincount(code, weights=c, minlength=uniq.size)
    return {str(m): (float(sh[i] / k[i]), float(sc[i] / k[i]), int(k[i])) for i, m in enumerate(uniq)}


def model_level_kendall_tau(human: ArrayLike, critic: ArrayLike, models: ArrayLike) -> Stat:
    h = np.asarray(human, dtype=float)
    c = np.asarray(critic, dtype=float)
    names = np.asarray(models, dtype=str)
    if h.size == 0:
        return undefined(0, "no pairs")
    uniq, model_code = np.unique(names, return_inverse=True)  # one sort of the names, for the means and the draws
    model_code = model_code.ravel()
    means = _means_by_code(uniq, model_code, h, c)
    m = len(means)
    if m < MIN_N:
        return undefined(m, f"fewer than {MIN_N} response models")
    hm = np.array([v[0] for v in means.values()])
    cm = np.array([v[1] for v in means.values()])
    if np.ptp(hm) == 0 or np.ptp(cm) == 0:
        return undefined(m, "every model has the same mean score")
    (ms, xs, ys), counts = _distinct(model_code, h, c)
    if counts.size * B <= MAX_DRAWS:
        w = replicate_weights(counts, salt=2)
        onehot = np.zeros((ms.size, m))
        onehot[np.arange(ms.size), ms] = 1
        n_m = w @ onehot
        with np.errstate(invalid="ignore", divide="ignore"):
            rep_h = (w @ (onehot * xs[:, None])) / n_m
            rep_c = (w @ (onehot * ys[:, None])) / n_m
    else:
        rep_h, rep_c = _model_means_normal(model_code, h, c, m)
    return stat(stats.kendalltau(hm, cm).statistic, kendall_tau_b_rows(rep_h, rep_c), m, resampled=int(h.size))


def _model_means_normal(code: NDArray[np.int64], h: Floats, c: Floats, m: int) -> tuple[Floats, Floats]:
    """Replicates of each model's (mean human, mean critic) score when there are too many distinct observations
    to draw exactly: each model's count is drawn exactly (multinomial over the models), the mean of that many of
    its rows from the normal approximation (its mean, its covariance / count), which is very close once a model
    has more than a handful of rows."""
    rng = _rng(12)
    k = np.bincount(code, minlength=m)
    draws = rng.multinomial(int(k.sum()), k / k.sum(), size=B).astype(float)
    rep_h = np.full((B, m), np.nan)
    rep_c = np.full((B, m), np.nan)
    z = rng.standard_normal((B, m, 2))
    for j in range(m):
        rows = code == j
        mean = np.array([h[rows].mean(), c[rows].mean()])
        cov = np.cov(np.stack([h[rows], c[rows]]), bias=True) if rows.sum() > 1 else np.zeros((2, 2))
        root = np.linalg.cholesky(cov + 1e-12 * np.eye(2))
        with np.errstate(invalid="ignore", divide="ignore"):
            spread = (z[:, j, :] @ root.T) / np.sqrt(draws[:, j])[:, None]
        sample = np.where(draws[:, j, None] > 0, mean + spread, np.nan)
        rep_h[:, j], rep_c[:, j] = sample[:, 0], sample[:, 1]
    return rep_h, rep_c


# -- critic vs human, pairwise ------------------------------------------------------------------------------------


def confusion(human: ArrayLike, critic: ArrayLike) -> list[list[int]]:
    """Counts of (human row, critic column) over A / B / tie."""
    return np.asarray(_table(human, critic), dtype=int).tolist()


def _codes(labels: ArrayLike) -> NDArray[np.int64]:
    """Preferences as 0 / 1 / 2 (A / B / tie): labels, or already those codes (integers)."""
    arr = np.asarray(labels)
    if arr.dtype.kind in "iu":
        out = arr.astype(np.int64).ravel()
        out[(out < 0) | (out >= len(PREFERENCES))] = -1
    else:
        arr = arr.astype(object)
        out = np.full(arr.size, -1, dtype=np.int64)
        for i, p in enumerate(PREFERENCES):
            out[arr == p] = i
    if (out < 0).any():
        raise ValueError(f"preferences must be one of {PREFERENCES}")
    return out


def _table(human: ArrayLike, critic: ArrayLike) -> Floats:
    if np.size(human) != np.size(critic):
        raise ValueError("human and critic verdicts must pair up")
    table = np.bincount(_codes(human) * 3 + _codes(critic), minlength=9).reshape(3, 3)
    return table.astype(np.float64)


def _kappa_from_tables(t: Floats) -> Floats:
    n = t.sum((1, 2))
    po = _safe_div(np.trace(t, axis1=1, axis2=2), n)
    pe = _safe_div((t.sum(2) * t.sum(1)).sum(1), n * n)
    return np.where(pe < 1 - 1e-12, _safe_div(po - pe, 1 - pe), np.nan)


def pairwise_agreement(human: ArrayLike, critic: ArrayLike) -> dict[str, Any]:
    """Accuracy with ties (A / B / tie, exact match), without ties (pairs where either side is a tie dropped),
    Cohen's kappa, and the confusion matrix (rows human, columns critic)."""
    table = _table(human, critic)
    n = int(table.sum())
    no_tie = table[:2, :2]
    n_nt = int(no_tie.sum())
    out: dict[str, Any] = {"n": n, "n_without_tie": n_nt}
    if n == 0:
        out["accuracy_with_tie"] = undefined(0, "no pairs")
        out["accuracy_without_tie"] = undefined(0, "no pairs")
        out["cohen_kappa"] = undefined(0, "no pairs")
    else:
        w = replicate_weights(table.ravel().astype(np.int64), salt=3).reshape(-1, 3, 3)
        out["accuracy_with_tie"] = stat(np.trace(table) / n, _safe_div(np.trace(w, axis1=1, axis2=2), w.sum((1, 2))), n)
        if n_nt == 0:
            out["accuracy_without_tie"] = undefined(0, "every pair has a tie")
        else:
            wn = w[:, :2, :2]
            out["accuracy_without_tie"] = stat(
                np.trace(no_tie) / n_nt, _safe_div(np.trace(wn, axis1=1, axis2=2), wn.sum((1, 2))), n_nt
            )
        if n < MIN_N:
            out["cohen_kappa"] = undefined(n, f"n < {MIN_N}")
        elif np.count_nonzero(table.sum(0) + table.sum(1)) < 2:
            out["cohen_kappa"] = undefined(n, "one class")
        else:
            # sklearn on the nine (human, critic) cells weighted by their counts: the same as on the rows.
            cells = np.array([(i, j) for i in range(3) for j in range(3)])
            value = cohen_kappa_score(cells[:, 0], cells[:, 1], labels=[0, 1, 2], sample_weight=table.ravel())
            out["cohen_kappa"] = stat(value, _kappa_from_tables(w), n)
    out["confusion_matrix"] = {
        "labels": list(PREFERENCES),
        "rows": "human",
        "columns": "critic",
        "counts": table.astype(int).tolist(),
    }
    return out


def rate(hits: ArrayLike, *, salt: int = 4, reason: str = "no observations") -> Stat:
    """A proportion of True among booleans, with its bootstrap interval."""
    x = np.asarray(hits, dtype=bool)
    n = int(x.size)
    if n == 0:
        return undefined(0, reason)
    counts = np.array([n - int(x.sum()), int(x.sum())], dtype=np.int64)
    w = replicate_weights(counts, salt=salt)
    return stat(x.mean(), w[:, 1] / n, n)


# -- humans vs humans ---------------------------------------------------------------------------------------------


def _disagreement(counts: Floats, domain: Floats, level: str) -> Floats:
    """Sum over ordered pairs of values (c, k) of counts[c] counts[k] delta(c, k), per row, in O(values):
    nominal delta is [c != k], giving m^2 - sum n_c^2; interval delta is (c - k)^2, giving
    2 m sum n_c c^2 - 2 (sum n_c c)^2."""
    m = counts.sum(-1)
    if level == "nominal":
        return np.asarray(m * m - (counts * counts).sum(-1), dtype=np.float64)
    s1 = counts @ domain
    s2 = counts @ (domain * domain)
    return np.asarray(2 * m * s2 - 2 * s1 * s1, dtype=np.float64)


def weighted_alpha(w: Floats, patterns: Floats, domain: Floats, level: str) -> Floats:
    """Krippendorff's alpha from unit patterns (rows of value counts) weighted per replicate:
    1 - (n - 1) * sum_u D(u) / (m_u - 1) / D(marginals), D as in _disagreement."""
    observed = _disagreement(patterns, domain, level) / (patterns.sum(1) - 1)
    marg = w @ patterns
    expected = _disagreement(marg, domain, level)
    return 1 - _safe_div((marg.sum(1) - 1) * (w @ observed), expected)


def _unit_patterns(
    counts: Floats, unit_code: NDArray[Any], value_code: NDArray[Any]
) -> tuple[Floats, NDArray[np.int64]]:
    """The distinct rows of counts (items with the same values) and how many items share each. An item with few
    values is keyed by its sorted value codes as one number, which is much faster than sorting whole rows."""
    per_unit = np.bincount(unit_code)
    base = counts.shape[1] + 1
    if per_unit.max() > 6 or float(base) ** 6 >= 2**53:
        distinct, how_many = np.unique(counts, axis=0, return_counts=True)
        return distinct, how_many.astype(np.int64)
    order = np.lexsort((value_code, unit_code))
    units_sorted = unit_code[order]
    start = np.cumsum(per_unit) - per_unit
    position = np.arange(order.size) - start[units_sorted]
    key = np.bincount(units_sorted, weights=(value_code[order] + 1.0) * float(base) ** position)
    _, first, how_many = np.unique(key, return_index=True, return_counts=True)
    return counts[first], how_many.astype(np.int64)


def krippendorff_alpha(units: ArrayLike, values: ArrayLike, *, level: Level) -> Stat:
    """Agreement among reviewers: `values[i]` is one reviewer's value on item `units[i]`; items with fewer than
    two values cannot be compared and are left out. `interval` for scores, `nominal` for preferences.
    n is the number of items with at least two values."""
    unit_code = unique_codes(units)[1]
    pairable = np.bincount(unit_code)[unit_code] >= 2 if unit_code.size else np.zeros(0, dtype=bool)
    unit_code = unique_codes(unit_code[pairable])[1]
    domain_raw, value_code = unique_codes(np.asarray(values)[pairable])
    counts = np.zeros((int(unit_code.max()) + 1 if unit_code.size else 0, domain_raw.size))
    np.add.at(counts, (unit_code, value_code), 1)
    n = int(counts.shape[0])
    if n == 0:
        return undefined(0, "no item has more than one reviewer")
    if n < MIN_N:
        return undefined(n, f"{n} item(s) with two or more reviewers: alpha needs at least {MIN_N}")
    present = counts.sum(0) > 0
    counts = counts[:, present]
    domain = np.arange(counts.shape[1], dtype=float) if level == "nominal" else domain_raw[present].astype(float)
    if domain.size < 2:
        return undefined(n, "every reviewer gave the same value")
    patterns, pattern_counts = _unit_patterns(counts, unit_code, value_code)
    if n * domain.size**2 <= PACKAGE_ALPHA_CELLS:
        value = krippendorff.alpha(value_counts=counts, value_domain=domain, level_of_measurement=level)
    else:  # the package's cost is items x values^2: the same formula over the distinct items (tested equal)
        value = weighted_alpha(pattern_counts[None, :].astype(float), patterns, domain, level)[0]
    w = replicate_weights(pattern_counts.astype(np.int64), salt=5)
    return stat(value, weighted_alpha(w, patterns, domain, level), n)


# -- calibration --------------------------------------------------------------------------------------------------


def calibration(confidence: ArrayLike, correct: ArrayLike, *, bins: int = RELIABILITY_BINS) -> dict[str, Any]:
    """Expected calibration error of the critic's own confidence, and the reliability curve (equal-width bins,
    placed as scikit-learn's calibration_curve places them). The interval is bootstrapped over confidences
    rounded to 0.01 (so that a replicate is a draw over few distinct values); the value uses them exactly."""
    p = np.asarray(confidence, dtype=float)
    y = np.asarray(correct, dtype=bool)
    n = int(p.size)
    if n == 0:
        return {"ece": undefined(0, "no verdicts with a confidence"), "curve": [], "bins": bins}
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.searchsorted(edges[1:-1], p, side="right")
    curve = []
    gap = 0.0
    for b in range(bins):
        in_bin = which == b
        k = int(in_bin.sum())
        if k:
            mean_p, acc = float(p[in_bin].mean()), float(y[in_bin].mean())
            gap += k * abs(acc - mean_p)
            curve.append(
                {"lo": float(edges[b]), "hi": float(edges[b + 1]), "n": k, "confidence": mean_p, "accuracy": acc}
            )
    (ps, ys), counts = _distinct(np.round(p, 2), y)
    w = replicate_weights(counts, salt=6)
    rep_which = np.searchsorted(edges[1:-1], ps, side="right")
    onehot = np.zeros((ps.size, bins))
    onehot[np.arange(ps.size), rep_which] = 1
    rep = np.abs(w @ (onehot * ys[:, None]) - w @ (onehot * ps[:, None])).sum(1) / n
    return {"ece": stat(gap / n, rep, n), "curve": curve, "bins": bins}
