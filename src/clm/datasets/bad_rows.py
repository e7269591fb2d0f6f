"""The documented flaws of the demo's ``orders.csv``: what import must quarantine or tolerate.

Real order exports are messy, and the demo should show what clm does about it. About 0.5% of
the order rows are flawed, split evenly over six kinds (at least one of each):

==================== ============= ============ ==============================================
kind                 field         expected     what the row looks like
==================== ============= ============ ==============================================
negative_amount      amount        quarantine   an extra row with a negative amount
impossible_date      ordered_at    quarantine   an extra row dated ``YYYY-02-30``
unknown_customer     customer_id   quarantine   an extra row of a customer id not in customers
duplicate_order_id   order_id      dedupe       an exact second copy of an existing row
currency_amount      amount        accept       an existing row, amount written ``¥1,280.00``
slash_date           ordered_at    accept       an existing row, dated ``2024/3/1`` (no time)
==================== ============= ============ ==============================================

``quarantine`` rows must be rejected, ``dedupe`` rows must add nothing (the order exists once),
``accept`` rows must be read leniently to the value they stand for. The flawed rows never
change a customer's story: extra rows are rejected, and rewritten rows keep their value and
calendar day.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

KINDS: tuple[tuple[str, str, str], ...] = (
    ("negative_amount", "amount", "quarantine"),
    ("impossible_date", "ordered_at", "quarantine"),
    ("unknown_customer", "customer_id", "quarantine"),
    ("duplicate_order_id", "order_id", "dedupe"),
    ("currency_amount", "amount", "accept"),
    ("slash_date", "ordered_at", "accept"),
)
SHARE = 0.005
BAD_ROW_COLUMNS = ("table", "line", "order_id", "kind", "field", "value", "expected")


def per_kind(clean_rows: int) -> int:
    """Flawed rows of each kind for an orders table of ``clean_rows`` rows."""
    return max(1, round(SHARE * clean_rows / len(KINDS)))


def inject(rng: np.random.Generator, orders: pd.DataFrame, *, unknown_ids: list[str],
           next_id: int, id_width: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return ``orders`` with the flawed rows in place, and the list of them.

    ``orders`` is in text form; ``unknown_ids`` are customer ids absent from the customers
    table; new order ids continue the sequence from ``next_id``.
    """
    k = per_kind(len(orders))
    orders = orders.reset_index(drop=True).copy()
    paid = np.nonzero((orders["status"] == "paid").to_numpy())[0]
    amount = orders["amount"].astype(float).to_numpy()
    big = np.intersect1d(paid, np.nonzero(amount >= 1000)[0])
    currency = rng.choice(big, size=k, replace=False)
    rest = np.setdiff1d(paid, currency)
    slash, dup = np.split(rng.choice(rest, size=2 * k, replace=False), [k])
    source = rng.choice(paid, size=3 * k, replace=False)

    for row in currency:
        orders.at[row, "amount"] = f"¥{amount[row]:,.2f}"
    for row in slash:
        y, m, d = orders.at[row, "ordered_at"][:10].split("-")
        orders.at[row, "ordered_at"] = f"{int(y)}/{int(m)}/{int(d)}"

    extra = orders.iloc[np.r_[source, dup]].copy().reset_index(drop=True)
    new_ids = [f"O{str(next_id + i).zfill(id_width)}" for i in range(3 * k)]
    extra.loc[: 3 * k - 1, "order_id"] = new_ids
    kinds = np.repeat(["negative_amount", "impossible_date", "unknown_customer",
                       "duplicate_order_id"], k)
    for i in range(k):
        extra.at[i, "amount"] = f"-{extra.at[i, 'amount']}"
        stamp = extra.at[k + i, "ordered_at"]
        extra.at[k + i, "ordered_at"] = f"{stamp[:4]}-02-30{stamp[10:]}"
        extra.at[2 * k + i, "customer_id"] = unknown_ids[i % len(unknown_ids)]

    key = np.r_[np.arange(len(orders), dtype=float), rng.uniform(0, len(orders), len(extra))]
    merged = pd.concat([orders, extra], ignore_index=True)
    position = np.argsort(key, kind="stable")
    merged = merged.iloc[position].reset_index(drop=True)
    line_of = np.empty(len(merged), np.int64)
    line_of[position] = np.arange(len(merged)) + 2  # header is line 1

    fields = dict((kind, (fld, exp)) for kind, fld, exp in KINDS)
    records = []
    for i, kind in enumerate(kinds):
        row = len(orders) + i
        fld, exp = fields[kind]
        records.append(("orders", line_of[row], extra.at[i, "order_id"], kind, fld,
                        extra.at[i, fld], exp))
    for kind, rows in (("currency_amount", currency), ("slash_date", slash)):
        fld, exp = fields[kind]
        for row in rows:
            records.append(("orders", line_of[row], orders.at[row, "order_id"], kind, fld,
                            orders.at[row, fld], exp))
    bad = pd.DataFrame.from_records(records, columns=list(BAD_ROW_COLUMNS))
    bad["line"] = bad["line"].astype(np.int64)
    return merged, bad.sort_values("line", ignore_index=True)
