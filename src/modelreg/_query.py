"""The ``where`` language of search: a hand-written recursive-descent parser to a typed AST (docs/search.md).

Parsing also checks types, so a query that can only be wrong (``metrics.top1 = 'abc'``,
``version > 3``) is a QueryError naming the column before any version is looked at;
literals arrive converted (dates to aware datetimes, versions to SemVer, ranges to
VersionRange). :mod:`modelreg._search` compiles the AST to closures.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Final, NoReturn, Union

from ._dates import TIMESTAMP_EXAMPLE, parse_timestamp
from .errors import InvalidVersionError, QueryError
from .semver import SemVer, VersionRange, parse_range, parse_version

__all__ = [
    "FIELDS",
    "MAX_DEPTH",
    "MAX_QUERY_LENGTH",
    "And",
    "Comparison",
    "Exists",
    "Field",
    "Like",
    "Literal",
    "Member",
    "Node",
    "Not",
    "Or",
    "Satisfies",
    "parse_field",
    "parse_where",
]

MAX_QUERY_LENGTH: Final = 4096
"""Longest ``where`` (and ``order_by``) text accepted, in characters."""
MAX_DEPTH: Final = 32
"""Deepest nesting of parentheses and ``not`` accepted."""

Literal = Union[str, int, float, bool, None, datetime, SemVer]  # noqa: UP007

# What each field holds; the keyed ones take a key after a dot.
FIELDS: Final = {
    "name": "string",
    "version": "version",
    "training_date": "date",
    "registered_at": "date",
    "artifact_path": "string",
    "description": "string",
    "alias": "alias",
    "metrics": "number",
    "params": "json",
    "tags": "string",
}
KEYED: Final = frozenset({"metrics", "params", "tags"})
_FIELD_HINT = (
    "expected a field: name, version, training_date, registered_at, artifact_path, description, alias, "
    "metrics.KEY, params.KEY or tags.KEY"
)
_KEYWORDS: Final = frozenset(
    {"and", "or", "not", "in", "like", "ilike", "exists", "satisfies", "true", "false", "null"}
)
_CONSTANTS: Final = {"true": True, "false": False, "null": None}
_TOKEN: Final = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<number>-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)(?![A-Za-z0-9_.])
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<key>`(?:[^`\\]|\\.)*`)
  | (?P<op><=|>=|!=|=|<|>)
  | (?P<punct>[(),.])
    """,
    re.VERBOSE | re.DOTALL,
)
_ESCAPES: Final = {
    "\\": "\\", "'": "'", '"': '"', "`": "`", "/": "/", "n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f",
}


@dataclass(frozen=True, slots=True)
class Token:
    """One lexeme: its kind, its text as written, its value, and its 1-based column."""

    kind: str  # ident, keyword, constant (true, false, null), number, string, key, op, punct, end
    text: str
    value: object
    position: int


@dataclass(frozen=True, slots=True)
class Field:
    """A field reference: ``metrics.top1`` is Field("metrics", ("top1",), "metrics.top1", 1)."""

    name: str
    key: tuple[str, ...]
    text: str
    position: int

    @property
    def kind(self) -> str:
        """What the field holds: string, version, date, number, json or alias."""
        return FIELDS[self.name]


@dataclass(frozen=True, slots=True)
class Comparison:
    """``field op value`` with one of = != < <= > >=."""

    field: Field
    op: str
    value: Literal
    position: int


@dataclass(frozen=True, slots=True)
class Member:
    """``field in (v, ...)``."""

    field: Field
    values: tuple[Literal, ...]
    position: int


@dataclass(frozen=True, slots=True)
class Like:
    """``field like 'pattern'`` (``ilike``: ignoring case); ``%`` any run, ``_`` one character."""

    field: Field
    pattern: str
    ignore_case: bool
    position: int


@dataclass(frozen=True, slots=True)
class Exists:
    """``field exists``: the version has the key (``alias exists``: any alias)."""

    field: Field
    position: int


@dataclass(frozen=True, slots=True)
class Satisfies:
    """``version satisfies 'RANGE'``."""

    field: Field
    range: VersionRange
    position: int


@dataclass(frozen=True, slots=True)
class And:
    """Every part holds."""

    parts: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    """Some part holds."""

    parts: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    """The operand does not hold (true where a comparison is false for a missing field)."""

    operand: Node
    position: int


Node = Union[Comparison, Member, Like, Exists, Satisfies, And, Or, Not]  # noqa: UP007


def _fail(message: str, position: int, found: Token | None = None) -> NoReturn:
    tail = "" if found is None else f", found {_describe(found)}"
    raise QueryError(f"{message} at column {position}{tail}", position=position)


def _unescape(body: str, position: int) -> str:
    """The text of a quoted string or backticked key; ``\\%`` and ``\\_`` stay escaped for like patterns."""
    if "\\" not in body:
        return body
    out: list[str] = []
    i = 0
    while i < len(body):
        char = body[i]
        if char != "\\":
            out.append(char)
            i += 1
            continue
        nxt = body[i + 1]
        if nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
        elif nxt in "%_":
            out.append("\\" + nxt)
        elif nxt == "u" and re.fullmatch(r"[0-9A-Fa-f]{4}", body[i + 2 : i + 6]):
            out.append(chr(int(body[i + 2 : i + 6], 16)))
            i += 4
        else:
            _fail(
                f"unknown escape '\\{nxt}' in a string; expected one of \\\\ \\' \\\" \\n \\t \\r \\% \\_ \\uXXXX",
                position + i + 1,
            )
        i += 2
    return "".join(out)


def tokenize(text: str) -> list[Token]:
    """The tokens of ``text``, ending with an ``end`` token one column past the last character."""
    tokens: list[Token] = []
    pos, size, match = 0, len(text), _TOKEN.match
    while pos < size:
        found = match(text, pos)
        column = pos + 1
        if found is None:
            char = text[pos]
            if char in "'\"`":
                what = "key" if char == "`" else "string"
                _fail(f"unterminated {what}: no closing {char} for the one", column)
            _fail(f"unexpected character {char!r}", column)
        kind, lexeme = found.lastgroup or "", found.group()
        pos = found.end()
        if kind == "ws":
            continue
        value: object = lexeme
        if kind == "number":
            value = float(lexeme) if any(c in lexeme for c in ".eE") else int(lexeme)
            if value in (float("inf"), float("-inf")):
                _fail(f"number {lexeme} is too large", column)
        elif kind in ("string", "key"):
            value = _unescape(lexeme[1:-1], column)
        elif kind == "ident" and lexeme.lower() in _KEYWORDS:
            kind, value = "keyword", lexeme.lower()
            if value in _CONSTANTS:
                kind, value = "constant", _CONSTANTS[value]
        tokens.append(Token(kind, lexeme, value, column))
    tokens.append(Token("end", "", None, size + 1))
    return tokens


def _describe(token: Token) -> str:
    if token.kind == "end":
        return "the end of the query"
    if token.kind == "string":
        return f"the string {token.text}"
    return f"{token.text!r}"


class _Parser:
    """Recursive descent over the tokens; one method per rule of the grammar in docs/search.md."""

    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.index = 0
        self.depth = 0

    @property
    def peek(self) -> Token:
        return self.tokens[self.index]

    def take(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def keyword(self, *words: str) -> Token | None:
        token = self.peek
        if token.kind == "keyword" and token.value in words:
            self.index += 1
            return token
        return None

    def punct(self, char: str) -> Token | None:
        token = self.peek
        if token.kind == "punct" and token.text == char:
            self.index += 1
            return token
        return None

    def expected(self, what: str) -> NoReturn:
        token = self.peek
        _fail(f"expected {what}", token.position, token)

    def nest(self, position: int) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            _fail(f"the query nests deeper than {MAX_DEPTH} levels of parentheses and 'not'", position)

    def where(self) -> Node | None:
        if self.peek.kind == "end":
            return None
        node = self.disjunction()
        if self.peek.kind != "end":
            self.expected("'and', 'or' or the end of the query")
        return node

    def disjunction(self) -> Node:
        parts = [self.conjunction()]
        while self.keyword("or"):
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else Or(tuple(parts))

    def conjunction(self) -> Node:
        parts = [self.negation()]
        while self.keyword("and"):
            parts.append(self.negation())
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def negation(self) -> Node:
        token = self.keyword("not")
        if token is None:
            return self.primary()
        self.nest(token.position)
        node = Not(self.negation(), token.position)
        self.depth -= 1
        return node

    def primary(self) -> Node:
        opening = self.punct("(")
        if opening is None:
            return self.condition()
        self.nest(opening.position)
        node = self.disjunction()
        if self.punct(")") is None:
            self.expected(f"')' to close the '(' at column {opening.position}")
        self.depth -= 1
        return node

    def field(self) -> Field:
        first = self.peek
        if first.kind != "ident" or first.text not in FIELDS:
            if first.kind == "end":
                self.expected("a condition")
            _fail(f"unknown field {first.text!r}; {_FIELD_HINT}", first.position)
        self.take()
        key: list[str] = []
        while (dot := self.punct(".")) is not None:
            if first.text not in KEYED:
                _fail(f"{first.text} has no keys; only metrics, params and tags take '.KEY'", dot.position)
            part = self.peek
            if part.kind not in ("ident", "keyword", "constant", "key") or (part.kind == "key" and not part.value):
                self.expected("a key after '.' (a key that is not a plain identifier goes in `backticks`)")
            self.take()
            key.append(str(part.value if part.kind == "key" else part.text))
        if first.text in KEYED and not key:
            _fail(f"{first.text} needs a key, e.g. {first.text}.KEY", self.peek.position)
        if first.text != "params" and len(key) > 1:
            key = [".".join(key)]  # metric and tag names are flat: metrics.a.b is the metric "a.b"
        return Field(first.text, tuple(key), first.text + "".join(f".{k}" for k in key), first.position)

    def condition(self) -> Node:
        field = self.field()
        token = self.peek
        if token.kind == "op":
            self.take()
            return Comparison(field, token.text, _check(field, token, self.value(token)), token.position)
        negated = self.keyword("not")
        node = self.predicate(field, negated)
        return Not(node, negated.position) if negated else node

    def predicate(self, field: Field, negated: Token | None) -> Node:
        token = self.keyword("in", "like", "ilike", "exists", "satisfies")
        if token is None:
            allowed = "'in', 'like', 'ilike', 'exists' or 'satisfies'"
            self.expected(f"{allowed} after 'not'" if negated else f"an operator (=, !=, <, <=, >, >=, {allowed})")
        if token.value == "in":
            return Member(field, self.values(field, token), token.position)
        if token.value == "exists":
            if field.kind not in ("number", "json", "alias") and field.name != "tags":
                _fail(f"{field.text} always exists; 'exists' is for metrics, params, tags and alias", token.position)
            return Exists(field, token.position)
        pattern = self.peek
        if pattern.kind != "string":
            self.expected(f"a quoted string after '{token.text}'")
        self.take()
        assert isinstance(pattern.value, str)
        if token.value == "satisfies":
            if field.kind != "version":
                _fail(f"'satisfies' takes a version range and applies to version, not {field.text}", token.position)
            try:
                return Satisfies(field, parse_range(pattern.value), token.position)
            except InvalidVersionError as exc:
                _fail(str(exc), pattern.position)
        if field.kind in ("number", "date", "version"):
            _fail(f"'{token.text}' matches strings; {field.text} holds {_HOLDS[field.kind]}", token.position)
        return Like(field, pattern.value, token.value == "ilike", token.position)

    def value(self, after: Token) -> Token:
        token = self.peek
        if token.kind in ("string", "number", "constant"):
            return self.take()
        _fail(f"expected a value after '{after.text}'", token.position, token)

    def values(self, field: Field, token: Token) -> tuple[Literal, ...]:
        if self.punct("(") is None:
            self.expected("'(' after 'in'")
        values = [_check(field, token, self.value(token))]
        while (comma := self.punct(",")) is not None:
            values.append(_check(field, token, self.value(comma)))
        if self.punct(")") is None:
            self.expected("',' or ')' in the list after 'in'")
        return tuple(values)


_HOLDS: Final = {
    "string": "strings",
    "version": "versions (quoted, e.g. '1.4.2')",
    "date": f"dates (RFC 3339 strings such as {TIMESTAMP_EXAMPLE})",
    "number": "numbers",
    "json": "JSON values",
    "alias": "alias names (strings)",
}


def _check(field: Field, operator: Token, token: Token) -> Literal:
    """The literal ``token`` converted for ``field``, or QueryError saying what ``field`` compares with."""
    kind, value, op = field.kind, token.value, operator.text
    ordering = op in ("<", "<=", ">", ">=")

    def wrong(expected: str) -> NoReturn:
        _fail(f"{field.text} holds {_HOLDS[kind]}: expected {expected} after '{op}'", token.position, token)

    if kind == "number":
        if token.kind != "number":
            wrong("a number")
        assert isinstance(value, (int, float))
        return value
    if kind == "json":
        if ordering and token.kind not in ("number", "string"):
            wrong("a number or a string (only they are ordered)")
        return value  # type: ignore[return-value]
    if token.kind != "string":
        wrong("a quoted version" if kind == "version" else "a quoted date" if kind == "date" else "a quoted string")
    assert isinstance(value, str)
    if kind == "version":
        try:
            return parse_version(value)
        except InvalidVersionError as exc:
            _fail(str(exc), token.position)
    if kind == "date":
        try:
            return parse_timestamp(value)
        except ValueError as exc:
            _fail(f"{field.text} compares with dates: {exc}", token.position)
    if ordering:
        _fail(
            f"'{op}' orders numbers, dates and versions; {field.text} holds {_HOLDS[kind]}: "
            "use =, !=, in, like or ilike",
            operator.position,
        )
    return value


def parse_where(text: str) -> Node | None:
    """The AST of a ``where`` text (None for an empty one, which matches everything); QueryError if invalid."""
    if not isinstance(text, str):
        raise TypeError(f"where must be a str, not {type(text).__name__}")
    if len(text) > MAX_QUERY_LENGTH:
        raise QueryError(f"the query is {len(text)} characters long; the limit is {MAX_QUERY_LENGTH}")
    return _Parser(text).where()


def parse_field(parser: _Parser) -> Field:
    """A field at the parser's position (what ``order_by`` terms start with)."""
    return parser.field()


def order_parser(text: str) -> _Parser:
    """A parser over ``order_by`` text (its terms are fields, ``asc``/``desc`` and commas)."""
    return _Parser(text)
