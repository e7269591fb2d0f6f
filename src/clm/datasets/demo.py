"""The demo company: several thousand customers over two years, in the four contract files.

``generate_demo`` draws a latent journey per customer (:mod:`clm.datasets.archetypes`), the
milestones and paid orders of that journey (:mod:`~clm.datasets.journeys`), the behaviour
around it (:mod:`~clm.datasets.activity`) and who the customer is
(:mod:`~clm.datasets.people`), then renders everything in the contract's text form -- exactly
what ``write_demo`` puts in the CSV files, flaws included (:mod:`~clm.datasets.bad_rows`).
The story is told in ``docs/demo.md``. Same arguments, same seed: byte-identical files.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from clm.datasets import bad_rows as flaws
from clm.datasets.activity import Points, draw_events, draw_interactions
from clm.datasets.archetypes import BY_NAME, NAMES
from clm.datasets.journeys import Journeys, draw_journeys, draw_referrals
from clm.datasets.people import REFERRAL_CHANNEL, People, draw_people
from clm.domain.contract import TABLES
from clm.errors import DataFileError, InputError

MIN_CUSTOMERS = 50
MIN_DAYS = 365
_DAY = 86_400


@dataclass(frozen=True, eq=False)
class DemoData:
    """The four demo tables in text form, the archetype of each customer and the flawed rows.

    ``customers``, ``orders``, ``events`` and ``interactions`` hold exactly the contract
    columns as strings (missing values are NA), the same text ``write_demo`` writes.
    ``bad_rows`` lists each flawed order row with its CSV line (the header is line 1).
    """

    customers: pd.DataFrame
    orders: pd.DataFrame
    events: pd.DataFrame
    interactions: pd.DataFrame
    archetypes: dict[str, str]
    bad_rows: pd.DataFrame
    start: date
    end: date
    seed: int

    def tables(self) -> dict[str, pd.DataFrame]:
        """The four tables by contract name, in import order."""
        return {"customers": self.customers, "orders": self.orders, "events": self.events,
                "interactions": self.interactions}

    @property
    def expected_stages(self) -> dict[str, str]:
        """customer_id -> the stage the default model should assign on ``end``."""
        return {cid: BY_NAME[a].expected_stage for cid, a in self.archetypes.items()}

    def clean(self, table: str) -> pd.DataFrame:
        """``table`` as a correct import should hold it: typed, flaws resolved.

        Quarantined and duplicate rows are dropped, ``¥1,280.00`` and ``2024/3/1`` are read
        leniently; dates and timestamps become ``datetime64``, floats ``float64``.
        """
        frame = self.tables()[table]
        if table == "orders":
            drop = self.bad_rows.loc[self.bad_rows["expected"] != "accept", "line"] - 2
            frame = frame.drop(index=drop.to_numpy()).reset_index(drop=True)
        out = frame.copy()
        for column in TABLES[table].columns:
            values = out[column.name]
            if column.type == "float":
                text = values.str.replace("¥", "", regex=False).str.replace(",", "", regex=False)
                out[column.name] = text.astype("float64")
            elif column.type in ("date", "timestamp"):
                out[column.name] = pd.to_datetime(values, format="mixed")
        return out


def generate_demo(*, customers: int = 5000, start: date = date(2024, 1, 1),
                  end: date = date(2025, 12, 31), seed: int = 7) -> DemoData:
    """Generate the demo company: ``customers`` customers active between ``start`` and ``end``.

    Parameters
    ----------
    customers
        Number of customers (at least 50, so that every archetype is present).
    start, end
        First and last day of the story (at least 365 days apart); ``end`` is the as-of date
        at which each customer's archetype should equal its stage.
    seed
        Seed of the one ``numpy`` generator every draw comes from.

    Raises
    ------
    InputError
        If ``customers`` or the date range is too small for the story.
    """
    if customers < MIN_CUSTOMERS:
        raise InputError(f"the demo needs at least {MIN_CUSTOMERS} customers, got {customers}",
                         field="customers")
    span = (end - start).days
    if span + 1 < MIN_DAYS:
        raise InputError(f"the demo needs at least {MIN_DAYS} days between start and end, "
                         f"got {span + 1} ({start} to {end})", field="end")
    rng = np.random.default_rng(seed)
    j = draw_journeys(rng, customers=customers, start=start, end=span)
    referrals = draw_referrals(rng, j)
    events = draw_events(rng, j)
    interactions = draw_interactions(rng, j, referrals)

    rank = np.empty(j.size, np.int64)  # customer numbers follow signup order
    rank[np.lexsort((np.arange(j.size), j.signup))] = np.arange(j.size)
    width = max(5, len(str(customers)))
    ids = np.array([f"C{str(r + 1).zfill(width)}" for r in rank], dtype=object)
    people = draw_people(rng, j.size, number=rank + 1)
    people.channel[referrals[1]] = REFERRAL_CHANNEL

    orders, next_id, id_width = _orders(rng, j, ids)
    unknown = [f"C{str(customers + 1 + 37 * i).zfill(width)}" for i in range(5)]
    orders, bad = flaws.inject(rng, orders, unknown_ids=unknown, next_id=next_id,
                               id_width=id_width)
    return DemoData(
        customers=_customers(j, ids, people, rank),
        orders=orders,
        events=_events(j, ids, events),
        interactions=_interactions(j, ids, interactions),
        archetypes={ids[i]: NAMES[j.archetype[i]] for i in np.argsort(rank)},
        bad_rows=bad,
        start=start,
        end=end,
        seed=seed,
    )


def write_demo(data: DemoData, folder: Path) -> dict[str, Path]:
    """Write the four tables as ``<table>.csv`` (UTF-8, contract headers) into ``folder``."""
    folder = Path(folder)
    paths: dict[str, Path] = {}
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name, frame in data.tables().items():
            path = folder / f"{name}.csv"
            frame.to_csv(path, index=False, encoding="utf-8", lineterminator="\n")
            paths[name] = path
    except OSError as exc:
        raise DataFileError(f"cannot write the demo files into {folder}: {exc.strerror}",
                            file=str(folder)) from None
    return paths


# -- text rendering -------------------------------------------------------------------------
def _stamps(start: date, seconds: np.ndarray) -> np.ndarray:
    """``YYYY-MM-DD HH:MM:SS`` for whole seconds since ``start``."""
    moments = np.datetime64(start, "s") + seconds.astype("timedelta64[s]")
    text = np.datetime_as_string(moments, unit="s")
    return np.char.replace(text, "T", " ").astype(object)


def _dates(start: date, days: np.ndarray) -> np.ndarray:
    text = np.datetime_as_string(np.datetime64(start, "D") + days, unit="D").astype(object)
    text[days < 0] = None
    return text


def _seconds(j: Journeys, days: np.ndarray) -> np.ndarray:
    """Float days to whole seconds, clipped into the story (never after the end date)."""
    return np.clip(np.floor(days * _DAY), 0, (j.end + 1) * _DAY - 1).astype(np.int64)


def _frame(table: str, columns: dict[str, np.ndarray]) -> pd.DataFrame:
    names = TABLES[table].column_names
    return pd.DataFrame({name: pd.array(columns[name], dtype="str") for name in names})


def _customers(j: Journeys, ids: np.ndarray, people: People, rank: np.ndarray) -> pd.DataFrame:
    order = np.argsort(rank)
    return _frame("customers", {
        "customer_id": ids[order], "name": people.name[order],
        "industry": people.industry[order], "phone": people.phone[order],
        "email": people.email[order], "owner": people.owner[order],
        "acquisition_channel": people.channel[order],
        "signup_date": _dates(j.start, j.signup[order]),
        "unsubscribed_on": _dates(j.start, j.unsubscribed[order]),
        "account_closed_on": _dates(j.start, j.closed[order]),
    })


def _orders(rng: np.random.Generator, j: Journeys,
            ids: np.ndarray) -> tuple[pd.DataFrame, int, int]:
    """Paid orders plus refunded (3%) and cancelled (1.5%) copies, numbered by time."""
    owner, day, amount = j.order_owner, j.order_day, j.order_amount
    status = np.full(owner.size, "paid", dtype=object)
    for name, p in (("refunded", 0.03), ("cancelled", 0.015)):
        pick = np.nonzero(rng.random(j.order_owner.size) < p)[0]
        owner = np.r_[owner, j.order_owner[pick]]
        day = np.r_[day, j.order_day[pick]]
        amount = np.r_[amount, j.order_amount[pick]]
        status = np.r_[status, np.full(pick.size, name, dtype=object)]
    seconds = day * _DAY + rng.integers(8 * 3600, 22 * 3600, owner.size)
    order = np.lexsort((owner, seconds))
    width = max(6, len(str(owner.size * 2)))
    number = np.arange(1, owner.size + 1)
    frame = _frame("orders", {
        "order_id": np.array([f"O{str(k).zfill(width)}" for k in number], dtype=object),
        "customer_id": ids[owner[order]],
        "ordered_at": _stamps(j.start, seconds[order]),
        "amount": np.char.mod("%.2f", amount[order]).astype(object),
        "status": status[order],
    })
    return frame, owner.size + 1, width


def _events(j: Journeys, ids: np.ndarray, p: Points) -> pd.DataFrame:
    seconds = _seconds(j, p.time)
    order = np.lexsort((p.owner, seconds))
    frame = _frame("events", {
        "customer_id": ids[p.owner[order]], "occurred_at": _stamps(j.start, seconds[order]),
        "event_type": p.kind[order], "feature": p.extra[order],
    })
    return frame.drop_duplicates(ignore_index=True)


def _interactions(j: Journeys, ids: np.ndarray, p: Points) -> pd.DataFrame:
    seconds = _seconds(j, p.time)
    order = np.lexsort((p.owner, seconds))
    score = p.extra[order]
    has_score = np.array([s is not None for s in score])
    score_text = np.full(score.size, None, dtype=object)
    score_text[has_score] = np.char.mod("%g", score[has_score].astype(float)).astype(object)
    referee = p.other[order]
    referred = np.where(referee >= 0, ids[np.maximum(referee, 0)], None)
    frame = _frame("interactions", {
        "customer_id": ids[p.owner[order]],
        "occurred_at": _stamps(j.start, seconds[order]),
        "interaction_type": p.kind[order], "score": score_text,
        "referred_customer_id": referred,
    })
    return frame.drop_duplicates(ignore_index=True)
