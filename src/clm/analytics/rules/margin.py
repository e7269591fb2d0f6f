"""Thresholds moved by the model's margin: the hysteresis that keeps customers from flapping.

A criterion such as ``days_since_last_order > 90`` is read three ways:

``nominal``
    as written; used to *enter* a stage (and on a first run), so the numbers of the model file are
    exactly the numbers that decide.
``loose``
    the threshold moved in the customer's favour by the margin (``> 81`` with a 10% margin); used
    to *stay* in the stage one is already in, so a value wobbling around 90 does not move the
    customer back and forth (a Schmitt trigger, in electronics terms).
``tight``
    moved against the customer (``> 99``); a customer for whom ``tight`` and ``loose`` disagree
    sits within the margin of the threshold and is flagged as a grey-zone case.

Only comparisons of an expression with a numeric literal get a margin, and never ``==``/``!=``
(nor ``in``, nor anything on text: a tier is A or it is not).
The shift is ``margin * |threshold|``; on integer-valued expressions it is rounded down to whole
units, so small counts (``>= 1``, ``>= 3``) keep their exact meaning and days move by whole days.
Under ``not`` the direction flips (making ``not (x > 3)`` looser means making ``x > 3`` tighter).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from clm.analytics.rules.nodes import INT, MIRROR, Compare, Node, Number, String

MODES = ("nominal", "loose", "tight")


@dataclass(frozen=True)
class Threshold:
    """A comparison ``left op value`` with the literal on the right, after the margin."""

    left: Node
    op: str
    value: float | int
    text: str  # the literal as written
    shifted: bool  # the margin moved it

    @property
    def shown(self) -> str:
        """The threshold as shown in reasons: as written, or the moved value and the original."""
        if not self.shifted:
            return self.text
        return f"{format_number(self.value)} (margin on {self.text})"


def normalized(node: Compare) -> tuple[Node, str, Node]:
    """``left op right`` with a literal moved to the right (``90 < x`` -> ``x > 90``,
    ``'A' == value_tier`` -> ``value_tier == 'A'``)."""
    literal = Number | String
    if isinstance(node.left, literal) and not isinstance(node.right, literal):
        return node.right, MIRROR[node.op], node.left
    return node.left, node.op, node.right


def threshold(node: Compare, *, mode: str, margin: float, favour: bool = True) -> Threshold | None:
    """The literal threshold of ``node`` moved for ``mode``; None when it has no literal side.

    ``favour`` is False under an odd number of ``not``: then loose and tight swap.
    """
    left, op, right = normalized(node)
    if not isinstance(right, Number) or isinstance(left, Number):
        return None
    value = right.value
    if mode == "nominal" or op in ("==", "!=") or margin <= 0:
        return Threshold(left, op, value, right.text, False)
    delta = margin * abs(value)
    if left.type == INT:
        delta = math.floor(delta + 1e-9)
    if delta == 0:
        return Threshold(left, op, value, right.text, False)
    easier = (mode == "loose") == favour
    upward = op in (">", ">=")  # x > t is easier with a lower t
    moved = value - delta if easier == upward else value + delta
    if isinstance(value, int) and float(moved).is_integer():
        moved = int(moved)
    return Threshold(left, op, moved, right.text, True)


def format_number(value: float | int | None) -> str:
    """Numbers as reasons show them, identically in Python and in the engine.

    Whole values print without ``.0``; others are rounded to 4 decimals without trailing zeros.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "null"
    rounded = round(float(value), 4)
    if rounded.is_integer():
        return str(int(rounded))
    return f"{rounded:.4f}".rstrip("0")


def format_text(value: str | None) -> str:
    """Text as reasons show it: in single quotes (double quotes when it holds a single quote),
    identically in Python and in the engine; null shows as ``null``."""
    if value is None:
        return "null"
    return f'"{value}"' if "'" in value else f"'{value}'"
