"""How the margin moves thresholds: direction, whole units on counts, never on equality."""

from __future__ import annotations

import pytest

from clm.analytics.rules import parse_expression
from clm.analytics.rules.margin import format_number, threshold


def _moved(text: str, mode: str, margin: float = 0.1, favour: bool = True):
    found = threshold(parse_expression(text), mode=mode, margin=margin, favour=favour)
    return None if found is None else (found.op, found.value)


@pytest.mark.parametrize(
    ("text", "loose", "tight"),
    [
        ("days_since_last_order > 90", (">", 81), (">", 99)),
        ("days_since_last_order >= 60", (">=", 54), (">=", 66)),
        ("days_since_first_order <= 30", ("<=", 33), ("<=", 27)),
        ("arpu_percentile >= 0.8", (">=", pytest.approx(0.72)), (">=", pytest.approx(0.88))),
        ("usage_change_pct <= -0.5", ("<=", pytest.approx(-0.45)), ("<=", pytest.approx(-0.55))),
        ("90 < days_since_last_order", (">", 81), (">", 99)),
        ("referrals_90d >= 1", (">=", 1), (">=", 1)),
        ("page_views_90d >= 3", (">=", 3), (">=", 3)),
        ("order_count == 1", ("==", 1), ("==", 1)),
        ("usage_change_pct != 0.5", ("!=", 0.5), ("!=", 0.5)),
    ],
)
def test_loose_favours_the_customer_and_tight_goes_against(text, loose, tight):
    assert _moved(text, "loose") == loose
    assert _moved(text, "tight") == tight
    assert _moved(text, "nominal") == _moved(text, "loose", margin=0.0)


def test_under_not_the_directions_swap():
    assert _moved("days_since_last_order > 90", "loose", favour=False) == (">", 99)
    assert _moved("days_since_last_order > 90", "tight", favour=False) == (">", 81)


def test_comparisons_without_a_literal_have_no_threshold():
    assert _moved("orders_30d > orders_prev_30d", "loose") is None


def test_zero_margin_leaves_thresholds_alone():
    assert _moved("days_since_last_order > 90", "loose", margin=0.0) == (">", 90)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (97, "97"),
        (1.0, "1"),
        (0.85, "0.85"),
        (-0.5, "-0.5"),
        (0.123456, "0.1235"),
        (None, "null"),
        (2.00001, "2"),
        (-3.0, "-3"),
        (1234567.25, "1234567.25"),
    ],
)
def test_numbers_are_formatted_without_noise(value, text):
    assert format_number(value) == text


@pytest.mark.parametrize(
    "text", ["value_tier == 'A'", "'A' == value_tier", "rfm_segment != 'lost'"]
)
def test_text_comparisons_never_get_a_margin(text):
    assert _moved(text, "loose") is None
    assert _moved(text, "tight") is None


def test_a_text_literal_on_the_left_is_moved_to_the_right():
    from clm.analytics.rules.margin import normalized

    left, op, right = normalized(parse_expression("'A' != value_tier"))
    assert (left.name, op, right.value) == ("value_tier", "!=", "A")


@pytest.mark.parametrize(
    ("value", "text"), [("A", "'A'"), ("it's", '"it\'s"'), (None, "null"), ("", "''")]
)
def test_text_is_quoted_in_reasons(value, text):
    from clm.analytics.rules.margin import format_text

    assert format_text(value) == text
