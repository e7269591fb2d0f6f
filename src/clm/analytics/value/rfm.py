"""RFM scores and named RFM segments as of any date, computed in the engine.

RFM (recency, frequency, monetary; Hughes 1994, *Strategic Database Marketing*) scores each
buying customer 1..``bins`` on three measures taken as of D:

* recency_days: days from the last paid order's date to D (0 = ordered on D);
* frequency: number of paid orders on or before D;
* monetary: total paid amount on or before D.

Scores are quantile bins over the customers with at least one paid order, with ties kept
together: ``score = floor(rank * bins / n) + 1`` where ``rank`` is the 0-based *minimum* rank
(SQL ``RANK() - 1``) in ascending order and ``n`` the number of buyers. Without ties this gives
``bins`` equal-sized groups like SQL ``NTILE``; unlike ``NTILE`` two customers with the same
value always get the same score, and the result is the same on every engine (``NTILE`` splits
a tie arbitrarily, so DuckDB and PostgreSQL could disagree). Recency is reversed: the most
recent buyers score ``bins``.

Segments follow the widely used R x FM grid (Putler's RFM segments; the R-by-F grid popular in
retail analytics), reduced to the eight segments the issue names: R is the recency score and
FM = ceil((F + M) / 2) the mean of the frequency and monetary scores rounded up. With a
``bins`` other than 5, scores are rescaled to 1-5 (``floor((s - 1) * 4 / (bins - 1) + 0.5) +
1``) before the grid is read. The grid is data (``DEFAULT_SEGMENT_MAP``) and can be replaced;
a replacement must cover each of the 25 cells exactly once.

=====  ==================  ==================  ================  ================  ===========
R\\FM   1                   2                   3                 4                 5
=====  ==================  ==================  ================  ================  ===========
5      new                 potential_loyalist  potential_loyal.  champions         champions
4      new                 potential_loyalist  potential_loyal.  loyal             loyal
3      hibernating         hibernating         potential_loyal.  loyal             loyal
2      hibernating         hibernating         at_risk           at_risk           cant_lose
1      lost                lost                at_risk           at_risk           cant_lose
=====  ==================  ==================  ================  ================  ===========
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from clm.analytics.value.inputs import check_as_of, paid_orders
from clm.domain.i18n import normalize_locale, t
from clm.errors import InputError

SEGMENTS: tuple[str, ...] = (
    "champions",
    "loyal",
    "potential_loyalist",
    "new",
    "at_risk",
    "cant_lose",
    "hibernating",
    "lost",
)


@dataclass(frozen=True)
class SegmentRule:
    """One rectangle of the R x FM grid: scores in ``r`` and ``fm`` (inclusive) -> segment."""

    segment: str
    r: tuple[int, int]
    fm: tuple[int, int]

    def cells(self) -> list[tuple[int, int]]:
        return [(r, fm) for r in range(self.r[0], self.r[1] + 1)
                for fm in range(self.fm[0], self.fm[1] + 1)]


DEFAULT_SEGMENT_MAP: tuple[SegmentRule, ...] = (
    SegmentRule("champions", r=(5, 5), fm=(4, 5)),
    SegmentRule("loyal", r=(3, 4), fm=(4, 5)),
    SegmentRule("potential_loyalist", r=(4, 5), fm=(2, 3)),
    SegmentRule("potential_loyalist", r=(3, 3), fm=(3, 3)),
    SegmentRule("new", r=(4, 5), fm=(1, 1)),
    SegmentRule("hibernating", r=(2, 3), fm=(1, 2)),
    SegmentRule("at_risk", r=(1, 2), fm=(3, 4)),
    SegmentRule("cant_lose", r=(1, 2), fm=(5, 5)),
    SegmentRule("lost", r=(1, 1), fm=(1, 2)),
)


def check_segment_map(rules: Sequence[SegmentRule]) -> None:
    """Raise ``InputError`` unless ``rules`` cover every (R, FM) cell of 1-5 exactly once."""
    seen: dict[tuple[int, int], str] = {}
    for i, rule in enumerate(rules, start=1):
        for cell in rule.cells():
            if not (1 <= cell[0] <= 5 and 1 <= cell[1] <= 5):
                raise InputError(f"segment rule {i} ({rule.segment}) leaves the 1-5 grid at "
                                 f"R={cell[0]}, FM={cell[1]}", field="segment_map")
            if cell in seen:
                raise InputError(f"segment rule {i} ({rule.segment}) overlaps "
                                 f"{seen[cell]} at R={cell[0]}, FM={cell[1]}",
                                 field="segment_map")
            seen[cell] = rule.segment
    missing = [(r, fm) for r in range(1, 6) for fm in range(1, 6) if (r, fm) not in seen]
    if missing:
        raise InputError(f"segment map leaves R={missing[0][0]}, FM={missing[0][1]} without a "
                         f"segment ({len(missing)} cells uncovered)", field="segment_map")


def quantile_score(value: ir.NumericColumn, *, bins: int, n: ir.IntegerValue,
                   descending: bool = False) -> ir.IntegerValue:
    """Score 1..bins of ``value`` by quantile with ties kept together (see module doc).

    ``n`` is the number of rows being ranked (a window count). ``descending`` gives the
    highest score to the smallest value (recency).
    """
    key = ibis.desc(value) if descending else ibis.asc(value)
    rank = ibis.rank().over(order_by=key)
    return (rank.cast("float64") * bins / n.cast("float64")).floor().cast("int64") + 1


def _to_five(score: ir.IntegerValue, bins: int) -> ir.IntegerValue:
    if bins == 5:
        return score
    return ((score - 1).cast("float64") * 4.0 / (bins - 1) + 0.5).floor().cast("int64") + 1


def segment_expr(r: ir.IntegerValue, fm: ir.IntegerValue,
                 rules: Sequence[SegmentRule] = DEFAULT_SEGMENT_MAP) -> ir.StringValue:
    """The segment id of 1-5 scores ``r`` and ``fm`` under ``rules`` (a CASE expression)."""
    branches = [((r >= rule.r[0]) & (r <= rule.r[1]) & (fm >= rule.fm[0]) & (fm <= rule.fm[1]),
                 ibis.literal(rule.segment)) for rule in rules]
    return ibis.cases(*branches, else_=ibis.null("string"))


def rfm_scores(orders: ir.Table, *, as_of: dt.date, bins: int = 5,
               segment_map: Sequence[SegmentRule] = DEFAULT_SEGMENT_MAP) -> ir.Table:
    """RFM measures, scores and segment of every customer with a paid order on or before D.

    Parameters
    ----------
    orders
        Canonical orders table (customer_id, ordered_at, amount, status).
    as_of
        The date D; orders after D never contribute.
    bins
        Number of quantile bins per score (2-100; 5 is the classic RFM scale).
    segment_map
        The R x FM grid of segments (see module doc).

    Returns
    -------
    ibis.Table
        customer_id, last_order_date, recency_days, frequency, monetary, r_score, f_score,
        m_score, fm_score, rfm_segment.
    """
    as_of = check_as_of(as_of)
    if not isinstance(bins, int) or isinstance(bins, bool) or not 2 <= bins <= 100:
        raise InputError(f"bins must be an integer from 2 to 100, got {bins!r}", field="bins")
    check_segment_map(segment_map)
    paid = paid_orders(orders, as_of=as_of)
    per = paid.group_by("customer_id").aggregate(
        last_ordered_at=paid.ordered_at.max(),
        frequency=paid.count(),
        monetary=paid.amount.sum(),
    )
    per = per.mutate(last_order_date=per.last_ordered_at.date()).drop("last_ordered_at")
    per = per.mutate(recency_days=ibis.date(as_of).delta(per.last_order_date, unit="day")
                     .cast("int64"))
    n = per.customer_id.count().over(ibis.window())
    scored = per.mutate(
        r_score=quantile_score(per.recency_days, bins=bins, n=n, descending=True),
        f_score=quantile_score(per.frequency, bins=bins, n=n),
        # money ranked in cents: engines' float sums may differ in the last bit
        m_score=quantile_score(per.monetary.round(2), bins=bins, n=n),
    )
    fm_sum = (scored.f_score + scored.m_score + 1).cast("float64")
    scored = scored.mutate(fm_score=(fm_sum / 2.0).floor().cast("int64"))
    scored = scored.mutate(rfm_segment=segment_expr(_to_five(scored.r_score, bins),
                                                    _to_five(scored.fm_score, bins),
                                                    segment_map))
    return scored.select("customer_id", "last_order_date", "recency_days", "frequency",
                         "monetary", "r_score", "f_score", "m_score", "fm_score",
                         "rfm_segment")


def rfm_segment_labels(locale: str = "en") -> dict[str, str]:
    """Segment id -> label in ``locale`` (``en`` or ``zh-CN``), in the order of ``SEGMENTS``."""
    loc = normalize_locale(locale)
    return {seg: t(f"segment.{seg}", loc) for seg in SEGMENTS}
