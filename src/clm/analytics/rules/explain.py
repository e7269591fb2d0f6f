"""Rules evaluated in Python for one customer: the "see why" of the tracking record.

The batch assignment runs in the engine (``assign.py``); the record page of one customer wants
every criterion of every stage, held or not, with labels in the reader's language. That is one
row, so it is evaluated here on the same syntax tree with the same semantics as the compiler
(null comparisons are false, division by zero is null, the same margins, the same number
formatting), and a test checks the two agree on random rows.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import ibis.expr.types as ir

from clm.analytics.rules.compiler import compile_condition, options_text
from clm.analytics.rules.margin import format_number, format_text, normalized, threshold
from clm.analytics.rules.model import Criterion, StageModel
from clm.analytics.rules.nodes import (
    BOOL,
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
    Origin,
    String,
    features_of,
    walk,
)
from clm.analytics.rules.parser import parse_expression
from clm.domain.i18n import normalize_locale

_OPS = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}


def _clean(value: Any, kind: str) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if getattr(value, "__class__", None).__name__ in ("NAType", "NaTType"):
        return None
    if kind == BOOL:
        return bool(value)
    if kind == INT:
        return int(value)
    if kind == STR:
        return str(value)
    return float(value)


class Evaluator:
    """Evaluates trees on one feature row (a mapping of feature name to value)."""

    def __init__(self, row: Mapping[str, Any], *, mode: str = "nominal", margin: float = 0.0):
        self.row = row
        self.mode = mode
        self.margin = margin

    def value(self, node: Node, favour: bool = True) -> Any:
        if isinstance(node, Number | Boolean | String):
            return node.value
        if isinstance(node, Feature):
            return _clean(self.row.get(node.name), node.type)
        if isinstance(node, Negate | Abs):
            v = self.value(node.operand)
            return None if v is None else (-v if isinstance(node, Negate) else abs(v))
        if isinstance(node, Coalesce):
            v = self.value(node.value, favour)
            return self.value(node.default, favour) if v is None else v
        if isinstance(node, Arith):
            a, b = self.value(node.left), self.value(node.right)
            if a is None or b is None:
                return None
            if node.op == "/":
                return None if b == 0 else a / b
            return a + b if node.op == "+" else a - b if node.op == "-" else a * b
        return self.condition(node, favour)

    def condition(self, node: Node, favour: bool = True) -> bool:
        if isinstance(node, AllOf):
            return all(self.condition(i, favour) for i in node.items)
        if isinstance(node, AnyOf):
            return any(self.condition(i, favour) for i in node.items)
        if isinstance(node, AtLeast):
            return sum(self.condition(i, favour) for i in node.items) >= node.k
        if isinstance(node, Not):
            return not self.condition(node.operand, not favour)
        if isinstance(node, IsNull):
            return self.value(node.operand) is None
        if isinstance(node, In):
            v = self.value(node.operand)
            return v is not None and any(v == o.value for o in node.options)
        if isinstance(node, Compare):
            moved = threshold(node, mode=self.mode, margin=self.margin, favour=favour)
            if moved is not None:
                left, op, right = self.value(moved.left), moved.op, moved.value
            else:
                lnode, op, rnode = normalized(node)
                left, right = self.value(lnode, favour), self.value(rnode, favour)
            return left is not None and right is not None and bool(_OPS[op](left, right))
        return bool(self.value(node, favour))

    # -- text, mirroring Compiler.facts / describe ----------------------------------------
    def facts(self, node: Node, text: str, *, gated: bool = True) -> str:
        """Atomic conditions that held (``gated``) or all of them, with values, ``; ``-joined."""
        pieces: list[str] = []
        self._collect(node, text, True, True, pieces, gated)
        return "; ".join(pieces)

    def _collect(self, node, text, gate, favour, pieces, gated) -> None:
        if isinstance(node, AllOf | AnyOf | AtLeast):
            gate = gate and self.condition(node, favour)
            for item in node.items:
                self._collect(item, text, gate, favour, pieces, gated)
            return
        if not gated or (gate and self.condition(node, favour)):
            pieces.append(self.describe(node, text, favour))

    def describe(self, node: Node, text: str, favour: bool = True) -> str:
        source = text[node.pos : node.end]
        if isinstance(node, Compare):
            moved = threshold(node, mode=self.mode, margin=self.margin, favour=favour)
            if moved is not None:
                left = moved.left
                return (
                    f"{text[left.pos : left.end]} = {self.formatted(left)} {moved.op} {moved.shown}"
                )
            lnode, op, rnode = normalized(node)
            if isinstance(rnode, String):
                shown = f"{text[lnode.pos : lnode.end]} = {self.formatted(lnode)}"
                if op == "==" and self.value(lnode) == rnode.value:
                    return shown
                return f"{shown} {op} {format_text(rnode.value)}"
            return (
                f"{text[lnode.pos : lnode.end]} = {self.formatted(lnode)} {op} "
                f"{text[rnode.pos : rnode.end]} ({self.formatted(rnode)})"
            )
        if isinstance(node, In):
            operand = node.operand
            return (
                f"{text[operand.pos : operand.end]} = {self.formatted(operand)} "
                f"in {options_text(node)}"
            )
        if isinstance(node, Not):
            inner = node.operand
            if isinstance(inner, Compare | Feature | IsNull | In):
                return f"not ({self.describe(inner, text, not favour)})"
            values = ", ".join(
                f"{n} = {self._fmt(self.row.get(n), _type_in(inner, n))}"
                for n in features_of(inner)
            )
            return f"{source}: {values}"
        if isinstance(node, IsNull):
            return f"{text[node.operand.pos : node.operand.end]} is null"
        if isinstance(node, Boolean | Number):
            return source
        return f"{source} = {self.formatted(node)}"

    def formatted(self, node: Node) -> str:
        return self._fmt(self.value(node), node.type)

    @staticmethod
    def _fmt(value: Any, kind: str) -> str:
        value = _clean(value, kind)
        if value is None:
            return "null"
        if kind == BOOL:
            return "true" if value else "false"
        if kind == INT:
            return str(int(value))
        if kind == STR:
            return format_text(value)
        return format_number(value)


def _type_in(node: Node, name: str) -> str:
    return next(n.type for n in walk(node) if isinstance(n, Feature) and n.name == name)


@dataclass(frozen=True)
class Reason:
    """One criterion of one stage, judged for one customer.

    ``held`` is the nominal reading (used to enter the stage), ``held_loose`` the reading with
    the margin in the customer's favour (used to stay); ``facts`` the conditions that held, with
    values, as in the ``reasons`` column; ``detail`` every condition with values, held or not.
    """

    stage: str
    stage_label: str
    kind: str  # requires | criterion | fallback
    criterion: str
    label: str
    held: bool
    held_loose: bool
    facts: str
    detail: str
    values: dict[str, Any]
    line: int


def explain(
    model: StageModel,
    feature_row: Mapping[str, Any],
    locale: str = "en",
    *,
    stage: str | None = None,
) -> list[Reason]:
    """Every guard, criterion and fallback rule of ``model`` judged on one customer's features.

    Parameters
    ----------
    model
        The stage model.
    feature_row
        Feature name -> value for one customer (missing names count as null).
    locale
        ``en`` or ``zh-CN``: the language of stage and criterion labels.
    stage
        Only this stage's guard and criteria (and no fallback rules).
    """
    out: list[Reason] = []
    for s in model.stages:
        if stage is not None and s.id != stage:
            continue
        stage_label = s.label.get(locale)
        if s.requires is not None:
            out.append(_reason(s.id, stage_label, "requires", s.requires, feature_row, 0.0, locale))
        for c in s.criteria:
            out.append(_reason(s.id, stage_label, "criterion", c, feature_row, s.margin, locale))
    if stage is None:
        for rule in model.fallback:
            if rule.when is not None:
                label = model.label(rule.stage, locale)
                out.append(
                    _reason(rule.stage, label, "fallback", rule.when, feature_row, 0.0, locale)
                )
    return out


def _reason(sid, stage_label, kind, c: Criterion, row, margin, locale) -> Reason:
    nominal = Evaluator(row)
    loose = Evaluator(row, mode="loose", margin=margin)
    return Reason(
        stage=sid,
        stage_label=stage_label,
        kind=kind,
        criterion=c.text,
        label=c.label.get(locale) if c.label else c.text,
        held=nominal.condition(c.node),
        held_loose=loose.condition(c.node),
        facts=nominal.facts(c.node, c.text),
        detail=nominal.facts(c.node, c.text, gated=False),
        values={n: row.get(n) for n in features_of(c.node)},
        line=c.origin.line,
    )


def evaluate_expression(
    expr_text: str, features: ir.Table, *, origin: Origin | None = None
) -> ir.BooleanColumn:
    """A rule expression (tag rules use the stage-model language) as a boolean column.

    ``features.filter(evaluate_expression("orders_30d >= 2", features))`` keeps the matching
    customers; null comparisons are false, so the column is never null.
    """
    node = parse_expression(expr_text, origin=origin)
    return compile_condition(node, features)


# The notes ``assign_stages`` writes into ``reasons`` are stable English tokens (the column is
# stored and compared across engines); these are their labels for people, in both languages.
_NOTES = {
    "en": {
        "min_stay": "minimum stay: {days} days in {stage} < {min} (would move to {alt})",
        "kept": "kept: no stage's criteria held",
        "fallback": "fallback",
        "margin": "{value} (margin on {threshold})",
    },
    "zh-CN": {
        "min_stay": "最短停留：已在{stage} {days} 天 < {min} 天（否则将进入{alt}）",
        "kept": "保持原阶段：没有任何阶段的条件成立",
        "fallback": "兜底规则",
        "margin": "{value}（{threshold} 的缓冲区间）",
    },
}
_MIN_STAY = re.compile(r"min_stay: (\d+) days in (\w+) < (\d+) \(would move to (\w+)\)")
_MARGIN = re.compile(r"(-?[\d.]+) \(margin on ([^)]+)\)")


def localize_reasons(reasons: str, *, model: StageModel, locale: str = "en") -> str:
    """The ``reasons`` column of ``assign_stages`` for a reader: notes and stage ids in ``locale``.

    Criterion texts (``days_since_last_order = 97 > 90``) stay as written: they are the rule
    language, identical in every language, and ``explain`` gives their labels.
    """
    notes = _NOTES["zh-CN" if normalize_locale(locale) == "zh-CN" else "en"]

    def stage(sid: str) -> str:
        return model.label(sid, locale) if sid in model.stage_ids else sid

    def min_stay(m: re.Match) -> str:
        days, sid, least, alt = m.groups()
        return notes["min_stay"].format(days=days, stage=stage(sid), min=least, alt=stage(alt))

    parts = []
    for part in reasons.split("; ") if reasons else []:
        if part == "kept: no stage's criteria held":
            part = notes["kept"]
        elif part == "fallback":
            part = notes["fallback"]
        else:
            part = _MIN_STAY.sub(min_stay, part)
            part = _MARGIN.sub(
                lambda m: notes["margin"].format(value=m.group(1), threshold=m.group(2)), part
            )
        parts.append(part)
    return "; ".join(parts)
