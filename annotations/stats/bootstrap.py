"""The result shape every statistic shares, and the seeded bootstrap replicates they are drawn from.

A replicate is drawn as multinomial counts over the distinct observations (exactly the distribution resampling
the rows gives), or by resampling the rows where there are few rows per distinct observation (cheaper there)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

B = 1000  # bootstrap replicates
SEED = 20241002  # fixed: the same data gives the same intervals on every page view
MIN_N = 3  # a statistic over fewer observations (items, pairs, games) is shown as undefined, with the reason
MIN_CI_N = 10  # a percentile bootstrap over fewer observations is not a 95% interval: none is given, with the reason
SMALL_N = 30  # below, the page marks the figure as a small sample

Stat = dict[str, Any]
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


def seeded_rng(salt: int = 0) -> np.random.Generator:
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


def distinct(*columns: ArrayLike) -> tuple[list[NDArray[Any]], NDArray[np.int64]]:
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
    b, rng = replicates_for(k), seeded_rng(salt)
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


def safe_div(num: Floats, den: Floats) -> Floats:
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)
    return np.asarray(out, dtype=np.float64)
