"""Pearson, Spearman and Kendall's tau-b per bootstrap replicate, from weighted distinct observations (one value
per replicate row of w); tests/annotations/test_stats.py checks each against scipy on the expanded rows."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from .bootstrap import Floats, safe_div, unique_codes


def weighted_pearson(w: Floats, x: Floats, y: Floats) -> Floats:
    n = w.sum(axis=1)
    mx, my = safe_div(w @ x, n), safe_div(w @ y, n)
    cov = safe_div(w @ (x * y), n) - mx * my
    vx = safe_div(w @ (x * x), n) - mx * mx
    vy = safe_div(w @ (y * y), n) - my * my
    den = np.sqrt(np.clip(vx, 0, None) * np.clip(vy, 0, None))
    # Round-off leaves a tiny variance where there is none: treat it as none.
    scale = np.maximum(np.abs(mx) + np.abs(my), 1.0) ** 2
    return np.where((vx > 1e-12 * scale) & (vy > 1e-12 * scale), safe_div(cov, den), np.nan)


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
    return np.where((vx > 1e-9) & (vy > 1e-9), safe_div(cov, np.sqrt(np.abs(vx * vy))), np.nan)


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
        out[start : start + step] = safe_div(s.astype(np.float64), np.sqrt(np.clip((n0 - n1) * (n0 - n2), 0, None)))
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
    return safe_div(s, np.sqrt(np.clip((n0 - n1) * (n0 - n2), 0, None)))


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
    return safe_div(s, np.sqrt((n0 - tied_a) * (n0 - tied_b)).astype(float))
