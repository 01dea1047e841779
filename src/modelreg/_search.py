"""The search engine behind ``ModelRegistry.search``: ``where`` compiled to closures, ``order_by``, keyset pages.

Every backend serves search from its in-memory snapshot through ``run_search``, so
all of them give the same answers. A query is parsed and compiled once (bounded
LRU caches); a call then costs one scan of the candidates, one ``heapq.nsmallest``
for the page (a lone descending term: ``_descending.Descending``), and for the next
page's cursor the last item's sort key.
"""

from __future__ import annotations

import functools
import heapq
import json
import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from ._cursor import MAX_CURSOR_LENGTH, decode_cursor, encode_cursor, fingerprint
from ._descending import ATTRIBUTE_VALUES, Candidate, Descending
from ._frozen import frozen_list
from ._query import (
    MAX_QUERY_LENGTH,
    And,
    Comparison,
    Field,
    Like,
    Member,
    Node,
    Not,
    Or,
    Satisfies,
    order_parser,
    parse_field,
    parse_where,
)
from .errors import QueryError
from .records import SearchPage
from .semver import SemVer, parse_version

__all__ = [
    "MAX_CURSOR_LENGTH", "MAX_LIMIT", "MISSING", "Candidate",
    "compile_order", "compile_where", "field_getter", "run_search",
]

SortKey = Callable[[Candidate], tuple[Any, ...]]

MAX_LIMIT: Final = 1000
_CACHE_SIZE: Final = 256
MISSING: Final = object()
_OPS: Final[Mapping[str, Callable[[Any, Any], bool]]] = {
    "=": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}
_SORTABLE: Final = ("name", "version", "training_date", "registered_at", "metrics", "params")


# -- where: the AST compiled to one generated scan -----------------------------------------------------------


def field_getter(field: Field) -> Callable[[Candidate], Any]:
    """A function giving ``field``'s value for a candidate, or ``MISSING``."""
    name, key = field.name, field.key
    if name == "name":
        return lambda c: c[0].name
    if name == "version":
        return operator.itemgetter(1)
    if name == "registered_at":
        return lambda c: c[0].registered_at
    if name == "alias":
        return lambda c: c[0].aliases
    if name in ("training_date", "artifact_path", "description"):
        attribute = operator.attrgetter(name)
        return lambda c: attribute(c[0].metadata)
    if name == "metrics":
        metric = key[0]
        return lambda c: c[0].metadata.performance_metrics.get(metric, MISSING)
    if name == "tags":
        tag = key[0]
        return lambda c: c[0].metadata.tags.get(tag, MISSING)
    if len(key) == 1:
        param = key[0]
        return lambda c: c[0].metadata.hyperparameters.get(param, MISSING)
    return lambda c: _walk(c[0].metadata.hyperparameters, key)


def _walk(value: Any, key: tuple[str, ...]) -> Any:
    """The nested hyperparameter at ``key`` (``params.opt.name``), or ``MISSING``."""
    for part in key:
        if not isinstance(value, Mapping) or part not in value:
            return MISSING
        value = value[part]
    return value


def _json_types(value: object) -> tuple[type, ...]:
    """The Python types of the JSON type ``value`` has (bool is not a number; 1 and 1.0 are both numbers)."""
    if isinstance(value, bool):
        return (bool,)
    if isinstance(value, (int, float)):
        return (int, float)
    return (type(value),)


def _json_tag(value: Any) -> tuple[str, Any]:
    """``value`` tagged with its JSON type, so ``in`` tells ``true`` from ``1`` (Python says they are equal)."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, (int, float)):
        return ("number", value)
    return (type(value).__name__, value)


def like_pattern(pattern: str, ignore_case: bool) -> Callable[[str], object]:
    """A matcher for a like pattern: ``%`` any run, ``_`` one character, ``\\%``/``\\_``/``\\\\`` themselves."""
    parts: list[str] = []
    escaped = False
    for char in pattern:
        if escaped:
            parts.append(re.escape(char))
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "%":
            parts.append(".*")
        elif char == "_":
            parts.append(".")
        else:
            parts.append(re.escape(char))
    if escaped:
        parts.append(re.escape("\\"))
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.compile("".join(parts), flags).fullmatch


def _any_alias(match: Callable[[str], object], aliases: tuple[str, ...]) -> bool:
    return any(match(alias) is not None for alias in aliases)


_PY_OPS: Final = {"=": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_ATTRIBUTES: Final = {  # field -> its expression over the candidate ``c``: fixed text, never from a query
    "name": "c[0].name",
    "version": "c[1]._key",
    "registered_at": "c[0].registered_at",
    "training_date": "c[0].metadata.training_date",
    "artifact_path": "c[0].metadata.artifact_path",
    "description": "c[0].metadata.description",
    "alias": "c[0].aliases",
}
_MAPS: Final = {"metrics": "performance_metrics", "tags": "tags", "params": "hyperparameters"}


class _Generator:
    """Writes a ``where`` AST as one Python expression over ``c``; strings, keys and patterns are bound constants."""

    def __init__(self) -> None:
        self.constants: dict[str, Any] = {
            "_M": MISSING, "_NAN": math.nan, "_walk": _walk, "_tag": _json_tag, "_any": _any_alias,
        }

    def bind(self, value: Any) -> str:
        if type(value) in (int, float):  # exactly a number (not a bool): its repr is a literal, as fast as can be
            return repr(value)
        name = f"_k{len(self.constants)}"
        self.constants[name] = value
        return name

    def access(self, field: Field) -> str:
        if field.name in _ATTRIBUTES:
            return _ATTRIBUTES[field.name]
        mapping = f"c[0].metadata.{_MAPS[field.name]}"
        if len(field.key) == 1:
            return f"{mapping}.get({self.bind(field.key[0])}, _M)"
        return f"_walk({mapping}, {self.bind(field.key)})"

    def value(self, field: Field, value: Any) -> Any:
        return value._key if field.name == "version" else value

    def expression(self, node: Node) -> str:
        if isinstance(node, And):
            return "(" + " and ".join(map(self.expression, node.parts)) + ")"
        if isinstance(node, Or):
            return "(" + " or ".join(map(self.expression, node.parts)) + ")"
        if isinstance(node, Not):
            return f"(not {self.expression(node.operand)})"
        if isinstance(node, Satisfies):
            return f"{self.bind(node.range.contains)}(c[1])"
        field, get = node.field, self.access(node.field)
        if isinstance(node, Comparison):
            return self.comparison(node, get)
        if isinstance(node, Member):
            return self.member(node, get)
        if isinstance(node, Like):
            match = self.bind(like_pattern(node.pattern, node.ignore_case))
            if field.kind == "alias":
                return f"_any({match}, {get})"
            return f"(type(_v := {get}) is str and {match}(_v) is not None)"
        if field.kind == "alias":
            return f"({get} != ())"
        if field.name in ("metrics", "tags"):
            return f"({self.bind(field.key[0])} in c[0].metadata.{_MAPS[field.name]})"
        return f"({get} is not _M)"

    def comparison(self, node: Comparison, get: str) -> str:
        field, op = node.field, _PY_OPS[node.op]
        value = self.bind(self.value(field, node.value))
        if field.kind == "alias":  # "!=": no alias of that name points here
            return f"({value} {'in' if op == '==' else 'not in'} {get})"
        if field.kind == "json":
            return f"(type(_v := {get}) in {self.bind(_json_types(node.value))} and _v {op} {value})"
        if field.name == "metrics" and op != "!=":
            # Metrics are finite, so NaN for a missing one is false under every operator but != (no walrus).
            return f"(c[0].metadata.performance_metrics.get({self.bind(field.key[0])}, _NAN) {op} {value})"
        if field.name in ("metrics", "tags"):
            return f"((_v := {get}) is not _M and _v {op} {value})"
        return f"({get} {op} {value})"

    def member(self, node: Member, get: str) -> str:
        field = node.field
        if field.kind == "alias":
            return f"(not {self.bind(frozenset(node.values))}.isdisjoint({get}))"
        if field.kind == "json":
            return f"((_v := {get}) is not _M and _tag(_v) in {self.bind(frozenset(map(_json_tag, node.values)))})"
        return f"({get} in {self.bind(frozenset(self.value(field, v) for v in node.values))})"


Scan = Callable[[Iterable[Candidate]], list[Candidate]]


@functools.lru_cache(maxsize=_CACHE_SIZE)
def compile_where(where: str) -> Scan:
    """A function giving the candidates that match ``where``, cached; QueryError if ``where`` is invalid.

    Like ``dataclasses`` and ``namedtuple``, it is generated Python source, compiled once: the scan is
    one list comprehension with the condition inline, as fast as one written by hand (closures
    calling closures measured twice as slow). Only fixed text of this module enters the source, and
    the repr of numbers (exactly int or float); every string, key and pattern is a constant bound by name.
    """
    node = parse_where(where)
    if node is None:
        return list
    generator = _Generator()
    condition = generator.expression(node)
    source = f"def scan(candidates):\n    return [c for c in candidates if {condition}]\n"
    namespace = dict(generator.constants)
    exec(compile(source, "<modelreg search>", "exec"), namespace)
    scan: Scan = namespace["scan"]
    return scan


# -- order_by: one key tuple per candidate, its JSON form for cursors ------------------------------------------


class _Reversed:
    """Orders its value backwards: a descending term of a type that cannot be negated (strings, versions)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Reversed) and bool(self.value == other.value)

    def __lt__(self, other: _Reversed) -> bool:
        return bool(other.value < self.value)

    def __gt__(self, other: _Reversed) -> bool:
        return bool(other.value > self.value)

    __hash__ = None  # type: ignore[assignment]


_JSON_RANK: Final = {bool: 2, type(None): 3}


def _param_key(value: Any) -> tuple[Any, ...]:
    """The total order of hyperparameter values: numbers < strings < false < true < null < arrays < objects."""
    if isinstance(value, bool) or value is None:
        return (_JSON_RANK[type(value)], value or False)
    if isinstance(value, (int, float)):
        return (0, value)
    if isinstance(value, str):
        return (1, value)
    rank = 5 if isinstance(value, Mapping) else 4
    return (rank, json.dumps(value, sort_keys=True, separators=(",", ":")))


_SIMPLE_KEYS: Final[Mapping[str, Callable[[Candidate], Any]]] = {
    "name": lambda c: c[0].name,
    "version": lambda c: c[1]._key,
    "registered_at": lambda c: c[0].registered_at,
}


@dataclass(frozen=True, slots=True)
class _Term:
    """One ``order_by`` term: how to read its value, turn it into a sort key, and back from a cursor."""

    field: Field
    descending: bool
    get: Callable[[Candidate], Any]

    def raw(self, c: Candidate) -> Any:
        """The term's value as JSON for a cursor: ``[value]``, or ``[]`` when missing."""
        value = self.get(c)
        if value is MISSING:
            return []
        if isinstance(value, datetime):
            return [value.isoformat()]
        if isinstance(value, SemVer):
            return [str(value)]
        return [value]

    def value_of(self, raw: Any) -> Any:
        """The value a cursor's ``raw`` stands for; ValueError if it cannot be one of this term's."""
        if not isinstance(raw, list) or len(raw) > 1:
            raise ValueError("not a term")
        if not raw:
            if self.field.name not in ("metrics", "params"):
                raise ValueError("a field every version has is missing")
            return MISSING
        value, name = raw[0], self.field.name
        if name == "version":
            return parse_version(value)
        if name in ("training_date", "registered_at"):
            date = datetime.fromisoformat(value)
            if date.tzinfo is None:
                raise ValueError("a naive date")
            return date
        if name == "metrics" and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise ValueError("a metric that is not a number")
        if name == "name" and not isinstance(value, str):
            raise ValueError("a name that is not a string")
        return value

    def key_of(self, value: Any) -> Any:
        """The sort key of a value of this term (missing sorts last whichever the direction)."""
        name, down = self.field.name, self.descending
        if name in ("metrics", "params"):
            if value is MISSING:
                return (1,)
            if name == "metrics":
                return (0, -value if down else value)
            key = _param_key(value)
            return (0, _Reversed(key) if down else key)
        if name == "version":
            value = value._key
        return _Reversed(value) if down else value

    def key(self, c: Candidate) -> Any:
        """The sort key of candidate ``c``."""
        return self.key_of(self.get(c))

    def fast_key(self) -> Callable[[Candidate], Any]:
        """``key`` as one closure for the common terms (it runs once per match), else ``key`` itself."""
        name, down = self.field.name, self.descending
        if name == "metrics":
            metric = self.field.key[0]
            if down:
                return lambda c: (1,) if (v := c[0].metadata.performance_metrics.get(metric)) is None else (0, -v)
            return lambda c: (1,) if (v := c[0].metadata.performance_metrics.get(metric)) is None else (0, v)
        if not down and name in ("name", "version", "registered_at"):
            return _SIMPLE_KEYS[name]
        return self.key


def _descending(term: _Term) -> Descending | None:
    """The fast path of a lone descending term, where one applies (metrics negate instead)."""
    name = term.field.name
    if not term.descending or name == "metrics":
        return None
    if name == "params":
        get = term.get

        def params(cs: Iterable[Candidate]) -> Iterable[Any]:
            return [(0,) if (v := get(c)) is MISSING else (1, _param_key(v)) for c in cs]

        return Descending(params, lambda key: (0,) if len(key) == 1 else (1, key[1].value))
    return Descending(ATTRIBUTE_VALUES[name], operator.attrgetter("value"))


@dataclass(frozen=True, slots=True)
class Order:
    """A compiled ``order_by``: the sort key of a candidate (ties broken by name, then version precedence)."""

    terms: tuple[_Term, ...]
    key: SortKey
    descending: Descending | None = None
    """Set for a lone descending term: ``run_search`` pages it with ``descending.page``, to the same result."""

    def raw(self, c: Candidate) -> list[Any]:
        """The JSON form of ``c``'s key: each term's raw value, then its name and version."""
        return [term.raw(c) for term in self.terms] + [c[0].name, str(c[1])]

    def key_of_raw(self, raw: Any) -> tuple[Any, ...]:
        """The key a cursor stands for; ValueError (or TypeError) if it is not one of this order's keys."""
        if not isinstance(raw, list) or len(raw) != len(self.terms) + 2 or not isinstance(raw[-2], str):
            raise ValueError("wrong shape")
        parts = [term.key_of(term.value_of(part)) for term, part in zip(self.terms, raw, strict=False)]
        return (*parts, raw[-2], parse_version(raw[-1])._key)


def _order_term(parser: Any) -> _Term:
    field = parse_field(parser)
    if field.name not in _SORTABLE:
        raise QueryError(
            f"cannot order by {field.text} at column {field.position}; expected name, version, training_date, "
            "registered_at, metrics.KEY or params.KEY",
            position=field.position,
        )
    token = parser.peek
    descending = False
    if token.kind == "ident" and token.text.lower() in ("asc", "desc"):
        parser.take()
        descending = token.text.lower() == "desc"
    return _Term(field, descending, field_getter(field))


@functools.lru_cache(maxsize=_CACHE_SIZE)
def compile_order(order_by: str) -> Order:
    """The compiled ``order_by`` (default: name, then version), cached; QueryError if it is invalid."""
    if len(order_by) > MAX_QUERY_LENGTH:
        raise QueryError(f"order_by is {len(order_by)} characters long; the limit is {MAX_QUERY_LENGTH}")
    parser = order_parser(order_by)
    terms: list[_Term] = []
    while parser.peek.kind != "end":
        terms.append(_order_term(parser))
        if parser.peek.kind == "end":
            break
        if parser.punct(",") is None:
            parser.expected("'asc', 'desc', ',' or the end of order_by")
        if parser.peek.kind == "end":
            parser.expected("a field after ','")
    keys = [term.fast_key() for term in terms]
    key: SortKey
    if not keys:
        key = lambda c: (c[0].name, c[1]._key)  # noqa: E731
    elif len(keys) == 1:
        only = keys[0]
        key = lambda c: (only(c), c[0].name, c[1]._key)  # noqa: E731
    else:
        key = lambda c: (*[k(c) for k in keys], c[0].name, c[1]._key)  # noqa: E731
    return Order(tuple(terms), key, _descending(terms[0]) if len(terms) == 1 else None)


# -- run_search ---------------------------------------------------------------------------------------------------


def _check_args(where: object, order_by: object, limit: object, scope: object) -> int:
    for what, value in (("where", where), ("order_by", order_by), ("scope", scope)):
        if not isinstance(value, str):
            raise TypeError(f"{what} must be a str, not {type(value).__name__}")
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise TypeError(f"limit must be an int from 1 to {MAX_LIMIT}, not {type(limit).__name__}")
    if not 1 <= limit <= MAX_LIMIT:
        raise QueryError(f"limit must be from 1 to {MAX_LIMIT}, not {limit}")
    return limit


def run_search(
    candidates: Iterable[Candidate],
    where: str,
    *,
    order_by: str,
    limit: int,
    cursor: str | None,
    scope: str = "",
) -> SearchPage:
    """One page of the candidates matching ``where`` in ``order_by`` order, after ``cursor``.

    ``scope`` (the ``name=`` filter) goes into the cursor's fingerprint with ``where`` and
    ``order_by``, so a cursor only continues the search that gave it. Every error is a QueryError.
    """
    limit = _check_args(where, order_by, limit, scope)
    scan = compile_where(where)
    order = compile_order(order_by)
    printed = fingerprint(where, order_by, scope)
    after = None if cursor is None else decode_cursor(cursor, printed, order.key_of_raw)
    matches = scan(candidates)
    key = order.key
    if order.descending is not None:
        best = order.descending.page(matches, limit + 1, after)
    else:
        pool = matches if after is None else [c for c in matches if key(c) > after]
        best = heapq.nsmallest(limit + 1, pool, key=key)
    following = None
    if len(best) > limit:
        best.pop()
        following = encode_cursor(printed, order.raw(best[-1]))
    return SearchPage(items=frozen_list(c[0] for c in best), next_cursor=following, total=len(matches))
