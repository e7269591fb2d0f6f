"""The run's frames as canonical Arrow text columns, checked on entry.

The sync compares what a run says with what the store holds as *canonical text* (NULL and
``""`` alike, dates ``YYYY-MM-DD``, booleans ``1``/``0``: ``clm.store.bulk.canonical``), so
SQLite's and PostgreSQL's representations compare alike. At a million customers the columns
are converted by Arrow's kernels; a column Arrow cannot take as it is (mixed types, time zones)
falls back to ``canonical``'s per-value loop, which gives the same text.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from clm.errors import InputError
from clm.services.sync.jsontext import json_list
from clm.store.bulk import canonical

CUSTOMER_FIELDS = {  # store column -> (data-contract column, kind)
    "name": ("name", "text"),
    "industry": ("industry", "text"),
    "phone": ("phone", "text"),
    "email": ("email", "text"),
    "owner": ("owner", "text"),
    "acquisition_channel": ("acquisition_channel", "text"),
    "signup_date": ("signup_date", "date"),
    "owner_user_id": ("owner_user_id", "int"),
}
STAGE_FIELDS = {
    "stage": "text",
    "stage_since": "date",
    "previous_stage": "text",
    "grey_zone": "bool",
    "reasons": "text",
    "model_version": "text",
}
_STRING = (pa.types.is_string, pa.types.is_large_string)


def _is_string(type_: pa.DataType) -> bool:
    return any(test(type_) for test in _STRING)


def _fast(series: pd.Series, kind: str) -> pa.Array | None:
    """Arrow's conversion of the common cases; ``None`` when only the loop gets it right."""
    if kind == "bool":
        if series.dtype == bool:
            return pc.if_else(pa.array(series.to_numpy()), "1", "0")
        return None
    try:
        arr = pa.array(series, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError):
        return None
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if pa.types.is_null(arr.type):
        return pa.array(np.full(len(arr), "", dtype=object), pa.string())
    if kind == "text" and _is_string(arr.type):
        out = arr
    elif kind == "int" and pa.types.is_integer(arr.type):
        out = arr
    elif kind == "date" and pa.types.is_date(arr.type):
        out = arr
    elif kind == "date" and pa.types.is_timestamp(arr.type) and arr.type.tz is None:
        out = pc.cast(arr, pa.date32())
    elif kind == "date" and _is_string(arr.type):
        out = pc.utf8_slice_codeunits(arr, 0, 10)
    else:
        return None
    return pc.fill_null(pc.cast(out, pa.string()), "")


def text_column(series: pd.Series, kind: str) -> pa.Array:
    """One column as canonical text (``kind``: ``text``, ``date``, ``bool`` or ``int``)."""
    series = series.reset_index(drop=True)
    out = _fast(series, kind)
    if out is None:
        out = pa.array(canonical(series, kind).tolist(), pa.string())
    return out


def reasons_column(series: pd.Series) -> pa.Array:
    """Reasons as stored: a list becomes its JSON text, a string stays, nothing is ``""``."""
    series = series.reset_index(drop=True)
    try:
        arr = pa.array(series, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError):
        arr = None
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if arr is not None and pa.types.is_null(arr.type):
        return pa.array(np.full(len(arr), "", dtype=object), pa.string())
    if arr is not None and pa.types.is_list(arr.type):
        values = arr.values
        if _is_string(values.type) or pa.types.is_integer(values.type):
            return pc.fill_null(json_list(arr), "")
    if arr is not None and _is_string(arr.type):
        return pc.fill_null(pc.cast(arr, pa.string()), "")

    def one(v: object) -> str:
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return ""
        if isinstance(v, np.ndarray | list | tuple):
            return json.dumps([str(x) for x in v], ensure_ascii=False)
        return str(v)

    return pa.array([one(v) for v in series.to_numpy(dtype=object)], pa.string())


def require(frame: pd.DataFrame, name: str, columns: tuple[str, ...]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(
            f"{name}: missing column(s) {', '.join(missing)}", table=name, field=missing[0]
        )


def first(mask: pa.Array) -> int | None:
    """Index of the first true value, or ``None``."""
    hits = np.flatnonzero(mask.to_numpy(zero_copy_only=False))
    return int(hits[0]) if len(hits) else None


def customer_ids(frame: pd.DataFrame, name: str, *, unique: bool) -> pa.Array:
    """The frame's ``customer_id`` column, refused when empty (or repeated, if ``unique``)."""
    ids = text_column(frame["customer_id"], "text")
    row = first(pc.equal(ids, ""))
    if row is not None:
        raise InputError(
            f"{name} row {row + 1}: customer_id is empty",
            table=name,
            row=row + 1,
            field="customer_id",
        )
    if unique and len(pc.unique(ids)) < len(ids):
        dup = int(np.flatnonzero(pd.Series(ids.to_numpy(zero_copy_only=False)).duplicated())[0])
        raise InputError(
            f"{name} row {dup + 1}: customer_id {ids[dup].as_py()!r} repeats",
            table=name,
            row=dup + 1,
            field="customer_id",
        )
    return ids


def refuse_unknown(ids: pa.Array, known: pa.Array, name: str) -> None:
    """Every id must be a customer the store has or the run brings."""
    if ids.equals(known):
        return
    row = first(pc.invert(pc.is_in(ids, value_set=known)))
    if row is not None:
        raise InputError(
            f"{name} row {row + 1}: customer {ids[row].as_py()!r} is not a known customer",
            table=name,
            row=row + 1,
            field="customer_id",
        )


def lookup(keys: pa.Array, index: pa.Array, values: pa.Array, default: object = None) -> pa.Array:
    """``values`` at the position of each of ``keys`` in ``index`` (``default`` if absent)."""
    if len(index) == 0:
        found = pa.nulls(len(keys), values.type)
        return found if default is None else pc.fill_null(found, default)
    if keys.equals(index):  # the common case: both in the run's order
        return values if default is None else pc.fill_null(values, default)
    found = values.take(pc.index_in(keys, value_set=index))
    return found if default is None else pc.fill_null(found, default)


def blank(n: int) -> pa.Array:
    """``n`` empty values (a column the run does not bring)."""
    return pa.array(np.full(n, "", dtype=object), pa.string())


def typed(data: pa.Table, kinds: dict[str, str]) -> pa.Table:
    """Canonical text back to storable values: ``""`` is NULL, ints and booleans typed."""
    columns = {}
    for name in data.column_names:
        col = data[name]
        kind = kinds.get(name, "text")
        if kind == "bool":
            columns[name] = pc.equal(col, "1")
        elif kind == "int":
            columns[name] = pc.cast(pc.if_else(pc.equal(col, ""), None, col), pa.int64())
        else:
            columns[name] = pc.if_else(pc.equal(col, ""), None, col)
    return pa.table(columns)


def differing(new: pa.Table, old: pa.Table, columns: list[str]) -> dict[str, pa.Array]:
    """Per column, where ``new`` and ``old`` (aligned rows) differ; a missing old row differs."""
    return {c: pc.fill_null(pc.not_equal(new[c], old[c]), True) for c in columns}


def any_of(masks: list[pa.Array], n: int) -> pa.Array:
    out = pa.array(np.zeros(n, dtype=bool))
    for mask in masks:
        out = pc.or_(out, mask)
    return out
