"""Bit sets in a BIGINT: the count of set bits must be exact on every engine that runs it."""

from __future__ import annotations

import random

import ibis

from clm.analytics.features.bits import bit, bit_or, popcount32

VALUES = [0, 1, 2, 3, 0x55555555, 0xAAAAAAAA, 2**29, 2**30 - 1, 2**32 - 1,
          *random.Random(7).sample(range(2**32), 200)]


def _counts(con) -> list[tuple[int, int]]:
    t = ibis.memtable({"v": VALUES}, schema={"v": "int64"})
    out = con.execute(t.select("v", n=popcount32(t.v)).order_by("v"))
    return list(zip(out["v"].tolist(), out["n"].tolist(), strict=True))


def _expected() -> list[tuple[int, int]]:
    return sorted((v, bin(v).count("1")) for v in VALUES)


def test_popcount_counts_the_set_bits_of_any_32_bit_value(warehouse):
    assert _counts(warehouse.con) == _expected()


def test_popcount_on_postgres_equals_python(pg_warehouse):
    assert _counts(pg_warehouse.con) == _expected()


def test_bit_or_of_positions_is_the_set_and_out_of_range_positions_are_flagged(warehouse):
    t = ibis.memtable({"g": [1, 1, 1, 1, 2], "p": [0, 3, 3, 29, 30]})
    value, fits = bit(t.p, 30)
    out = warehouse.con.execute(
        t.group_by("g").aggregate(mask=bit_or(value, where=fits), n=fits.sum()).order_by("g")
    )
    assert out["mask"].tolist()[0] == 1 | 8 | 2**29
    assert out["mask"].isna().tolist()[1]  # position 30 does not fit in 30 bits
    assert out["n"].tolist() == [4, 0]
