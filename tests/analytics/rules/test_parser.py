"""The rule language: precedence, literals, functions, types, and errors that point at the token."""

from __future__ import annotations

import pytest

from clm.analytics.rules import Origin, parse_expression
from clm.analytics.rules.nodes import (
    AllOf,
    AnyOf,
    Arith,
    AtLeast,
    Compare,
    Feature,
    Not,
    Number,
)
from clm.errors import RuleError


def test_and_binds_tighter_than_or():
    node = parse_expression("unsubscribed or account_closed and orders_30d > 1")
    assert isinstance(node, AnyOf)
    assert isinstance(node.items[0], Feature)
    assert isinstance(node.items[1], AllOf)


def test_parentheses_override_precedence():
    node = parse_expression("(unsubscribed or account_closed) and orders_30d > 1")
    assert isinstance(node, AllOf)
    assert isinstance(node.items[0], AnyOf)


def test_not_applies_to_the_comparison_after_it():
    node = parse_expression("not orders_30d > 1 and unsubscribed")
    assert isinstance(node, AllOf)
    assert isinstance(node.items[0], Not)
    assert isinstance(node.items[0].operand, Compare)


def test_multiplication_binds_tighter_than_addition():
    node = parse_expression("orders_30d + orders_prev_30d * 2 >= 3")
    assert isinstance(node, Compare)
    assert isinstance(node.left, Arith) and node.left.op == "+"
    assert isinstance(node.left.right, Arith) and node.left.right.op == "*"


def test_chains_of_and_are_flattened():
    node = parse_expression("unsubscribed and (account_closed and onboarding_completed)")
    assert isinstance(node, AllOf) and len(node.items) == 3


def test_percent_literal_is_a_fraction():
    node = parse_expression("aov_change_vs_first >= 20%")
    assert isinstance(node.right, Number)
    assert node.right.value == pytest.approx(0.2)
    assert node.right.text == "20%"


def test_negative_literal_is_folded_and_keeps_its_text():
    node = parse_expression("usage_change_pct <= -50%")
    assert isinstance(node.right, Number)
    assert node.right.value == pytest.approx(-0.5)
    assert node.right.text == "-50%"


def test_single_equals_means_equality():
    assert parse_expression("order_count = 1").op == "=="


def test_keywords_are_case_insensitive():
    node = parse_expression("unsubscribed AND NOT account_closed OR TRUE")
    assert isinstance(node, AnyOf)


def test_integer_arithmetic_stays_integer_and_division_gives_float():
    assert parse_expression("orders_30d + 1", expect=None).type == "int"
    assert parse_expression("orders_30d / 2", expect=None).type == "float"
    assert parse_expression("orders_30d * 1.5", expect=None).type == "float"


def test_functions_build_their_nodes():
    node = parse_expression("at_least(2, unsubscribed, account_closed, orders_30d >= 1)")
    assert isinstance(node, AtLeast) and node.k == 2 and len(node.items) == 3
    assert isinstance(parse_expression("any_of(unsubscribed, account_closed)"), AnyOf)
    assert isinstance(parse_expression("all_of(unsubscribed, account_closed)"), AllOf)
    assert parse_expression("coalesce(usage_change_pct, 0) < 0").left.type == "float"
    assert parse_expression("is_null(usage_change_pct)").type == "bool"
    assert parse_expression("abs(usage_change_pct) > 0.5").type == "bool"


def test_unknown_feature_names_the_closest_valid_one():
    with pytest.raises(RuleError) as info:
        parse_expression("days_since_last_ordr > 90")
    err = info.value
    assert "unknown feature 'days_since_last_ordr'" in err.message
    assert "did you mean 'days_since_last_order'" in err.message
    assert err.context["suggestion"] == "days_since_last_order"
    assert err.context["column"] == 1


def test_error_reports_file_line_and_column_from_the_origin():
    origin = Origin("default.yaml", 23, 9)
    with pytest.raises(RuleError) as info:
        parse_expression("orders_30d > 1 and refnds_90d > 0", origin=origin)
    err = info.value
    assert err.message.startswith("default.yaml line 23, column 28:")
    assert err.context == {
        "file": "default.yaml",
        "line": 23,
        "column": 28,
        "token": "refnds_90d",
        "name": "refnds_90d",
        "suggestion": "refunds_90d",
    }


def test_error_on_a_later_line_of_a_multiline_rule():
    origin = Origin("m.yaml", 10, 5)
    with pytest.raises(RuleError) as info:
        parse_expression("orders_30d > 1\nand bogus_feature", origin=origin)
    assert info.value.context["line"] == 11
    assert info.value.context["column"] == 5


def test_inexact_origin_reports_line_only():
    with pytest.raises(RuleError) as info:
        parse_expression("nope > 1", origin=Origin("m.toml", 7, 1, exact=False))
    assert info.value.message.startswith("m.toml line 7: ")
    assert "column" not in info.value.context


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty rule"),
        ("orders_30d >", "expected a value, found the end of the rule"),
        ("orders_30d > 1 )", "unexpected ')'"),
        ("(orders_30d > 1", "expected ')'"),
        ("orders_30d > 1 > 0", "cannot be chained"),
        ("orders_30d", "must be true/false"),
        ("orders_30d and unsubscribed", "'and' needs true/false"),
        ("unsubscribed + 1 > 0", "'+' needs a number"),
        ("unsubscribed > 1", "compares numbers"),
        ("unsubscribed == 1", "needs true/false"),
        ("not orders_30d", "'not' needs true/false"),
        ("at_least(0, unsubscribed)", "whole number >= 1"),
        ("at_least(3, unsubscribed, account_closed)", "can never hold"),
        ("at_least(orders_30d, unsubscribed)", "whole number >= 1"),
        ("coalesce(orders_30d)", "takes 2 arguments"),
        ("coalesce(unsubscribed, 1) == 1", "needs true/false"),
        ("sqrt(orders_30d) > 1", "unknown function 'sqrt'"),
        ("orders_30d(1) > 1", "is a feature, not a function"),
        ("orders_30d > 1 ; unsubscribed", "unexpected character ';'"),
        ("orders_30d > 'x'", "text only takes ==, != or in"),
        ("orders_30d > 'x", "is not closed on the same line"),
        ("orders_30d.real > 1", "unexpected character '.'"),
    ],
)
def test_invalid_rules_are_rule_errors_naming_the_problem(text, fragment):
    with pytest.raises(RuleError) as info:
        parse_expression(text)
    assert fragment in info.value.message


def test_deep_nesting_is_refused_not_a_recursion_error():
    with pytest.raises(RuleError, match="nested more than"):
        parse_expression("(" * 500 + "unsubscribed" + ")" * 500)
    with pytest.raises(RuleError, match="nested more than"):
        parse_expression("not " * 500 + "unsubscribed")


def test_long_arithmetic_chain_is_refused():
    with pytest.raises(RuleError):
        parse_expression(" + ".join(["orders_30d"] * 300) + " > 1")


def test_custom_names_replace_the_catalog():
    node = parse_expression("score > 3", names={"score": "float"})
    assert node.left.name == "score"
    with pytest.raises(RuleError, match="did you mean 'score'"):
        parse_expression("scor > 3", names={"score": "float"})


# -- text ------------------------------------------------------------------------------------
def test_text_literals_in_either_quote_compare_with_text_features():
    from clm.analytics.rules.nodes import String

    for text in ("value_tier == 'A'", 'value_tier == "A"', "value_tier = 'A'"):
        node = parse_expression(text)
        assert isinstance(node, Compare) and node.op == "=="
        assert node.left == Feature(0, 10, "str", "value_tier")
        assert isinstance(node.right, String) and node.right.value == "A"
    assert parse_expression('rfm_segment != "it\'s"').right.value == "it's"


def test_in_lists_of_texts_and_numbers():
    from clm.analytics.rules.nodes import In

    node = parse_expression("rfm_segment in ('at_risk', \"cant_lose\")")
    assert isinstance(node, In)
    assert [o.value for o in node.options] == ["at_risk", "cant_lose"]
    numbers = parse_expression("r_score in (1, 2, -3)")
    assert [o.value for o in numbers.options] == [1, 2, -3]


def test_not_in_reads_as_not_of_in():
    from clm.analytics.rules.nodes import In

    node = parse_expression("value_tier not in ('A') and order_count >= 3")
    assert isinstance(node, AllOf)
    assert isinstance(node.items[0], Not) and isinstance(node.items[0].operand, In)


def test_keywords_in_text_are_just_text():
    node = parse_expression("rfm_segment == 'not and or in'")
    assert node.right.value == "not and or in"


@pytest.mark.parametrize(
    ("text", "fragment", "column"),
    [
        ("value_tier == 3", "'==' cannot compare 'value_tier' (text) with '3' (a number)", 15),
        ("r_score == 'A'", "cannot compare 'r_score' (a number) with \"'A'\" (text)", 12),
        ("value_tier > 'A'", "text only takes ==, != or in", 12),
        ("value_tier == unsubscribed", "'unsubscribed' (true/false)", 15),
        ("value_tier + 1 > 0", "'+' needs a number, but 'value_tier' is text", 1),
        ("value_tier", "a condition must be true/false, but 'value_tier' is text", 1),
        ("value_tier and unsubscribed", "'and' needs true/false, but 'value_tier' is text", 1),
        ("r_score in ('A')", "'in' cannot compare 'r_score'", 13),
        ("value_tier in (3)", "'in' cannot compare 'value_tier' (text) with '3'", 16),
        ("value_tier in (rfm_segment)", "'in' takes a list of numbers or texts", 16),
        ("unsubscribed in (1)", "'in' needs a number", 1),
        ("value_tier in ()", "expected a value, found ')'", 16),
        ("value_tier in ('A') == true", "cannot be chained", 21),
        ("coalesce(value_tier, 1) == 'A'", "coalesce() needs text, but '1' is a number", 22),
        ("value_tier == 'A", "text opened with ' is not closed on the same line", 15),
    ],
)
def test_text_type_errors_point_at_the_culprit(text, fragment, column):
    with pytest.raises(RuleError) as info:
        parse_expression(text, origin=Origin("m.yaml", 4, 1))
    assert fragment in info.value.message
    assert info.value.message.startswith(f"m.yaml line 4, column {column}:")


def test_a_text_expression_is_not_a_number():
    with pytest.raises(RuleError, match="expected a number, but 'value_tier' is text"):
        parse_expression("value_tier", expect="number")
    assert parse_expression("value_tier", expect=None).type == "str"
