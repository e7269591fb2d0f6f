"""Audit before/after JSON for a million rows at once, the text ``json.dumps`` would write.

One ``json.dumps`` per audit row costs seconds at a million customers. Here an object is a list
of *pieces*, literal text and Arrow string columns, joined by one Arrow kernel call per object:

- a column with few distinct values (stage, industry, owner, reasons, dates) is encoded once
  per distinct value in Python and spread with ``take``;
- a column of many values (name, phone, e-mail) needs only quotes around it when its bytes hold
  no quote, backslash or control character (checked over the whole buffer at once); otherwise
  the values that need escaping go through ``json.encoder.encode_basestring``, the function
  ``json.dumps(..., ensure_ascii=False)`` itself uses.
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

Piece = str | pa.Array
_NEEDS_ESCAPE = r'["\\\x00-\x1f]'
_SAMPLE = 2_000


def _plain_bytes(values: pa.Array) -> bool:
    """No byte of any value is a quote, a backslash or a control character."""
    data = values.buffers()[2]
    if data is None:
        return True
    raw = np.frombuffer(data, dtype=np.uint8)
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int32)
    raw = raw[offsets[values.offset] : offsets[values.offset + len(values)]]
    return not bool(((raw < 0x20) | (raw == 0x22) | (raw == 0x5C)).any())


def json_strings(values: pa.Array, *, empty_is_null: bool = True) -> pa.Array:
    """Each value as a JSON string literal (``""`` as ``null`` unless told otherwise)."""
    values = _text(values)
    quoted = pc.binary_join_element_wise('"', values, '"', "")
    if not _plain_bytes(values):
        needs = pc.match_substring_regex(values, _NEEDS_ESCAPE)
        rows = pa.array(np.flatnonzero(needs.to_numpy(zero_copy_only=False)))
        escaped = [encode_basestring(v) for v in values.take(rows).to_pylist()]
        quoted = pc.replace_with_mask(quoted, needs, pa.array(escaped, pa.string()))
    if empty_is_null:
        quoted = pc.if_else(pc.equal(values, ""), "null", quoted)
    return quoted


def json_list(lists: pa.ListArray) -> pa.Array:
    """Each list as a JSON array of strings (``["a", "b"]``); a null list stays null."""
    offsets = pc.subtract(lists.offsets, lists.offsets[0])
    items = json_strings(pc.list_flatten(lists), empty_is_null=False)
    encoded = pa.ListArray.from_arrays(offsets, items, mask=lists.is_null())
    return pc.binary_join_element_wise("[", pc.binary_join(encoded, ", "), "]", "")


def _text(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    return pc.fill_null(pc.cast(values, pa.string()), "")


def _scalar(column: str, value: str) -> str:
    """One canonical value as JSON: ``""`` is null, ``grey_zone`` a boolean, ``owner_user_id``
    a number, ``reasons`` the list it holds, anything else a string."""
    if value == "":
        return "null"
    if column == "grey_zone":
        return "true" if value == "1" else "false"
    if column == "owner_user_id" or (column == "reasons" and value.startswith("[")):
        return value
    return json.dumps(value, ensure_ascii=False)


def _few_values(values: pa.Array) -> bool:
    sample = values.slice(0, _SAMPLE)
    return len(pc.unique(sample)) * 10 <= max(len(sample), 10)


def value_pieces(column: str, values: pa.Array | pa.ChunkedArray) -> list[Piece]:
    """Pieces whose concatenation is each row's value of a store column, as the audit shows it."""
    values = _text(values)
    empty = pc.equal(values, "")
    if column == "grey_zone":
        return [pc.if_else(empty, "null", pc.if_else(pc.equal(values, "1"), "true", "false"))]
    if column == "owner_user_id":
        return [pc.if_else(empty, "null", values)]
    if len(values) == 0:
        return [values]
    if _few_values(values):
        encoded = pc.dictionary_encode(values)
        distinct = [_scalar(column, v) for v in encoded.dictionary.to_pylist()]
        return [pa.array(distinct, pa.string()).take(encoded.indices)]
    if column == "reasons":
        return [pc.if_else(pc.starts_with(values, "["), values, json_strings(values))]
    if not pc.any(empty).as_py() and _plain_bytes(values):
        return ['"', values, '"']
    return [json_strings(values)]


def member_pieces(fields: dict[str, pa.Array | pa.ChunkedArray]) -> list[Piece]:
    """``"key": value, ...`` (no braces) as pieces."""
    pieces: list[Piece] = []
    for i, (key, values) in enumerate(fields.items()):
        pieces.append((", " if i else "") + json.dumps(key) + ": ")
        pieces += value_pieces(key, values)
    return pieces


def concat(pieces: list[Piece], n: int) -> pa.Array:
    """Join pieces row by row (a null piece counts as empty); ``n`` rows."""
    merged: list[Piece] = []
    for piece in pieces:
        if isinstance(piece, str) and merged and isinstance(merged[-1], str):
            merged[-1] += piece
        else:
            merged.append(piece)
    if not any(isinstance(p, pa.Array) for p in merged):
        return pa.array(["".join(merged)] * n, pa.string())  # type: ignore[arg-type]
    return pc.binary_join_element_wise(*merged, "", null_handling="replace", null_replacement="")


def json_values(column: str, values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Each row's value of a store column as JSON text (see ``value_pieces``)."""
    return concat(value_pieces(column, values), len(values))


def json_members(fields: dict[str, pa.Array], present: dict[str, pa.Array]) -> pa.Array:
    """``"key": value, ...`` per row (no braces), a member only where ``present`` says so;
    ``fields`` hold JSON text already (``json_values``)."""
    parts = []
    for key, values in fields.items():
        part = pc.binary_join_element_wise(json.dumps(key) + ": ", values, "")
        parts.append(pc.if_else(present[key], part, pa.scalar(None, pa.string())))
    return pc.binary_join_element_wise(*parts, ", ", null_handling="skip")


def braces(members: pa.Array) -> pa.Array:
    return pc.binary_join_element_wise("{", members, "}", "")
