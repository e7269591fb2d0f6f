"""A hand-written parser for rule expressions: text in, typed syntax tree out, never ``eval``.

Stage criteria and tag rules are written by users in files, so they are data, not code: the
text is split into tokens by a closed set of patterns and read by recursive descent; anything
outside the grammar is a ``RuleError`` naming the file, line, column and the token. Names must
be features of ``clm.analytics.feature_catalog`` (or of the ``names`` given); an unknown one is
reported with the closest valid name. Types are checked here, so a model that loads also runs:
text (``value_tier``, ``'A'``) is only compared with text, by ``==``, ``!=`` or ``in``.

Grammar (lowest precedence first)::

    expr     := and ("or" and)*
    and      := not ("and" not)*
    not      := "not" not | compare
    compare  := sum (("<" | "<=" | ">" | ">=" | "==" | "=" | "!=") sum
                     | ["not"] "in" "(" literal ("," literal)* ")")?
    sum      := product (("+" | "-") product)*
    product  := unary (("*" | "/") unary)*
    unary    := "-" unary | atom
    atom     := NUMBER ["%"] | TEXT | "true" | "false" | NAME | NAME "(" args ")" | "(" expr ")"
    literal  := ["-"] NUMBER ["%"] | TEXT

TEXT is ``'...'`` or ``"..."`` on one line, without escapes (``"it's"`` holds a single quote).

Functions: ``at_least(k, c1, ..., cn)``, ``any_of(c1, ...)``, ``all_of(c1, ...)``,
``coalesce(x, default)``, ``is_null(x)``, ``abs(x)``. Keywords are case-insensitive.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass

from clm.analytics.feature_catalog import BY_NAME
from clm.analytics.rules.nodes import (
    BOOL,
    FLOAT,
    INT,
    NUMERIC,
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
    children,
)

MAX_LENGTH = 4000
MAX_DEPTH = 40
KEYWORDS = ("and", "or", "not", "true", "false", "in")
FUNCTIONS = ("at_least", "any_of", "all_of", "coalesce", "is_null", "abs")
_TOKEN = re.compile(
    r"(?P<space>\s+)"
    r"|(?P<number>(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?%?)"
    r"|(?P<string>'[^'\r\n]*'|\"[^\"\r\n]*\")"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op><=|>=|==|!=|<|>|=|\+|-|\*|/|\(|\)|,)",
    re.ASCII,
)
_TYPE_WORDS = {BOOL: "true/false", INT: "a number", FLOAT: "a number", STR: "text"}
_COMPARE_OPS = ("<", "<=", ">", ">=", "==", "=", "!=")


def feature_types() -> dict[str, str]:
    """Name -> type of every catalogued feature (the names a rule may use by default)."""
    return {name: spec.dtype for name, spec in BY_NAME.items()}


@dataclass(frozen=True)
class Token:
    kind: str  # number | string | name | keyword | op | end
    text: str
    pos: int


def tokenize(text: str, origin: Origin) -> list[Token]:
    """Split ``text`` into tokens; any character outside the grammar is an error."""
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None and text[pos] in "'\"":
            raise origin.error(
                text, pos, f"text opened with {text[pos]} is not closed on the same line",
                token=text[pos],
            )
        if match is None:
            raise origin.error(text, pos, f"unexpected character {text[pos]!r}", token=text[pos])
        kind = match.lastgroup or ""
        if kind != "space":
            word = match.group()
            if kind == "name" and word.lower() in KEYWORDS:
                kind, word = "keyword", word.lower()
            tokens.append(Token(kind, word, pos))
        pos = match.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


def closest(name: str, candidates: list[str] | tuple[str, ...]) -> str | None:
    """The valid name most similar to ``name`` (always one, if there are candidates)."""
    found = difflib.get_close_matches(name, candidates, n=1, cutoff=0.0)
    return found[0] if found else None


class _Parser:
    def __init__(self, text: str, origin: Origin, names: Mapping[str, str]) -> None:
        self.text = text
        self.origin = origin
        self.names = names
        self.tokens = tokenize(text, origin)
        self.i = 0
        self.depth = 0

    # -- helpers ------------------------------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def fail(self, token_or_pos: Token | int, message: str, **context: object) -> Exception:
        pos = token_or_pos if isinstance(token_or_pos, int) else token_or_pos.pos
        if isinstance(token_or_pos, Token) and token_or_pos.text:
            context.setdefault("token", token_or_pos.text)
        return self.origin.error(self.text, pos, message, **context)

    def accept(self, *texts: str) -> Token | None:
        tok = self.tok
        if tok.kind in ("op", "keyword") and tok.text in texts:
            self.i += 1
            return tok
        return None

    def expect(self, text: str) -> Token:
        tok = self.accept(text)
        if tok is None:
            raise self.fail(self.tok, f"expected {text!r}, found {self._describe(self.tok)}")
        return tok

    @staticmethod
    def _describe(tok: Token) -> str:
        return "the end of the rule" if tok.kind == "end" else repr(tok.text)

    def need(self, node: Node, wanted: tuple[str, ...], what: str) -> None:
        if node.type not in wanted:
            raise self.fail(
                node.pos,
                f"{what} needs {_TYPE_WORDS[wanted[0]]}, but "
                f"{self.text[node.pos : node.end]!r} is {_TYPE_WORDS[node.type]}",
                token=self.text[node.pos : node.end],
            )

    # -- grammar ------------------------------------------------------------------------
    def parse(self) -> Node:
        if self.tok.kind == "end":
            raise self.fail(0, "empty rule")
        node = self.or_()
        if self.tok.kind != "end":
            raise self.fail(self.tok, f"unexpected {self._describe(self.tok)}")
        return node

    def or_(self) -> Node:
        items = [self.and_()]
        while self.accept("or"):
            items.append(self.and_())
        return self._logic(AnyOf, items, "'or'")

    def and_(self) -> Node:
        items = [self.not_()]
        while self.accept("and"):
            items.append(self.not_())
        return self._logic(AllOf, items, "'and'")

    def _logic(self, cls: type, items: list[Node], what: str) -> Node:
        if len(items) == 1:
            return items[0]
        for item in items:
            self.need(item, (BOOL,), what)
        flat: list[Node] = []
        for item in items:  # a and (b and c) is one list of three
            flat.extend(item.items if type(item) is cls else (item,))
        return cls(items[0].pos, items[-1].end, BOOL, tuple(flat))

    def not_(self) -> Node:
        tok = self.accept("not")
        if tok is None:
            return self.compare()
        self._deeper(tok)
        operand = self.not_()
        self.depth -= 1
        self.need(operand, (BOOL,), "'not'")
        return Not(tok.pos, operand.end, BOOL, operand)

    def compare(self) -> Node:
        left = self.sum_()
        if self._at_in():
            node = self.in_(left)
        else:
            tok = self.accept(*_COMPARE_OPS)
            if tok is None:
                return left
            op = "==" if tok.text == "=" else tok.text
            right = self.sum_()
            self._check_compare(tok, op, left, right)
            node = Compare(left.pos, right.end, BOOL, op, left, right)
        if (self.tok.kind == "op" and self.tok.text in _COMPARE_OPS) or self._at_in():
            raise self.fail(self.tok, "comparisons cannot be chained; join them with 'and'")
        return node

    def _check_compare(self, tok: Token, op: str, left: Node, right: Node) -> None:
        """Numbers compare with numbers; text and true/false only with their own kind, by
        ``==`` / ``!=`` (and ``in`` for text)."""
        if STR in (left.type, right.type):
            if op not in ("==", "!=", "in"):
                raise self.fail(tok, f"{op!r} compares numbers; text only takes ==, != or in")
            if left.type != right.type:
                lsrc, rsrc = self.text[left.pos : left.end], self.text[right.pos : right.end]
                number = next((n for n in (left, right) if isinstance(n, Number)), None)
                hint = (
                    f" (write '{number.text}' to compare it as text)" if number is not None else ""
                )
                raise self.fail(
                    right.pos,
                    f"{op!r} cannot compare {lsrc!r} ({_TYPE_WORDS[left.type]}) with {rsrc!r} "
                    f"({_TYPE_WORDS[right.type]}){hint}",
                    token=rsrc,
                )
            return
        if left.type == BOOL or right.type == BOOL:
            if op not in ("==", "!="):
                raise self.fail(tok, f"{op!r} compares numbers; true/false only takes == or !=")
            if left.type != right.type:
                self.need(right if left.type == BOOL else left, (BOOL,), f"{op!r} with true/false")

    def _at_in(self) -> bool:
        tok, nxt = self.tok, self.tokens[min(self.i + 1, len(self.tokens) - 1)]
        if tok.kind != "keyword":
            return False
        return tok.text == "in" or (tok.text, nxt.kind, nxt.text) == ("not", "keyword", "in")

    def in_(self, operand: Node) -> Node:
        """``x in (v1, ...)`` or ``x not in (...)`` (read as ``not (x in (...))``)."""
        negated = self.accept("not")
        tok = self.expect("in")
        if operand.type == BOOL:
            self.need(operand, NUMERIC, "'in'")
        self.expect("(")
        options: list[Node] = []
        while True:
            option = self.unary()
            if not isinstance(option, Number | String):
                src = self.text[option.pos : option.end]
                raise self.fail(
                    option.pos, f"'in' takes a list of numbers or texts, not {src!r}", token=src
                )
            if (option.type == STR) != (operand.type == STR):
                self._check_compare(tok, "in", operand, option)
            options.append(option)
            if not self.accept(","):
                break
        close = self.expect(")")
        node = In(operand.pos, close.pos + 1, BOOL, operand, tuple(options))
        return Not(operand.pos, node.end, BOOL, node) if negated else node

    def sum_(self) -> Node:
        node = self.product()
        while (tok := self.accept("+", "-")) is not None:
            node = self._arith(tok, node, self.product())
        return node

    def product(self) -> Node:
        node = self.unary()
        while (tok := self.accept("*", "/")) is not None:
            node = self._arith(tok, node, self.unary())
        return node

    def _arith(self, tok: Token, left: Node, right: Node) -> Node:
        self.need(left, NUMERIC, f"{tok.text!r}")
        self.need(right, NUMERIC, f"{tok.text!r}")
        kind = INT if tok.text != "/" and left.type == right.type == INT else FLOAT
        return Arith(left.pos, right.end, kind, tok.text, left, right)

    def unary(self) -> Node:
        tok = self.accept("-")
        if tok is None:
            return self.atom()
        self._deeper(tok)
        operand = self.unary()
        self.depth -= 1
        self.need(operand, NUMERIC, "'-'")
        if isinstance(operand, Number):  # fold -0.5 into a literal, so margins see it
            text = self.text[tok.pos : operand.end]
            return Number(tok.pos, operand.end, operand.type, -operand.value, text)
        return Negate(tok.pos, operand.end, operand.type, operand)

    def atom(self) -> Node:
        tok = self.tok
        if tok.kind == "number":
            self.i += 1
            return _number(tok)
        if tok.kind == "string":
            self.i += 1
            return String(tok.pos, tok.pos + len(tok.text), STR, tok.text[1:-1])
        if tok.kind == "keyword" and tok.text in ("true", "false"):
            self.i += 1
            return Boolean(tok.pos, tok.pos + len(tok.text), BOOL, tok.text == "true")
        if tok.kind == "name":
            self.i += 1
            if self.tok.kind == "op" and self.tok.text == "(":
                return self.call(tok)
            return self.feature(tok)
        if self.accept("("):
            self._deeper(tok)
            node = self.or_()
            self.depth -= 1
            self.expect(")")
            return node
        raise self.fail(tok, f"expected a value, found {self._describe(tok)}")

    def _deeper(self, tok: Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(tok, f"expression nested more than {MAX_DEPTH} levels deep")

    def feature(self, tok: Token) -> Node:
        kind = self.names.get(tok.text)
        if kind is None:
            hint = closest(tok.text, sorted(self.names))
            suffix = f" (did you mean {hint!r}?)" if hint else ""
            raise self.fail(
                tok, f"unknown feature {tok.text!r}{suffix}", name=tok.text, suggestion=hint
            )
        return Feature(tok.pos, tok.pos + len(tok.text), kind, tok.text)

    def call(self, name: Token) -> Node:
        func = name.text.lower()
        if func not in FUNCTIONS:
            hint = closest(func, FUNCTIONS)
            is_feature = name.text in self.names
            msg = (
                f"{name.text!r} is a feature, not a function"
                if is_feature
                else f"unknown function {name.text!r} (did you mean {hint}(...)?)"
            )
            raise self.fail(name, msg, name=name.text, suggestion=hint)
        self.expect("(")
        self._deeper(name)
        args: list[Node] = []
        if not self.accept(")"):
            args.append(self.or_())
            while self.accept(","):
                args.append(self.or_())
            self.expect(")")
        self.depth -= 1
        end = self.tokens[self.i - 1].pos + 1
        return self._build_call(name, func, args, end)

    def _build_call(self, name: Token, func: str, args: list[Node], end: int) -> Node:
        pos = name.pos

        def arity(lo: int, hi: int | None = None) -> None:
            if len(args) < lo or (hi is not None and len(args) > hi):
                want = f"{lo}" if hi == lo else f"at least {lo}" if hi is None else f"{lo}-{hi}"
                raise self.fail(name, f"{func}() takes {want} arguments, got {len(args)}")

        if func in ("any_of", "all_of"):
            arity(1)
            for arg in args:
                self.need(arg, (BOOL,), f"{func}()")
            return (AnyOf if func == "any_of" else AllOf)(pos, end, BOOL, tuple(args))
        if func == "at_least":
            arity(2)
            k = args[0]
            if not (isinstance(k, Number) and k.type == INT and k.value >= 1):
                raise self.fail(k.pos, "at_least() needs a whole number >= 1 as its first argument")
            for arg in args[1:]:
                self.need(arg, (BOOL,), "at_least()")
            if k.value > len(args) - 1:
                raise self.fail(
                    k.pos,
                    f"at_least({k.value}, ...) can never hold with {len(args) - 1} conditions",
                )
            return AtLeast(pos, end, BOOL, int(k.value), tuple(args[1:]))
        if func == "coalesce":
            arity(2, 2)
            value, default = args
            for kind in (BOOL, STR):
                if (value.type == kind) != (default.type == kind):
                    self.need(default, (value.type,), "coalesce()")
            kind = value.type if value.type == default.type else FLOAT
            return Coalesce(pos, end, kind, value, default)
        if func == "is_null":
            arity(1, 1)
            return IsNull(pos, end, BOOL, args[0])
        arity(1, 1)  # abs
        self.need(args[0], NUMERIC, "abs()")
        return Abs(pos, end, args[0].type, args[0])


def _number(tok: Token) -> Number:
    text = tok.text
    end = tok.pos + len(text)
    if text.endswith("%"):
        return Number(tok.pos, end, FLOAT, float(text[:-1]) / 100, text)
    if any(c in text for c in ".eE"):
        return Number(tok.pos, end, FLOAT, float(text), text)
    return Number(tok.pos, end, INT, int(text), text)


def _depth(node: Node) -> int:
    deepest = 0
    stack = [(node, 1)]
    while stack:
        current, level = stack.pop()
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children(current))
    return deepest


def parse_expression(
    text: str,
    *,
    origin: Origin | None = None,
    names: Mapping[str, str] | None = None,
    expect: str | None = BOOL,
) -> Node:
    """Parse and type-check one rule expression.

    Parameters
    ----------
    text
        The rule, e.g. ``"days_since_last_order > 90 or unsubscribed"``.
    origin
        Where the text sits (file, line, column), for error messages.
    names
        Name -> type (``bool``/``int``/``float``/``str``) of the names a rule may use; defaults
        to the feature catalog (base and value features).
    expect
        ``"bool"`` (a condition, the default), ``"number"``, or None for any type.

    Raises
    ------
    RuleError
        For any text outside the grammar, an unknown name (with the closest valid one), or a type
        mismatch; the message names file, line, column and the offending token.
    """
    origin = origin or Origin()
    if not isinstance(text, str):
        raise origin.error("", 0, f"a rule must be text, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise origin.error(text, MAX_LENGTH, f"rule longer than {MAX_LENGTH} characters")
    parser = _Parser(text, origin, feature_types() if names is None else names)
    node = parser.parse()
    if _depth(node) > MAX_DEPTH:
        raise origin.error(text, 0, f"expression nested more than {MAX_DEPTH} levels deep")
    if expect == BOOL and node.type != BOOL:
        raise origin.error(
            text, 0, f"a condition must be true/false, but {text.strip()!r} is "
            f"{_TYPE_WORDS[node.type]}"
        )
    if expect == "number" and node.type not in NUMERIC:
        raise origin.error(
            text, 0, f"expected a number, but {text.strip()!r} is {_TYPE_WORDS[node.type]}"
        )
    return node
