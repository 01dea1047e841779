"""``modelreg import mlflow``: bring an MLflow registry over (docs/migrate-from-mlflow.md)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from ..importing import ImportInterrupted, ImportReport, Progress, SourceError, VersionMap, import_mlflow
from ._context import CliFailure, Session, json_option, pass_session, print_json

__all__ = ["import_group"]

EXIT_SOURCE = 6  # MLflow unreachable or refusing: the same code as an unavailable store
RETRIES_ENV = "MLFLOW_HTTP_REQUEST_MAX_RETRIES"
DEFAULT_RETRIES = "2"  # MLflow's own default retries with backoff for minutes before an unreachable server fails
_SHOWN = {"imported": "imported", "would_import": "would import", "already_imported": "already imported",
          "skipped": "skipped"}


def _version_map(_ctx: click.Context, _param: click.Parameter, value: str) -> VersionMap:
    try:
        return VersionMap.parse(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.group("import")
def import_group() -> None:
    """Bring models over from another registry.

    Example:

    \b
        modelreg --registry sqlite:///reg.db import mlflow --tracking-uri http://mlflow:5000 --dry-run
    """


@import_group.command("mlflow")
@click.option("--tracking-uri", required=True, envvar="MLFLOW_TRACKING_URI", metavar="URI",
              help="The MLflow tracking server (or any tracking URI) to read [env MLFLOW_TRACKING_URI].")
@click.option("--models", "globs", multiple=True, metavar="GLOB",
              help="Only registered models whose name matches this glob; repeat for more [default: all].")
@click.option("--version-map", default="default", show_default=True, callback=_version_map,
              metavar="default|tag:KEY|template:TEXT",
              help="How MLflow version N becomes a SemVer: N.0.0; the SemVer in version tag KEY (e.g. tag:sem_ver); "
                   "or TEXT with the bare field {n} (e.g. template:1.{n}.0).")
@click.option("--parse-params", is_flag=True,
              help="Store true/false params as JSON booleans and numeric params as JSON numbers when the number's "
                   "JSON text is the param exactly ('50', '0.01'; not '007' or '1e5'); MLflow keeps every param as "
                   "text, and without this they stay text.")
@click.option("--no-stages", is_flag=True, help="Do not turn the stages Production and Staging into aliases.")
@click.option("--dry-run", is_flag=True, help="Read MLflow and report what would be imported; change nothing.")
@json_option
@pass_session
def mlflow(session: Session, tracking_uri: str, globs: tuple[str, ...], version_map: VersionMap,
           parse_params: bool, no_stages: bool, dry_run: bool) -> None:
    """Import MLflow's registered models, versions, run metrics and params, and aliases.

    Versions already imported (matched by their mlflow.version tag) are left as they
    are, so running it again imports only what is new. A version whose SemVer is
    invalid or taken is skipped, with the reason in the summary.

    Example:

    \b
        modelreg import mlflow --tracking-uri http://mlflow:5000 --models 'fraud-*' --version-map tag:sem_ver
    """
    os.environ.setdefault(RETRIES_ENV, DEFAULT_RETRIES)
    registry = session.registry()
    try:
        with _progress_bar(session.as_json) as progress:
            report = import_mlflow(registry, tracking_uri, models=globs or ("*",), version_map=version_map,
                                   parse_params=parse_params, stages=not no_stages, dry_run=dry_run,
                                   progress=progress)
    except ImportInterrupted as exc:
        _interrupted(session, exc)
    except SourceError as exc:
        raise CliFailure(str(exc), EXIT_SOURCE) from exc
    if session.as_json:
        print_json(report.to_dict())
        return
    _print_summary(report, session.display_url)


def _interrupted(session: Session, exc: ImportInterrupted) -> None:
    """What was done before MLflow failed (it stays), then the one-line error."""
    report = exc.report
    if session.as_json:
        print_json({**report.to_dict(), "error": str(exc)})
    elif report.versions:
        _print_summary(report, session.display_url)
    imported = report.counts().get("imported", 0)
    if imported:
        click.echo(f"import stopped after importing {imported} version{'s' * (imported != 1)}; "
                   "they stay: run the same command again to continue", err=True)
    raise CliFailure(str(exc), EXIT_SOURCE) from exc


@contextmanager
def _progress_bar(quiet: bool) -> Iterator[Progress | None]:
    """A rich bar over models and versions on stderr, when stderr is a terminal."""
    from rich.console import Console
    from rich.progress import Progress as Bar

    console = Console(stderr=True)
    if quiet or not console.is_terminal:
        yield None
        return
    with Bar(console=console, transient=True) as bar:
        models = bar.add_task("models", total=None)
        versions = bar.add_task("versions", total=0)

        def tell(kind: str, name: str, count: int) -> None:
            if kind == "models":
                bar.update(models, total=count)
            elif kind == "model":
                bar.update(models, advance=1, description=f"models ({name})")
                bar.update(versions, total=(bar.tasks[versions].total or 0) + count)
            else:
                bar.advance(versions, count)

        yield tell


def _rows(report: ImportReport) -> list[dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for model in report.models:
        rows[model.name] = {"name": model.name, "imported": 0, "already": 0, "skipped": 0,
                            "warnings": len(model.warnings)}
    for v in report.versions:
        row = rows.setdefault(v.model, {"name": v.model, "imported": 0, "already": 0, "skipped": 0, "warnings": 0})
        key = {"imported": "imported", "would_import": "imported", "already_imported": "already"}.get(v.status,
                                                                                                     "skipped")
        row[key] += 1
        row["warnings"] += len(v.warnings)
    for a in report.aliases:
        if a.status == "skipped" and a.model in rows:
            row = rows[a.model]
            row["warnings"] += 1
    return [rows[name] for name in sorted(rows)]


def _print_summary(report: ImportReport, where: str) -> None:
    """The summary table, then every skipped version and alias and every warning, then one note on stderr."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    rows = _rows(report)
    keys = ("imported", "already", "skipped", "warnings")
    table = Table(box=box.SIMPLE, safe_box=True, pad_edge=False, show_edge=False, show_footer=len(rows) > 1)
    headers = ("MODEL", "WOULD IMPORT" if report.dry_run else "IMPORTED", "ALREADY", "SKIPPED", "WARNINGS")
    totals = ["total", *(str(sum(r[k] for r in rows)) for k in keys)]
    for header, total in zip(headers, totals, strict=True):
        table.add_column(header, total, justify="left" if header == "MODEL" else "right", overflow="fold")
    for r in rows:
        table.add_row(r["name"], *(str(r[k]) for k in keys))
    console = Console(highlight=False, soft_wrap=True)
    console.print(table)
    for line in _details(report):
        click.echo(line)
    imported = report.counts().get("imported", 0)
    if report.dry_run:
        note = f"dry run: nothing changed in {where}"
    elif imported:
        note = f"imported {imported} version{'s' * (imported != 1)} into {where}"
    else:
        note = f"nothing new to import into {where}"
    click.echo(note, err=True)


def _details(report: ImportReport) -> Iterator[str]:
    for m in report.models:
        if m.status == "skipped":
            yield f"skipped model {m.name}: {m.reason}"
        yield from (f"warning: model {m.name}: {w}" for w in m.warnings)
    for v in report.versions:
        what = f"{v.model} MLflow version {v.mlflow_version}" + (f" ({v.version})" if v.version else "")
        if v.status == "skipped":
            yield f"skipped {what}: {v.reason}"
        yield from (f"warning: {what}: {w}" for w in v.warnings)
    for a in report.aliases:
        target = f" -> {a.version}" if a.version else ""
        if a.status == "skipped":
            yield f"skipped alias {a.model} {a.alias}{target} ({a.origin}): {a.reason}"
        elif a.status in ("set", "would_set"):
            yield f"{'would set' if a.status == 'would_set' else 'set'} alias {a.model} {a.alias}{target} ({a.origin})"
