"""People against people: Krippendorff's alpha (the krippendorff package, or its formula over the distinct items
where the package's cost is too high; tested equal)."""

from __future__ import annotations

from typing import Any, Literal

import krippendorff
import numpy as np
from numpy.typing import ArrayLike, NDArray

from .bootstrap import MIN_N, Floats, Stat, replicate_weights, safe_div, stat, undefined, unique_codes

PACKAGE_ALPHA_CELLS = 5_000_000  # above, Krippendorff's alpha from the tested closed form instead of the package
Level = Literal["interval", "nominal"]


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
    return 1 - safe_div((marg.sum(1) - 1) * (w @ observed), expected)


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
