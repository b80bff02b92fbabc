"""The verdicts the metrics read, fetched as numpy columns: the items that match the filters, the checkpoint's
finished verdicts on them (the items' own and the probes') and the reviewers' verdicts, with a few queries
(PostgreSQL sends each column as one binary string) and no loop over rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Self

import numpy as np
from django.db import connection
from numpy.typing import NDArray

from annotations import stats
from annotations.models import CriticCheckpoint, CriticVerdict, Dataset, HumanVerdict, Item, JobStatus
from annotations.selectors.probes import probe_code_sql


@dataclass
class Columns:
    """The verdicts as numpy columns (one row per verdict): sections select with masks, no loops over rows.
    kind, profile, model_a and model_b are codes into `names`; preferences are codes into stats.PREFERENCES
    (-1: none)."""

    names: NDArray[np.str_]
    item: NDArray[np.int64]
    kind: NDArray[np.int32]
    profile: NDArray[np.int32]
    model_a: NDArray[np.int32]
    model_b: NDArray[np.int32]
    score: NDArray[np.float64]
    preference: NDArray[np.int8]

    def take(self, mask: NDArray[np.bool_]) -> Self:
        """The rows where `mask` is true. A column is selected when it is first read: a section reads a few of
        the twenty, and copying them all for each section cost more than the statistics of several."""
        out = object.__new__(type(self))
        out.__dict__["_taken_from"] = (self, mask)
        return out

    def __getattr__(self, name: str) -> NDArray[Any]:
        # Runs only for a column this take() has not selected yet (a set attribute is found before it).
        source = self.__dict__.get("_taken_from")
        if source is None or name not in self.__dataclass_fields__:
            raise AttributeError(name)
        parent, mask = source
        value = getattr(parent, name)
        if name != "names":
            value = value[mask]
        self.__dict__[name] = value
        return value

    def code(self, name: str) -> int:
        """The code of a name (-1 when no row has it)."""
        found = np.flatnonzero(self.names == name)
        return int(found[0]) if found.size else -1


@dataclass
class CriticColumns(Columns):
    confidence: NDArray[np.float64]
    probe: NDArray[np.int8]  # an index into selectors.probes.PROBES: 0 for the item's own verdict


@dataclass
class HumanColumns(Columns):
    reviewer: NDArray[np.int64]
    revised_score: NDArray[np.float64]
    revised_preference: NDArray[np.int8]
    revised: NDArray[np.bool_]
    # The critic's verdict on the same item, aligned row by row (NaN / -1 where it has none).
    critic_score: NDArray[np.float64]
    critic_preference: NDArray[np.int8]
    critic_confidence: NDArray[np.float64]
    has_critic: NDArray[np.bool_]


def present(codes: NDArray[np.int8]) -> NDArray[np.bool_]:
    """Where a preference code stands for a preference (-1: none)."""
    return np.asarray(codes >= 0)


def distinct_count(*ids: NDArray[np.int64]) -> int:
    """How many distinct ids the columns hold together: a bitmap over their range when it is dense (a dataset's
    items are), else a sort (numpy's hashing unique takes ~60 ms over 100k distinct ids, a sort ~3)."""
    every = np.concatenate(ids)
    if not every.size:
        return 0
    lo, hi = int(every.min()), int(every.max())
    if hi - lo < 4 * every.size:
        return int(np.count_nonzero(np.bincount(every - lo)))
    ordered = np.sort(every)
    return int(np.count_nonzero(ordered[1:] != ordered[:-1])) + 1


def aligned(values: NDArray[Any], pos: NDArray[Any], has: NDArray[np.bool_], fill: Any) -> NDArray[Any]:
    """values[pos] where `has`, else fill: the critic's column lined up with the human verdicts."""
    out = np.full(has.size, fill, dtype=values.dtype)
    out[has] = values[pos[has]]
    return out


def _preference_code(column: str) -> str:
    """SQL giving the preference's index in stats.PREFERENCES (-1: none), the codes stats reads."""
    cases = " ".join(f"WHEN '{label}' THEN {i}" for i, label in enumerate(stats.PREFERENCES))
    return f"CASE {column} {cases} ELSE -1 END"


# How each column type travels: PostgreSQL's type, what stands for NULL, the wire (big-endian) and numpy dtypes.
_WIRE: dict[str, tuple[str, str, str, type[np.generic]]] = {
    "i8": ("int8", "-1", ">i8", np.int64),
    "f8": ("float8", "'NaN'", ">f8", np.float64),
}
_DESCRIPTOR = ("kind", "profile", "model_a", "model_b")


def _binary_columns(cursor: Any, sql: str, params: list[Any], columns: dict[str, tuple[str, str]]) -> list[Any]:
    """PostgreSQL: each column of `SELECT ... sql` as one binary string (one per group when sql groups), so that
    100k rows never become Python tuples; returns the fetched rows, the columns' strings last."""
    sent = []
    for e, t in columns.values():
        pg_type, null = _WIRE[t][:2]
        sent.append(f"string_agg({pg_type}send(COALESCE(({e})::{pg_type}, {null}::{pg_type})), ''::bytea)")
    cursor.execute(sql.replace("{columns}", ", ".join(sent)), params)
    return list(cursor.fetchall())


def _decode(rows: list[Any], columns: dict[str, tuple[str, str]], first: int) -> dict[str, Any]:
    out = {}
    for j, (name, (_e, t)) in enumerate(columns.items()):
        raw = b"".join(bytes(row[first + j]) for row in rows if row[first + j] is not None)
        out[name] = np.frombuffer(raw, dtype=_WIRE[t][2]).astype(_WIRE[t][3])
    return out


def _plain_columns(cursor: Any, sql: str, params: list[Any], columns: dict[str, tuple[str, str]]) -> dict[str, Any]:
    """Other databases (SQLite): plain rows, turned into the same arrays."""
    cursor.execute(sql.replace("{columns}", ", ".join(e for e, _t in columns.values())), params)
    rows = cursor.fetchall()
    table = np.array(rows, dtype=object).reshape(len(rows), len(columns))
    out = {}
    for j, (name, (_e, t)) in enumerate(columns.items()):
        col = table[:, j]
        if t == "f8":
            col = np.where(col == None, np.nan, col)  # noqa: E711 (elementwise)
        out[name] = col.astype(_WIRE[t][3])
    return out


def _items(where: str, params: list[Any]) -> dict[str, Any]:
    """The matching items' ids (sorted) with their kind, profile and models as codes into "names": grouped by
    those four in SQL, so each distinct string travels once."""
    ids: dict[str, tuple[str, str]] = {"id": ("i.id", "i8")}
    sql = f"SELECT {', '.join(_DESCRIPTOR)}, {{columns}} FROM {Item._meta.db_table} i WHERE {where}"  # noqa: S608
    groups: list[tuple[str, ...]] = []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            rows = _binary_columns(cursor, sql + " GROUP BY 1, 2, 3, 4", params, ids)
            groups = [tuple(row[:4]) for row in rows]
            item = _decode(rows, ids, 4)["id"]
            sizes = [len(bytes(row[4])) // 8 for row in rows]
            which = np.repeat(np.arange(len(groups)), sizes)
        else:
            cursor.execute(sql.replace("{columns}", "i.id"), params)
            rows = cursor.fetchall()
            lookup: dict[tuple[str, ...], int] = {}
            codes = [lookup.setdefault(tuple(row[:4]), len(lookup)) for row in rows]
            groups = list(lookup)
            item = np.array([row[4] for row in rows], dtype=np.int64)
            which = np.array(codes, dtype=np.int64)
    item, which = _by_id(item, which)
    names = sorted({str(x) for g in groups for x in g})
    index = {name: i for i, name in enumerate(names)}
    table = np.array([[index[str(x)] for x in g] for g in groups], dtype=np.int32).reshape(-1, 4)
    out: dict[str, Any] = {"names": np.array(names, dtype=str), "id": item}
    for j, key in enumerate(_DESCRIPTOR):
        out[key] = table[which, j]
    return out


def _by_id(item: NDArray[np.int64], which: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """The item ids (unique) in order, with each one's group: placed by id when the ids are dense, else sorted."""
    if item.size and int(item.max()) - int(item.min()) <= 4 * item.size:
        lo = int(item.min())
        slot = np.full(int(item.max()) - lo + 1, -1, dtype=np.int64)
        slot[item - lo] = which
        held = slot >= 0
        return np.flatnonzero(held) + lo, slot[held]
    order = np.argsort(item, kind="stable")
    return item[order], which[order]


def _rows(
    table: str, where: str, params: list[Any], items: dict[str, Any], item_sql: str, item_params: list[Any],
    columns: dict[str, tuple[str, str]], codes: dict[str, tuple[str, int]],
) -> dict[str, Any]:  # fmt: skip
    """The verdicts in `table` on `items`, with each item's descriptor codes. When the items' ids are dense (the
    usual: a dataset is imported in one go), a range of item_id on its index is much cheaper than joining the
    items again; verdicts in the range on other items are dropped here. `codes`: small non-negative codes
    ({name: (SQL, bits)}) that travel in the low bits of the item id, as one column: each column costs PostgreSQL
    ~20 ms per 100k verdicts (a send function and an aggregate step per value)."""
    ids = items["id"]
    packed = "v.item_id"
    for expression, bits in codes.values():
        packed = f"({packed}) * {1 << bits} + ({expression})"
    columns = {"item": (packed, "i8"), **columns}
    where = f"{where} AND v.item_id "
    if ids.size and (ids[-1] - ids[0] + 1) <= 2 * ids.size:
        where += "BETWEEN %s AND %s"
        params = [*params, int(ids[0]), int(ids[-1])]
    else:
        where += f"IN ({item_sql})"
        params = [*params, *item_params]
    sql = f"SELECT {{columns}} FROM {table} v WHERE {where}"  # noqa: S608
    with connection.cursor() as cursor:
        if not ids.size:
            out = {name: np.zeros(0, dtype=_WIRE[t][3]) for name, (_e, t) in columns.items()}
        elif connection.vendor == "postgresql":
            out = _decode(_binary_columns(cursor, sql, params, columns), columns, 0)
        else:
            out = _plain_columns(cursor, sql, params, columns)
    for name, (_expression, bits) in reversed(codes.items()):
        out[name] = out["item"] & ((1 << bits) - 1)
        out["item"] = out["item"] >> bits
    at, mine = stats.first_rows(ids, out["item"])
    out = {name: col[mine] for name, col in out.items()}
    at = at[mine]
    out["names"] = items["names"]
    for key in _DESCRIPTOR:
        out[key] = items[key][at]
    return out


def _scope_where(dataset: Dataset, judged_by: int | None) -> tuple[list[str], list[Any]]:
    """SQL conditions on the items (alias i) in a viewer's scope: the dataset's, and with judged_by those this user
    has given a verdict on."""
    where: list[str] = ["i.dataset_id = %s"]
    params: list[Any] = [dataset.pk]
    if judged_by is not None:
        where.append(
            f"EXISTS (SELECT 1 FROM {HumanVerdict._meta.db_table} j WHERE j.item_id = i.id AND j.reviewer_id = %s)"  # noqa: S608
        )
        params.append(judged_by)
    return where, params


class ScopedItems:
    """A viewer's items of a dataset (all of them, or with judged_by those the reviewer judged), grouped by kind,
    profile and models, read at most once: a dashboard view's filter lists, the metrics' fingerprint and their
    fetch all start from them, and each read is a scan of the items (~65 ms at 100k). Made per request by the
    view (selectors/metrics/dashboard.py: scoped_items), never kept beyond it."""

    def __init__(self, *, dataset: Dataset, judged_by: int | None) -> None:
        self.dataset = dataset
        self.judged_by = judged_by
        self._items: dict[str, Any] | None = None

    def serves(self, dataset: Dataset, judged_by: int | None) -> bool:
        """Whether these are the items of this dataset in this scope."""
        return self.dataset.pk == dataset.pk and self.judged_by == judged_by

    @property
    def read(self) -> bool:
        return self._items is not None

    def items(self) -> dict[str, Any]:
        """The items as _items gives them (ids sorted; kind, profile and models as codes into "names")."""
        if self._items is None:
            where, params = _scope_where(self.dataset, self.judged_by)
            self._items = _items(" AND ".join(where), params)
        return self._items


def verdicts_fetch(
    dataset: Dataset,
    checkpoint: CriticCheckpoint | None,
    filters: dict[str, str | None],
    judged_by: int | None = None,
    scoped: ScopedItems | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The checkpoint's finished verdicts (the items' own and the probes') and the reviewers' verdicts on the items that
    match the filters (and, with judged_by, that this user has given a verdict on). `scoped`: the same items when
    already read (a view with no item filter uses them instead of reading them again)."""
    where, params = _scope_where(dataset, judged_by)
    unfiltered = not (filters["split"] or filters["profile"] or filters["response_model"])
    if filters["split"]:
        where.append("i.split = %s")
        params.append(filters["split"])
    if filters["profile"]:
        where.append("i.profile = %s")
        params.append(filters["profile"])
    if filters["response_model"]:
        where.append("(i.model_a = %s OR i.model_b = %s)")
        params += [filters["response_model"]] * 2
    if unfiltered and scoped is not None and scoped.serves(dataset, judged_by):
        items = scoped.items()
    else:
        items = _items(" AND ".join(where), params)
    item_sql = f"SELECT i.id FROM {Item._meta.db_table} i WHERE {' AND '.join(where)}"  # noqa: S608
    c = _rows(
        CriticVerdict._meta.db_table,
        "v.checkpoint_id = %s AND v.status = %s",
        [checkpoint.pk if checkpoint else None, JobStatus.DONE],
        items,
        item_sql,
        params,
        {"score": ("v.score", "f8"), "confidence": ("v.confidence", "f8")},
        {"preference": (f"{_preference_code('v.preference')} + 1", 2), "probe": (probe_code_sql("v.probe"), 2)},
    )
    h = _rows(
        HumanVerdict._meta.db_table,
        "1 = 1",
        [],
        items,
        item_sql,
        params,
        {"score": ("v.score", "f8"), "reviewer": ("v.reviewer_id", "i8"), "revised_score": ("v.revised_score", "f8")},
        {
            "preference": (f"{_preference_code('v.preference')} + 1", 2),
            "revised_preference": (f"{_preference_code('v.revised_preference')} + 1", 2),
            "revised": ("CASE WHEN v.revised_at IS NULL THEN 0 ELSE 1 END", 1),
        },
    )
    for cols in (c, h):  # the preferences travelled shifted by one (-1, none, as 0)
        for key in ("preference", "revised_preference"):
            if key in cols:
                cols[key] = (cols[key] - 1).astype(np.int8)
    c["probe"] = c["probe"].astype(np.int8)
    h["revised"] = h["revised"].astype(bool)
    return c, h
