"""The search page (``/search``): the ``where`` language with examples, results with the queried metrics as columns.

A query that cannot be read is shown back with the error at its column (status 400), as the
CLI prints a caret under it; the metric columns come from the parsed query, not a text scan.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from typing import Any

from ..._query import And, Field, Node, Not, Or, parse_where
from ..._search import compile_order
from ...errors import QueryError, RegistryError
from ..call import Reply
from ..problems import status_for
from ..scopes import scoped_search
from . import paths
from .page import Page

__all__ = ["EXAMPLES", "RESULTS_PER_PAGE", "ErrorSpot", "error_spot", "metric_columns", "search_page", "sort_field"]

RESULTS_PER_PAGE = 50
_MAX_COLUMNS = 20
EXAMPLES: tuple[tuple[str, str], ...] = (
    ("metrics.top1 >= 0.76", ""),
    ("version satisfies '^2' and alias exists", ""),
    ("tags.team = 'vision' and training_date >= '2026-01-01'", "metrics.top1 desc"),
    ("params.optimizer in ('adam', 'sgd') or metrics.latency_ms < 15", "metrics.latency_ms"),
    ("description ilike '%distilled%'", ""),
)
"""Queries shown beside the box (where, order_by): each is a link that fills it in."""
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")


@dataclass(frozen=True, slots=True)
class ErrorSpot:
    """Where a query error is: the text it is in ('where' or 'order_by'), the line split around the column."""

    part: str
    line_number: int
    before: str
    at: str  # the character at the column ('' at the end of the text)
    after: str
    pad: str  # spaces (tabs kept) as wide as ``before``: the caret line goes under the column

    @property
    def column(self) -> int:
        """The 1-based column within its line."""
        return len(self.before) + 1


@dataclass(frozen=True, slots=True)
class Column:
    """A metric column: its key, its order_by field text, and the link that orders by it (toggling direction)."""

    key: str
    sort: str  # 'ascending', 'descending' or '' (not the first order term)
    link: str


def _fields(node: Node | None) -> list[Field]:
    """Every field the where AST mentions, in the order written."""
    if node is None:
        return []
    if isinstance(node, (And, Or)):
        return [f for part in node.parts for f in _fields(part)]
    if isinstance(node, Not):
        return _fields(node.operand)
    return [node.field]


def metric_columns(where: str, order_by: str, extra: list[str]) -> list[str]:
    """The metric keys the query and the order name, then ``extra`` ones, each once (invalid texts name none)."""
    keys: dict[str, None] = {}
    try:
        fields = _fields(parse_where(where))
    except QueryError:
        fields = []
    with contextlib.suppress(QueryError):
        fields += [term.field for term in compile_order(order_by).terms]
    for field in fields:
        if field.name == "metrics":
            keys.setdefault(field.key[0])
    for key in extra:
        if key:
            keys.setdefault(key)
    return list(keys)[:_MAX_COLUMNS]


def sort_field(name: str, key: str = "") -> str:
    """The order_by text of a field: ``metrics.top1``, or the key in backticks when it is not a plain name."""
    if not key:
        return name
    if _PLAIN_KEY.fullmatch(key):
        return f"{name}.{key}"
    return f"{name}.`" + key.replace("\\", "\\\\").replace("`", "\\`") + "`"


def _first_order(order_by: str) -> tuple[str, bool] | None:
    """The first order term as (field text in canonical spelling, descending), None for the default order."""
    try:
        terms = compile_order(order_by).terms
    except QueryError:
        return None
    if not terms:
        return ("name", False)
    first = terms[0].field
    return (sort_field(first.name, first.key[0] if first.key and first.name != "params" else ""), terms[0].descending)


def error_spot(where: str, order_by: str, exc: QueryError) -> ErrorSpot | None:
    """Which text the error's 1-based column counts in (each is parsed alone) and that line split around it."""
    if exc.position is None:
        return None
    part, text = "", ""
    try:
        parse_where(where)
    except QueryError as again:
        if again.position == exc.position:
            part, text = "where", where
    if not part and order_by:
        try:
            compile_order(order_by)
        except QueryError as again:
            if again.position == exc.position:
                part, text = "order_by", order_by
    if not part:
        return None
    index = min(max(exc.position - 1, 0), len(text))
    start = text.rfind("\n", 0, index) + 1
    end = text.find("\n", index)
    end = len(text) if end < 0 else end
    at = text[index] if index < end else ""
    before = text[start:index]
    pad = "".join("\t" if char == "\t" else " " for char in before)
    return ErrorSpot(part, text.count("\n", 0, index) + 1, before, at, text[index + len(at) : end], pad)


def _columns(page: Page, base: dict[str, str | list[str]], keys: list[str], order_by: str) -> list[Column]:
    first = _first_order(order_by)
    columns = []
    for key in keys:
        field = sort_field("metrics", key)
        sort = "" if first is None or first[0] != field else "descending" if first[1] else "ascending"
        # Metrics read best-first by default: a click sorts descending, the next ascending.
        order = f"{field} asc" if sort == "descending" else f"{field} desc"
        columns.append(Column(key, sort, page.href(paths.SEARCH, {**base, "order_by": order})))
    return columns


def _plain_sorts(page: Page, base: dict[str, str | list[str]], order_by: str) -> dict[str, tuple[str, str]]:
    """The sort state and toggle link of the fixed columns (model, version, training date, registered)."""
    first = _first_order(order_by)
    out = {}
    for field in ("name", "version", "training_date", "registered_at"):
        sort = "" if first is None or first[0] != field else "descending" if first[1] else "ascending"
        order = f"{field} desc" if sort == "ascending" else field
        out[field] = (sort, page.href(paths.SEARCH, {**base, "order_by": order}))
    return out


def search_page(page: Page) -> Reply:
    """GET /search?where=&name=&order_by=&columns=&cursor= : one page of matching versions (400 with the spot)."""
    where, name, order_by = page.arg("where"), page.arg("name"), page.arg("order_by")
    cursor = page.arg("cursor") or None
    extra = [key.strip() for text in page.args("columns") for key in text.split(",")]
    base: dict[str, str | list[str]] = {"where": where, "name": name, "columns": page.args("columns")}
    context: dict[str, Any] = {"where": where, "name": name, "order_by": order_by, "columns_arg": ",".join(extra),
               "examples": [(w, o, page.href(paths.SEARCH, {"where": w, "order_by": o})) for w, o in EXAMPLES],
               "cursor": cursor or ""}
    try:
        found = scoped_search(page.registry, page.call, where, name=name or None, order_by=order_by,
                              limit=RESULTS_PER_PAGE, cursor=cursor)
    except RegistryError as exc:  # a bad query, order or cursor (400), or a bad model name (422)
        spot = error_spot(where, order_by, exc) if isinstance(exc, QueryError) else None
        return page.render("search.html", status=status_for(exc), nav="search", **context, error=exc.message,
                           spot=spot, results=None, columns=[], sorts={}, next_link="", first_link="")
    keys = metric_columns(where, order_by, extra)
    next_link = "" if found.next_cursor is None else page.href(
        paths.SEARCH, {**base, "order_by": order_by, "cursor": found.next_cursor})
    first_link = page.href(paths.SEARCH, {**base, "order_by": order_by}) if cursor else ""
    return page.render("search.html", nav="search", **context, error="", spot=None, results=found,
                       columns=_columns(page, base, keys, order_by), sorts=_plain_sorts(page, base, order_by),
                       next_link=next_link, first_link=first_link)
