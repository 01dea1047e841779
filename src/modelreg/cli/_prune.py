"""``modelreg prune``: list (or with ``--apply`` remove) versions beyond each model's newest N."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import click

from .. import _retention
from .._dates import TIMESTAMP_EXAMPLE, parse_timestamp
from ..errors import RegistryError
from ..registry import ModelRegistry
from ._context import CliFailure, Session, json_option, pass_session, print_json
from ._output import print_table

__all__ = ["OlderThan", "prune"]

if TYPE_CHECKING:
    _OlderThanBase = click.ParamType[datetime]
else:  # click < 8.2 has no generic ParamType
    _OlderThanBase = click.ParamType

LONG_RUN = 20  # removals from which a progress bar is worth showing (each is one write, over HTTP one request)
_DURATION = re.compile(r"([0-9]{1,6})([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_STATUS = {  # outcome -> what the JSON and the table call it
    _retention.REMOVED: "removed",
    _retention.GONE: "skipped_gone",
    _retention.IN_USE: "skipped_aliased",
}
_SHOWN = {"would_remove": "would remove", "removed": "removed",
          "skipped_gone": "skipped (removed meanwhile)", "skipped_aliased": "skipped (aliased meanwhile)"}


class OlderThan(_OlderThanBase):
    """An RFC 3339 time, or a duration back from now: ``30d``, ``12h``, ``2w``, ``90m``, ``45s``."""

    name = "RFC3339|DURATION"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        """The time meant: ``now - duration`` for a duration, else the RFC 3339 time (the core's parser)."""
        if isinstance(value, datetime):
            return value
        text = str(value)
        duration = _DURATION.fullmatch(text)
        if duration is not None:
            return datetime.now(UTC) - timedelta(**{_UNITS[duration[2]]: int(duration[1])})
        try:
            return parse_timestamp(text)
        except ValueError as exc:
            if text[:1].isdigit() and not re.match(r"[0-9]{4}-", text):
                self.fail(f"{text[:80]!r} is not a duration: expected a whole number and a unit, "
                          "s, m, h, d or w (e.g. 30d, 12h, 2w)", param, ctx)
            self.fail(f"{exc}; or a duration back from now such as 30d, 12h or 2w", param, ctx)


@click.command()
@click.argument("name", required=False)
@click.option("--keep-latest", type=click.IntRange(min=0), default=10, show_default=True, metavar="N",
              help="Keep each model's N newest versions by precedence (prereleases count).")
@click.option("--older-than", type=OlderThan(),
              help=f"Only remove versions registered before this: a duration back from now (30d, 12h, 2w) "
                   f"or an RFC 3339 time such as {TIMESTAMP_EXAMPLE}.")
@click.option("--apply", "apply_", is_flag=True, help="Remove them; without it prune only lists what would go.")
@json_option
@pass_session
def prune(session: Session, name: str | None, keep_latest: int, older_than: datetime | None, apply_: bool) -> None:
    """List the versions beyond each model's newest N; with --apply, remove them.

    Without NAME every model. Versions an alias points at always stay. Each removal
    is an ordinary 'unregistered' event in history; one removed or aliased by
    someone else meanwhile is skipped, not an error.

    Example:

    \b
        modelreg prune resnet50 --keep-latest 5 --older-than 30d --apply
    """
    _need_rich()  # before anything is removed, not after
    registry = session.registry()
    selection = _retention.select(registry, name, keep_latest=keep_latest, older_than=older_than)
    status = {pair: "would_remove" for pair in selection.pairs}
    if apply_ and selection.pairs:
        _remove(registry, selection.pairs, status)
    versions = [
        {"name": r.name, "version": r.version, "registered_at": r.registered_at.isoformat(),
         "status": status[(r.name, r.version)]}
        for r in selection.chosen
    ]
    models = _summary(selection, status)
    if session.as_json:
        print_json({"applied": apply_, "keep_latest": keep_latest,
                    "older_than": None if older_than is None else older_than.isoformat(),
                    "versions": versions, "models": models})
        return
    _print_human(session, versions, models, apply_)


def _need_rich() -> None:
    """A one-line failure naming the fix when rich (the progress bar and tables) is not installed."""
    try:
        import rich  # noqa: F401
    except ImportError as exc:
        raise CliFailure(f"prune needs rich, which is not installed ({exc}); install it with: "
                         "pip install 'modelreg[cli]'") from exc


def _remove(registry: ModelRegistry, pairs: list[tuple[str, str]], status: dict[tuple[str, str], str]) -> None:
    """Remove ``pairs``, recording each outcome, with a progress bar on stderr for a long run on a terminal."""
    from rich.console import Console
    from rich.progress import Progress

    console = Console(stderr=True)
    with Progress(console=console, transient=True, disable=len(pairs) < LONG_RUN or not console.is_terminal) as bar:
        task = bar.add_task("pruning", total=len(pairs))

        def told(name: str, version: str, outcome: str) -> None:
            status[(name, version)] = _STATUS[outcome]
            bar.advance(task)

        try:
            _retention.apply(registry, pairs, told)
        except RegistryError:
            done = [f"{n} {v}" for (n, v), state in status.items() if state == "removed"]
            click.echo(f"prune stopped after removing {len(done)} of {len(pairs)} versions"
                       + (f": {', '.join(done)}" if done else ""), err=True)
            raise


def _summary(selection: _retention.Selection, status: dict[tuple[str, str], str]) -> list[dict[str, Any]]:
    """Per model with something chosen: its versions at the reading, removed (or would be), skipped."""
    rows: dict[str, dict[str, Any]] = {}
    for (model, _version), state in status.items():
        row = rows.setdefault(model, {"name": model, "versions": selection.counts[model], "removed": 0, "skipped": 0})
        row["skipped" if state.startswith("skipped") else "removed"] += 1
    return [rows[model] for model in sorted(rows)]


def _print_human(session: Session, versions: list[dict[str, Any]], models: list[dict[str, Any]], applied: bool) -> None:
    """The versions as a table, then a summary table per model, then one note on stderr."""
    if not versions:
        click.echo(f"nothing to prune in {session.display_url}", err=True)
        return
    print_table(("NAME", "VERSION", "REGISTERED", "STATUS"),
                ((v["name"], v["version"], v["registered_at"], _SHOWN[v["status"]]) for v in versions))
    _print_summary(models, applied)
    removed = sum(m["removed"] for m in models)
    skipped = sum(m["skipped"] for m in models)
    if applied:
        note = f"removed {removed} version{'s' * (removed != 1)}" + (f", skipped {skipped}" if skipped else "")
    else:
        note = f"dry run: nothing removed; add --apply to remove these {removed} version{'s' * (removed != 1)}"
    click.echo(note, err=True)


def _print_summary(models: list[dict[str, Any]], applied: bool) -> None:
    """The rich summary table on stdout, after a blank line: one row per model, then the totals."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    keys = ("versions", "removed", "skipped")
    totals = ["total", *(str(sum(m[key] for m in models)) for key in keys)]
    table = Table(box=box.SIMPLE, safe_box=True, pad_edge=False, show_edge=False, show_footer=len(models) > 1)
    headers = ("MODEL", "VERSIONS", "REMOVED" if applied else "WOULD REMOVE", "SKIPPED")
    for header, total in zip(headers, totals, strict=True):
        table.add_column(header, total, justify="left" if header == "MODEL" else "right", overflow="fold")
    for m in models:
        table.add_row(m["name"], *(str(m[key]) for key in keys))
    click.echo()
    Console(highlight=False).print(table)
