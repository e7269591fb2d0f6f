"""The syntax tree of a rule expression, and where a piece of rule text came from.

A parsed criterion is kept as this tree rather than compiled away, because three consumers read
it: the Ibis compiler (which runs it in the engine), the reason renderer (which shows the values
that made it hold) and the Python evaluator behind ``explain`` (one customer, on the record
page). Every node keeps its offset into the source text so an error can point at it.

Types are deliberately few: ``bool``, ``int``, ``float`` and ``str`` (``int`` matters only for
the margin, which is rounded down to whole units on integer features, and for formatting values;
``str`` is for labels such as ``value_tier`` or ``rfm_segment``, which are only compared for
equality: ``==``, ``!=``, ``in``).
"""

from __future__ import annotations

from dataclasses import dataclass

from clm.errors import RuleError

BOOL, INT, FLOAT, STR = "bool", "int", "float", "str"
NUMERIC = (INT, FLOAT)
COMPARISONS = ("<", "<=", ">", ">=", "==", "!=")
# a comparison read from right to left: ``90 < x`` is ``x > 90``
MIRROR = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}


@dataclass(frozen=True)
class Origin:
    """Where a rule text sits: a file, the 1-based line and column of its first character.

    ``exact`` is false when the text was folded by YAML (block or multi-line scalars) or read from
    TOML, where only the line of the value is known; columns are then not reported.
    """

    file: str = "expression"
    line: int = 1
    column: int = 1
    exact: bool = True

    def locate(self, text: str, offset: int) -> tuple[int, int | None]:
        """Line and column of ``offset`` inside ``text`` (column None when unknown)."""
        if not self.exact:
            return self.line, None
        before = text[:offset]
        newlines = before.count("\n")
        if newlines:
            return self.line + newlines, offset - before.rfind("\n")
        return self.line, self.column + offset

    def error(self, text: str, offset: int, message: str, **context: object) -> RuleError:
        """A ``RuleError`` that names the file, line, column and the offending token."""
        line, column = self.locate(text, offset)
        where = f"{self.file} line {line}" + (f", column {column}" if column else "")
        return RuleError(f"{where}: {message}", file=self.file, line=line, column=column, **context)


@dataclass(frozen=True)
class Node:
    pos: int  # offset into the source text
    end: int  # offset just past the node
    type: str  # bool | int | float | str


@dataclass(frozen=True)
class Number(Node):
    value: float | int
    text: str  # as written, e.g. "20%"


@dataclass(frozen=True)
class String(Node):
    """A text literal, ``'A'`` or ``"at_risk"`` (no escapes: the quote cannot occur inside)."""

    value: str


@dataclass(frozen=True)
class Boolean(Node):
    value: bool


@dataclass(frozen=True)
class Feature(Node):
    name: str


@dataclass(frozen=True)
class Negate(Node):
    operand: Node


@dataclass(frozen=True)
class Arith(Node):
    op: str  # + - * /
    left: Node
    right: Node


@dataclass(frozen=True)
class Compare(Node):
    op: str  # one of COMPARISONS (``=`` is read as ``==``)
    left: Node
    right: Node


@dataclass(frozen=True)
class In(Node):
    """``x in (v1, v2, ...)``: ``x`` equals one of the literals (never true when ``x`` is null)."""

    operand: Node
    options: tuple[Node, ...]  # Number or String literals of the operand's kind


@dataclass(frozen=True)
class Not(Node):
    operand: Node


@dataclass(frozen=True)
class AllOf(Node):
    """``a and b and c`` or ``all_of(a, b, c)``."""

    items: tuple[Node, ...]


@dataclass(frozen=True)
class AnyOf(Node):
    """``a or b`` or ``any_of(a, b)``."""

    items: tuple[Node, ...]


@dataclass(frozen=True)
class AtLeast(Node):
    """``at_least(k, a, b, c)``: at least k of the conditions hold."""

    k: int
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Coalesce(Node):
    value: Node
    default: Node


@dataclass(frozen=True)
class IsNull(Node):
    operand: Node


@dataclass(frozen=True)
class Abs(Node):
    operand: Node


def features_of(node: Node) -> list[str]:
    """The feature names a tree reads, in order of first appearance."""
    seen: dict[str, None] = {}
    for child in walk(node):
        if isinstance(child, Feature):
            seen.setdefault(child.name, None)
    return list(seen)


def children(node: Node) -> tuple[Node, ...]:
    """The direct sub-expressions of ``node``."""
    if isinstance(node, Negate | Not | IsNull | Abs):
        return (node.operand,)
    if isinstance(node, Arith | Compare):
        return (node.left, node.right)
    if isinstance(node, In):
        return (node.operand, *node.options)
    if isinstance(node, AllOf | AnyOf | AtLeast):
        return node.items
    if isinstance(node, Coalesce):
        return (node.value, node.default)
    return ()


def walk(node: Node):
    """Every node of the tree, depth first (iterative: trees can be deep)."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(children(current)))
