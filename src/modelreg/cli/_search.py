"""``modelreg search``: versions found by a ``where`` query, as a table or JSON, one page or all of them."""

from __future__ import annotations

import re
from typing import IO, Any

import click

from ..errors import QueryError
from ..records import SearchPage, VersionRecord
from ..registry import ModelRegistry
from ._context import CliFailure, Session, exit_code_for, json_option, pass_session, print_json
from ._output import print_table, record_document

__all__ = ["QueryFailure", "caret_lines", "metric_keys", "search"]

DEFAULT_LIMIT = 100  # the library's default page
ALL_PAGE_LIMIT = 1000  # the largest page: --all walks with the fewest round trips

# The engine keeps its parse to itself, so the table's metric columns come from a scan of the text:
# quoted strings are skipped (``name = 'metrics.x'`` names no metric), then ``metrics.KEY`` or
# ``metrics.`any key``` is taken, unless it is the tail of a longer field (``params.metrics.x``).
_METRIC_REFERENCE = re.compile(
    r"""
      '(?:[^'\\]|\\.)*'? | "(?:[^"\\]|\\.)*"?                  # a string literal (maybe unterminated)
    | (?<![\w.`])metrics\s*\.\s*
      (?: `(?P<quoted>(?:[^`\\]|\\.)*)`                        # metrics.`top-1@224`
        | (?P<plain>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)  # metrics.top1
      )
    """,
    re.VERBOSE | re.IGNORECASE | re.DOTALL,
)
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)


def metric_keys(*texts: str) -> list[str]:
    """The metric keys that the texts (a query, an order) name, in order of first mention, each once."""
    keys: dict[str, None] = {}
    for text in texts:
        for match in _METRIC_REFERENCE.finditer(text):
            if match.group("quoted") is not None:
                keys.setdefault(_ESCAPE.sub(r"\1", match.group("quoted")))
            elif match.group("plain") is not None:
                keys.setdefault(match.group("plain"))
    return list(keys)


def caret_lines(text: str, position: int) -> list[str]:
    """The line of ``text`` holding the 1-based ``position`` and a caret under it, both indented."""
    index = min(max(position - 1, 0), len(text))
    start = text.rfind("\n", 0, index) + 1
    end = text.find("\n", index)
    line = text[start : len(text) if end < 0 else end]
    pad = "".join("\t" if char == "\t" else " " for char in line[: index - start])  # tabs keep the caret aligned
    return [f"  {line}", f"  {pad}^"]


class QueryFailure(CliFailure):
    """A query error: ``error: <message>``, then the text it is about with a caret under its position."""

    def __init__(self, exc: QueryError, context: list[str]) -> None:
        super().__init__(str(exc), exit_code_for(exc))
        self.context = context

    def show(self, file: IO[Any] | None = None) -> None:
        """Print the error line, then the context lines, on stderr."""
        super().show(file)
        for line in self.context:
            click.echo(line, file=file, err=file is None)


def _fails_alone(registry: ModelRegistry, exc: QueryError, name: str | None, **part: str) -> bool:
    """Whether searching with only this part (the query or the order) fails the same way."""
    try:
        registry.search(name=name, limit=1, **part)
    except QueryError as again:
        return (again.position, str(again)) == (exc.position, str(exc))
    return False


def _context_of(registry: ModelRegistry, exc: QueryError, where: str, name: str | None, order_by: str) -> list[str]:
    """The caret lines for a query error, under the text the position belongs to (the query or the order).

    The error does not say which text its column counts in, so each is tried alone; this costs a
    second search, on the error path only.
    """
    if exc.position is None:
        return []
    if _fails_alone(registry, exc, name, where=where):
        return caret_lines(where, exc.position)
    if order_by and _fails_alone(registry, exc, name, order_by=order_by):
        return ["in --order-by:", *caret_lines(order_by, exc.position)]
    return []


def _pages(
    registry: ModelRegistry,
    where: str,
    *,
    name: str | None,
    order_by: str,
    limit: int,
    cursor: str | None,
    walk_all: bool,
) -> SearchPage:
    """One page, or with ``walk_all`` every page from ``cursor`` on, joined into one."""
    try:
        page = registry.search(where, name=name, order_by=order_by, limit=limit, cursor=cursor)
        if not walk_all:
            return page
        items: list[VersionRecord] = list(page.items)
        while page.next_cursor is not None:
            page = registry.search(where, name=name, order_by=order_by, limit=limit, cursor=page.next_cursor)
            items += page.items
    except QueryError as exc:
        raise QueryFailure(exc, _context_of(registry, exc, where, name, order_by)) from exc
    return SearchPage(items=tuple(items), next_cursor=None, total=page.total)


def _metric_cell(record: VersionRecord, key: str) -> str:
    value = record.metadata.performance_metrics.get(key)
    return "-" if value is None else repr(value)


def _print_page(page: SearchPage, metrics: list[str]) -> None:
    """The table on stdout; the count (and how to get the next page) on stderr, so stdout holds only rows."""
    if not page.items:
        click.echo("no versions match" if page.total == 0 else f"no versions on this page of {page.total}", err=True)
        return
    print_table(
        ("NAME", "VERSION", "ALIASES", *metrics),
        (
            (r.name, r.version, ", ".join(r.aliases), *(_metric_cell(r, key) for key in metrics))
            for r in page.items
        ),
    )
    if page.next_cursor is None and len(page.items) == page.total:
        click.echo(f"{page.total} version{'s' if page.total != 1 else ''} matched", err=True)
    elif page.next_cursor is None:
        click.echo(f"{len(page.items)} shown; {page.total} matched in all", err=True)
    else:
        click.echo(
            f"{len(page.items)} shown of {page.total} matched; next page: --cursor {page.next_cursor} "
            "(or --all for every page)",
            err=True,
        )


@click.command()
@click.argument("where", default="", required=False)
@click.option("--name", metavar="MODEL", help="Only this model's versions.")
@click.option(
    "--order-by",
    "order_by",
    default="",
    metavar="ORDER",
    help="Comma-separated fields, each optionally asc/desc, e.g. 'metrics.top1 desc, version' "
    "[default: name, then version].",
)
@click.option(
    "--limit",
    type=int,
    metavar="N",
    help=f"Versions per page, 1-1000 [default: {DEFAULT_LIMIT}; with --all, {ALL_PAGE_LIMIT}].",
)
@click.option("--cursor", metavar="CURSOR", help="Start at this page: the next_cursor a previous search printed.")
@click.option("--all", "walk_all", is_flag=True, help="Follow the cursor through every page and print them all.")
@json_option
@pass_session
def search(
    session: Session,
    where: str,
    name: str | None,
    order_by: str,
    limit: int | None,
    cursor: str | None,
    walk_all: bool,
) -> None:
    """Find versions by their metrics, parameters, tags, aliases and dates.

    WHERE is a query such as "metrics.top1 >= 0.76 and version satisfies '^2'"
    (the language: docs/search.md); empty, it matches every version. The
    table shows name, version, aliases and each metric the query or the order
    names; the count goes to stderr. With --json: {"items", "next_cursor",
    "total"}, and with --all one such object holding every item. A query
    that cannot be read exits 5, with a caret under the column at fault.

    Example:

    \b
        modelreg search "metrics.top1 >= 0.76 and version satisfies '^2'" --order-by 'metrics.top1 desc'
        modelreg search "tags.team = 'vision' and not alias exists" --name resnet50
        modelreg search "params.optimizer in ('adam', 'sgd') or metrics.latency_ms < 15" --all --json
    """
    page_limit = limit if limit is not None else ALL_PAGE_LIMIT if walk_all else DEFAULT_LIMIT
    page = _pages(
        session.registry(), where, name=name, order_by=order_by, limit=page_limit, cursor=cursor, walk_all=walk_all
    )
    if session.as_json:
        print_json(
            {"items": [record_document(r) for r in page.items], "next_cursor": page.next_cursor, "total": page.total}
        )
    else:
        _print_page(page, metric_keys(where, order_by))
