"""Rule syntax trees compiled to Ibis, so criteria and their reasons run inside the engine.

The same expression runs on DuckDB, PostgreSQL or Spark; this module only decides *what* to
compute. Two choices keep the backends in agreement:

* two-valued logic: a comparison with a null operand is false, and a null boolean feature is
  false (so ``usage_change_pct <= -0.5`` is false when there was no usage before, and
  ``not (...)`` of it is true); division by zero gives null instead of an engine error;
* reasons are built as text with numbers cast the same way everywhere: whole values without
  ``.0``, others rounded to 4 decimals through a fixed-scale decimal with trailing zeros removed
  (``margin.format_number`` is the Python twin); text is quoted (``margin.format_text``), and a
  text equality that held reads ``value_tier = 'A'``.
"""

from __future__ import annotations

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from clm.analytics.rules.margin import format_text, normalized, threshold
from clm.analytics.rules.nodes import (
    BOOL,
    FLOAT,
    INT,
    STR,
    Abs,
    AllOf,
    AnyOf,
    Arith,
    AtLeast,
    Boolean,
    Coalesce,
    Compare,
    Feature,
    In,
    IsNull,
    Negate,
    Node,
    Not,
    Number,
    String,
    features_of,
    walk,
)
from clm.errors import InputError

_DTYPES = {BOOL: dt.boolean, INT: dt.int64, FLOAT: dt.float64, STR: dt.string}
_FALSE = ibis.literal(False)


def check_columns(table: ir.Table, names: list[str], *, what: str) -> None:
    """Fail with the missing column names before the engine gives a cryptic error."""
    missing = [n for n in names if n not in table.columns]
    if missing:
        raise InputError(
            f"{what} needs feature column(s) {', '.join(missing)}, missing from the feature table",
            field=missing[0],
        )


class Compiler:
    """Compiles trees against one feature table, in one margin ``mode`` (see ``margin.py``)."""

    def __init__(self, table: ir.Table, *, mode: str = "nominal", margin: float = 0.0) -> None:
        self.table = table
        self.mode = mode
        self.margin = margin

    # -- values -------------------------------------------------------------------------
    def value(self, node: Node, favour: bool = True) -> ir.Value:
        """The value of ``node``; booleans here may be null (use ``condition`` for logic)."""
        if isinstance(node, Number):
            return ibis.literal(node.value, type=_DTYPES[node.type])
        if isinstance(node, Boolean):
            return ibis.literal(node.value)
        if isinstance(node, String):
            return ibis.literal(node.value, type=dt.string)
        if isinstance(node, Feature):
            return self.table[node.name].cast(_DTYPES[node.type])
        if isinstance(node, Negate):
            return -self.value(node.operand)
        if isinstance(node, Abs):
            return self.value(node.operand).abs()
        if isinstance(node, Coalesce):
            return ibis.coalesce(self.value(node.value, favour), self.value(node.default, favour))
        if isinstance(node, Arith):
            left, right = self.value(node.left), self.value(node.right)
            if node.op == "+":
                return left + right
            if node.op == "-":
                return left - right
            if node.op == "*":
                return left * right
            return ibis.ifelse(right == 0, ibis.null(dt.float64), left / right)
        return self.condition(node, favour)

    def condition(self, node: Node, favour: bool = True) -> ir.BooleanValue:
        """``node`` as a never-null boolean (null counts as false)."""
        if isinstance(node, AllOf | AnyOf | AtLeast):
            parts = [self.condition(item, favour) for item in node.items]
            if isinstance(node, AtLeast):
                count = sum((p.cast(dt.int64) for p in parts[1:]), parts[0].cast(dt.int64))
                return count >= node.k
            result = parts[0]
            for part in parts[1:]:
                result = (result & part) if isinstance(node, AllOf) else (result | part)
            return result
        if isinstance(node, Not):
            return ~self.condition(node.operand, not favour)
        if isinstance(node, IsNull):
            return self.value(node.operand).isnull()
        if isinstance(node, In):
            options = [self.value(o) for o in node.options]
            return ibis.coalesce(self.value(node.operand).isin(options), _FALSE)
        if isinstance(node, Compare):
            return ibis.coalesce(self._compare(node, favour), _FALSE)
        return ibis.coalesce(self.value(node, favour), _FALSE)

    def _compare(self, node: Compare, favour: bool) -> ir.BooleanValue:
        moved = threshold(node, mode=self.mode, margin=self.margin, favour=favour)
        if moved is not None:
            left, op = self.value(moved.left), moved.op
            right = ibis.literal(
                moved.value, type=_DTYPES[FLOAT if isinstance(moved.value, float) else INT]
            )
        else:
            lnode, op, rnode = normalized(node)
            left, right = self.value(lnode, favour), self.value(rnode, favour)
        return {
            "<": left.__lt__,
            "<=": left.__le__,
            ">": left.__gt__,
            ">=": left.__ge__,
            "==": left.__eq__,
            "!=": left.__ne__,
        }[op](right)

    # -- reasons ------------------------------------------------------------------------
    def pieces(
        self, node: Node, text: str, gate: ir.BooleanValue | None = None
    ) -> list[tuple[ir.BooleanValue, ir.StringValue]]:
        """The atomic conditions of ``node`` as (held, text with values) pairs.

        A leaf counts as held only if every enclosing and/or/at_least held too (and ``gate``),
        so ``(a and b) or c`` with only ``a`` and ``c`` true shows ``c``.
        """
        out: list[tuple[ir.BooleanValue, ir.StringValue]] = []
        self._collect(node, text, ibis.literal(True) if gate is None else gate, True, out)
        return out

    def facts(self, node: Node, text: str) -> ir.StringValue:
        """The atomic conditions of ``node`` that held, with values, joined by ``; ``."""
        return join_pieces(self.pieces(node, text))

    def _collect(self, node, text, gate, favour, pieces) -> None:
        if isinstance(node, AllOf | AnyOf | AtLeast):
            gate = gate & self.condition(node, favour)
            for item in node.items:
                self._collect(item, text, gate, favour, pieces)
            return
        pieces.append((gate & self.condition(node, favour), self.describe(node, text, favour)))

    def describe(self, node: Node, text: str, favour: bool = True) -> ir.StringValue:
        """One atomic condition as text with the customer's values: ``x = 97 > 90``."""
        source = text[node.pos : node.end]
        if isinstance(node, Compare):
            moved = threshold(node, mode=self.mode, margin=self.margin, favour=favour)
            if moved is not None:
                left = moved.left
                return (
                    f"{text[left.pos : left.end]} = "
                    + self.formatted(left)
                    + f" {moved.op} {moved.shown}"
                )
            lnode, op, rnode = normalized(node)
            if isinstance(rnode, String):
                shown = f"{text[lnode.pos : lnode.end]} = " + self.formatted(lnode)
                otherwise = shown + f" {op} {format_text(rnode.value)}"
                if op != "==":
                    return otherwise
                held = ibis.coalesce(self.value(lnode) == rnode.value, _FALSE)
                return ibis.ifelse(held, shown, otherwise)
            return (
                f"{text[lnode.pos : lnode.end]} = "
                + self.formatted(lnode)
                + f" {op} {text[rnode.pos : rnode.end]} ("
                + self.formatted(rnode)
                + ")"
            )
        if isinstance(node, In):
            operand = node.operand
            return (
                f"{text[operand.pos : operand.end]} = "
                + self.formatted(operand)
                + f" in {options_text(node)}"
            )
        if isinstance(node, Not):
            inner = node.operand
            if isinstance(inner, Compare | Feature | IsNull | In):
                return "not (" + self.describe(inner, text, not favour) + ")"
            return ibis.literal(f"{source}: ") + self._values(inner, text)
        if isinstance(node, IsNull):
            return ibis.literal(f"{text[node.operand.pos : node.operand.end]} is null")
        if isinstance(node, Boolean | Number):
            return ibis.literal(source)
        return f"{source} = " + self.formatted(node)

    def _values(self, node: Node, text: str) -> ir.StringValue:
        out: ir.StringValue | None = None
        for name in features_of(node):
            piece = f"{name} = " + self.formatted(Feature(0, 0, _feature_type(node, name), name))
            out = piece if out is None else out + ", " + piece
        return out if out is not None else ibis.literal("")

    def formatted(self, node: Node) -> ir.StringValue:
        """``node``'s value as reason text; null shows as ``null``."""
        value = self.value(node)
        if node.type == BOOL:
            text = ibis.ifelse(value, "true", "false")
        elif node.type == STR:
            text = ibis.ifelse(value.contains("'"), '"' + value + '"', "'" + value + "'")
        elif node.type == INT:
            text = value.cast(dt.int64).cast(dt.string)
        else:
            r = value.cast(dt.float64).round(4)
            text = ibis.ifelse(
                r == r.floor(),
                r.cast(dt.int64).cast(dt.string),
                r.cast(dt.Decimal(28, 4)).cast(dt.string).re_replace("0+$", ""),
            )
        return ibis.coalesce(text, ibis.literal("null"))


def options_text(node: In) -> str:
    """The list of an ``in`` as reasons show it: ``('A', 'B')`` or ``(1, 2)``."""
    shown = [
        format_text(o.value) if isinstance(o, String) else o.text  # type: ignore[attr-defined]
        for o in node.options
    ]
    return "(" + ", ".join(shown) + ")"


def piece_texts(pieces: list[tuple[ir.BooleanValue, ir.StringValue]]) -> ir.StringValue:
    """The texts of the pieces that held, each preceded by ``; `` (``join_pieces`` cuts the
    first separator once the parts are put together)."""
    out: ir.StringValue = ibis.literal("")
    for held, piece in pieces:
        out = out + ibis.ifelse(held, "; " + piece, ibis.literal(""))
    return out


def strip_separator(texts: ir.StringValue) -> ir.StringValue:
    """``piece_texts`` output without its leading separator."""
    return texts.re_replace("^; ", "")


def join_pieces(pieces: list[tuple[ir.BooleanValue, ir.StringValue]]) -> ir.StringValue:
    """The texts of the pieces that held, joined by ``; `` (empty string when none held).

    Each text appears once in the expression (the leading separator is cut by one regex), so
    the SQL grows linearly with the number of conditions.
    """
    return strip_separator(piece_texts(pieces))


def _feature_type(node: Node, name: str) -> str:
    for child in walk(node):
        if isinstance(child, Feature) and child.name == name:
            return child.type
    return FLOAT


def compile_condition(
    node: Node, table: ir.Table, *, mode: str = "nominal", margin: float = 0.0
) -> ir.BooleanValue:
    """``node`` as a never-null Ibis boolean over ``table``'s feature columns."""
    check_columns(table, features_of(node), what="rule")
    return Compiler(table, mode=mode, margin=margin).condition(node)
