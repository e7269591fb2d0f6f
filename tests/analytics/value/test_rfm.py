import datetime as dt

import pytest
from factories import order
from value_helpers import PIT_AS_OF, frame_equal

from clm.analytics.value.rfm import (
    DEFAULT_SEGMENT_MAP,
    SEGMENTS,
    SegmentRule,
    check_segment_map,
    rfm_scores,
    rfm_segment_labels,
)
from clm.errors import DataFileError, InputError

D = dt.date(2024, 3, 31)


def _ladder(n: int) -> list[dict]:
    """Customer k (1..n): k paid orders of 100, the last one n-k days before D."""
    rows = []
    for k in range(1, n + 1):
        last = D - dt.timedelta(days=n - k)
        rows += [order(f"c{k}", last - dt.timedelta(days=30 * i), 100.0) for i in range(k)]
    return rows


def _by_id(frame):
    return frame.set_index("customer_id")


def test_measures_count_paid_orders_up_to_the_end_of_the_as_of_day(tables):
    t = tables(orders=[
        order("a", "2024-03-01T09:00:00", 50.0),
        order("a", "2024-03-31T23:00:00", 70.0),          # D 23:00 counts
        order("a", "2024-04-01T00:00:00", 1000.0),        # D+1 00:00 does not
        order("a", "2024-03-20T10:00:00", 500.0, status="refunded"),
        order("b", "2024-01-31T12:00:00", 10.0),
    ])
    got = _by_id(rfm_scores(t["orders"], as_of=D).execute())
    assert got.loc["a", "frequency"] == 2
    assert got.loc["a", "monetary"] == pytest.approx(120.0)
    assert got.loc["a", "recency_days"] == 0
    assert got.loc["b", "recency_days"] == 60
    assert set(got.index) == {"a", "b"}


def test_five_distinct_customers_fill_the_five_bins_and_the_diagonal_segments(tables):
    t = tables(orders=_ladder(5))
    got = _by_id(rfm_scores(t["orders"], as_of=D).execute())
    for k in range(1, 6):
        assert tuple(got.loc[f"c{k}", ["r_score", "f_score", "m_score", "fm_score"]]) == (k,) * 4
    assert got["rfm_segment"].to_dict() == {
        "c1": "lost", "c2": "hibernating", "c3": "potential_loyalist", "c4": "loyal",
        "c5": "champions",
    }


def test_ten_distinct_values_make_two_customers_per_bin_like_ntile(tables):
    t = tables(orders=_ladder(10))
    got = _by_id(rfm_scores(t["orders"], as_of=D).execute())
    assert [int(got.loc[f"c{k}", "f_score"]) for k in range(1, 11)] == [1, 1, 2, 2, 3, 3, 4, 4,
                                                                        5, 5]
    # the most recent buyer gets the highest recency score
    assert [int(got.loc[f"c{k}", "r_score"]) for k in range(1, 11)] == [1, 1, 2, 2, 3, 3, 4, 4,
                                                                        5, 5]


def test_tied_values_share_the_lowest_score_of_their_tie(tables):
    rows = [order(f"s{i}", "2024-03-01", 100.0) for i in range(6)]  # six one-order customers
    rows += [order(f"m{k}", "2024-03-01", 100.0) for k in range(2, 6) for _ in range(k)]
    t = tables(orders=rows)
    got = _by_id(rfm_scores(t["orders"], as_of=D).execute())
    assert set(got.loc[[f"s{i}" for i in range(6)], "f_score"]) == {1}
    # ranks 6, 7, 8, 9 of 10: floor(rank * 5 / 10) + 1
    assert [int(got.loc[f"m{k}", "f_score"]) for k in range(2, 6)] == [4, 4, 5, 5]
    assert set(got["r_score"]) == {1}  # everyone bought on the same day


def test_segment_reads_recency_against_rounded_up_mean_of_frequency_and_monetary(tables):
    # c5 is the most recent, has the fewest orders (F=1) but by far the largest spend (M=5):
    # FM = ceil(3) = 3 -> potential loyalist, not "new"
    rows = _ladder(5)
    rows = [r for r in rows if r["customer_id"] != "c5"]
    rows.append(order("c5", D, 10_000.0))
    t = tables(orders=rows)
    got = _by_id(rfm_scores(t["orders"], as_of=D).execute())
    assert tuple(got.loc["c5", ["r_score", "f_score", "m_score", "fm_score"]]) == (5, 1, 5, 3)
    assert got.loc["c5", "rfm_segment"] == "potential_loyalist"


def test_three_bins_are_rescaled_onto_the_five_point_grid(tables):
    t = tables(orders=_ladder(3))
    got = _by_id(rfm_scores(t["orders"], as_of=D, bins=3).execute())
    assert [int(got.loc[f"c{k}", "r_score"]) for k in (1, 2, 3)] == [1, 2, 3]
    # scores 1, 2, 3 read as 1, 3, 5 on the grid
    assert got["rfm_segment"].to_dict() == {"c1": "lost", "c2": "potential_loyalist",
                                            "c3": "champions"}


def test_default_segment_map_covers_the_grid_once_with_every_named_segment():
    check_segment_map(DEFAULT_SEGMENT_MAP)
    assert {rule.segment for rule in DEFAULT_SEGMENT_MAP} == set(SEGMENTS)


def test_overlapping_or_incomplete_segment_map_is_refused_naming_the_cell():
    overlapping = (*DEFAULT_SEGMENT_MAP, SegmentRule("lost", r=(5, 5), fm=(5, 5)))
    with pytest.raises(InputError, match="R=5, FM=5"):
        check_segment_map(overlapping)
    with pytest.raises(InputError, match="R=5, FM=4"):
        check_segment_map(DEFAULT_SEGMENT_MAP[1:])


def test_bad_options_and_inputs_are_refused_before_anything_runs(tables):
    t = tables(orders=_ladder(2))
    with pytest.raises(InputError, match="as_of must be a date"):
        rfm_scores(t["orders"], as_of=dt.datetime(2024, 3, 31, 12))
    with pytest.raises(InputError, match="bins"):
        rfm_scores(t["orders"], as_of=D, bins=1)
    with pytest.raises(DataFileError, match="'status'") as err:
        rfm_scores(t["orders"].drop("status"), as_of=D)
    assert err.value.context == {"table": "orders", "field": "status"}


def test_segment_labels_exist_in_english_and_chinese():
    en, zh = rfm_segment_labels("en"), rfm_segment_labels("zh-CN")
    assert list(en) == list(zh) == list(SEGMENTS)
    assert en["cant_lose"] == "Can't lose them"
    assert zh["champions"] == "冠军客户"
    assert all(label and not label.startswith("segment.") for label in [*en.values(),
                                                                        *zh.values()])
    assert len(set(zh.values())) == len(SEGMENTS)


def test_orders_after_as_of_change_nothing(pit_tables):
    full, cut = pit_tables
    a = rfm_scores(full["orders"], as_of=PIT_AS_OF).execute()
    b = rfm_scores(cut["orders"], as_of=PIT_AS_OF).execute()
    assert len(a) > 100
    frame_equal(a, b, sort_by=["customer_id"])
