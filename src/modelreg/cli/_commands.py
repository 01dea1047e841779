"""The commands that read and change the registry: thin wrappers that parse, call, print."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import click

from ..errors import VersionInUseError, VersionNotFoundError
from ..events import EVENT_KINDS
from ..names import validate_name
from ._context import CliFailure, RegistryGroup, Session, force_hint, json_option, pass_session, print_json
from ._output import aliases_of, event_detail, metadata_lines, print_table, version_document
from ._parse import (
    KeyValue,
    Rfc3339DateTime,
    build_metadata,
    load_metadata_file,
    metric_value,
    pairs_to_dict,
    param_value,
    tag_value,
)

__all__ = ["alias", "history", "models", "register", "resolve", "show", "unregister", "versions"]

at_option = click.option(
    "--at", type=Rfc3339DateTime(), default=None,
    help="Answer as the registry stood at this time (RFC 3339, e.g. 2026-11-20T14:00:00Z; not in the future).",
)


@click.command()
@json_option
@pass_session
def models(session: Session) -> None:
    """List the models with their version counts.

    Example:

    \b
        modelreg models
    """
    found = session.registry().version_counts()  # over HTTP one request, not one per model
    rows = [{"name": name, "versions": count} for name, count in sorted(found.items())]
    if session.as_json:
        print_json(rows)
    elif rows:
        print_table(("NAME", "VERSIONS"), ((r["name"], r["versions"]) for r in rows))
    else:
        click.echo(f"no models in {session.display_url}", err=True)


@click.command()
@click.argument("name")
@at_option
@json_option
@pass_session
def versions(session: Session, name: str, at: datetime | None) -> None:
    """List a model's versions in precedence order (with --at, as they stood then).

    Exits 3 when the model has no versions.

    Example:

    \b
        modelreg versions resnet50
        modelreg versions resnet50 --at 2026-11-20T14:00:00Z
    """
    registry = session.registry()
    found = registry.get_versions(name, at=at)
    if not found:
        when = f" at {at.isoformat()}" if at is not None else ""
        raise CliFailure(f"model {name!r} has no versions{when} (see: modelreg models)", exit_code=3)
    aliases = registry.get_aliases(name, at=at)
    if session.as_json:
        print_json({"name": name, "versions": found, "aliases": aliases, **_at_field(at)})
    else:
        print_table(("VERSION", "ALIASES"), ((v, ", ".join(aliases_of(aliases, v))) for v in found))


@click.command()
@click.argument("name")
@click.argument("version")
@json_option
@pass_session
def show(session: Session, name: str, version: str) -> None:
    """Show all metadata of one version.

    Example:

    \b
        modelreg show resnet50 1.4.2
    """
    registry = session.registry()
    metadata = registry.get_metadata(name, version)
    aliases = aliases_of(registry.get_aliases(name), metadata.version)
    if session.as_json:
        print_json(version_document(name, metadata, aliases))
    else:
        click.echo("\n".join(metadata_lines(name, metadata, aliases)))


@click.command()
@click.argument("name")
@click.argument("version")
@click.option("--artifact", metavar="PATH", help="Where the model's artifact lives (URI or path).")
@click.option(
    "--metric",
    "metrics",
    multiple=True,
    type=KeyValue(metric_value, "top1=0.761"),
    help="A performance metric, NAME=NUMBER; repeat for more.",
)
@click.option(
    "--param",
    "params",
    multiple=True,
    type=KeyValue(param_value, "lr=0.01"),
    help='A hyperparameter, NAME=VALUE; VALUE is JSON when it parses (0.01, true, [1,2], "1"), else text.',
)
@click.option("--tag", "tags", multiple=True, type=KeyValue(tag_value, "team=vision"), help="A tag, KEY=TEXT.")
@click.option("--description", help="Free text about this version.")
@click.option("--trained-at", type=Rfc3339DateTime(), help="When it was trained (RFC 3339; default: now, UTC).")
@click.option(
    "--from-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Read metadata fields from a .json or .yaml file; options given here override its fields.",
)
@json_option
@pass_session
def register(
    session: Session,
    name: str,
    version: str,
    artifact: str | None,
    metrics: tuple[tuple[str, Any], ...],
    params: tuple[tuple[str, Any], ...],
    tags: tuple[tuple[str, str], ...],
    description: str | None,
    trained_at: datetime | None,
    from_file: Path | None,
) -> None:
    """Register a new version of a model with its metadata.

    Example:

    \b
        modelreg register resnet50 1.4.2 --artifact s3://models/resnet50/1.4.2 \\
            --metric top1=0.761 --param lr=0.01 --param layers=50 --tag team=vision
    """
    metadata = build_metadata(
        load_metadata_file(from_file) if from_file is not None else {},
        artifact=artifact,
        metrics=pairs_to_dict(metrics, "--metric"),
        params=pairs_to_dict(params, "--param"),
        tags=pairs_to_dict(tags, "--tag"),
        description=description,
        trained_at=trained_at,
    )
    stored = session.registry().register_model(name, version, metadata)
    if session.as_json:
        print_json(version_document(name, stored, []))
    else:
        click.echo(f"registered {name} {stored.version}")


@click.command()
@click.argument("name")
@click.argument("version")
@click.option("--force", is_flag=True, help="Also remove aliases that point at this version.")
@json_option
@pass_session
def unregister(session: Session, name: str, version: str, force: bool) -> None:
    """Remove a version. Refused while an alias points at it, unless --force.

    Example:

    \b
        modelreg unregister resnet50 1.4.2
    """
    registry = session.registry()
    try:
        canonical = registry.get_metadata(name, version).version
        registry.unregister_model(name, version, force=force)
    except VersionInUseError as exc:
        raise force_hint(exc) from exc  # the library's message speaks of its keyword argument
    if session.as_json:
        print_json({"name": name, "version": canonical, "unregistered": True})
    else:
        click.echo(f"unregistered {name} {canonical}")


@click.command()
@click.argument("name")
@click.argument("spec")
@at_option
@json_option
@pass_session
def resolve(session: Session, name: str, spec: str, at: datetime | None) -> None:
    """Print the version that a range, 'latest' or an alias names (with --at, named then).

    With --json, its metadata too (the current metadata; none for a version unregistered since).

    SPEC is a range such as '^1.2', '~1.2.3', '>=1.0.0 <2.0.0', '1.x', or 'latest', or an alias.

    Example:

    \b
        modelreg resolve resnet50 '^1.2'
        modelreg resolve resnet50 production --at 2026-11-20T14:00:00Z --json
    """
    registry = session.registry()
    found = registry.resolve(name, spec, at=at)
    if not session.as_json:
        click.echo(found)
        return
    try:
        metadata = registry.get_metadata(name, found)
    except VersionNotFoundError:
        if at is None:
            raise
        print_json({"spec": spec, "name": name, "version": found, "unregistered": True, **_at_field(at)})
        return
    aliases = aliases_of(registry.get_aliases(name, at=at), metadata.version)
    print_json({"spec": spec, **_at_field(at), **version_document(name, metadata, aliases)})


def _at_field(at: datetime | None) -> dict[str, str]:
    """``{"at": ...}`` for --json output of a time-travel answer, nothing otherwise."""
    return {} if at is None else {"at": at.isoformat()}


@click.command()
@click.argument("name")
@click.option("--version", "version", metavar="VERSION", help="Only this version's changes.")
@click.option("--kind", "kinds", multiple=True, type=click.Choice(EVENT_KINDS),
              help="Only changes of this kind (repeatable).")
@json_option
@pass_session
def history(session: Session, name: str, version: str | None, kinds: tuple[str, ...]) -> None:
    """List the changes made to a model, oldest first.

    Exits 3 when the registry has no history for the model (as 'versions' does for no versions).

    Example:

    \b
        modelreg history resnet50
        modelreg history resnet50 --kind alias_set --kind alias_removed
        modelreg history resnet50 --version 1.4.2
    """
    registry = session.registry()
    filtered = version is not None or bool(kinds)
    events = registry.history(name, version=version, kinds=kinds or None)
    if not events and not registry.get_versions(name) and not (filtered and registry.history(name)):
        raise CliFailure(f"model {name!r} has no history and no versions (see: modelreg models)", exit_code=3)
    if session.as_json:
        print_json([event.to_dict() for event in events])
    elif events:
        rows: list[tuple[object, ...]] = [
            (e.revision, e.at.isoformat(timespec="seconds"), e.kind, e.version, e.alias, e.actor, event_detail(e))
            for e in events
        ]
        headers: tuple[str, ...] = ("REV", "AT", "KIND", "VERSION", "ALIAS", "ACTOR", "DETAIL")
        if not any(row[-1] for row in rows):  # the column only when some change has a detail to show
            headers, rows = headers[:-1], [row[:-1] for row in rows]
        print_table(headers, rows)
    elif filtered:
        click.echo(f"no changes of model {name!r} match the filter", err=True)
    else:  # versions but no events: memory:// keeps only the latest ones
        click.echo(f"no history kept for model {name!r}", err=True)


@click.group(cls=RegistryGroup)
def alias() -> None:
    """Set, remove and list aliases such as 'production'.

    Example:

    \b
        modelreg alias set resnet50 production 1.4.2
    """


@alias.command("set")
@click.argument("name")
@click.argument("alias_name", metavar="ALIAS")
@click.argument("version")
@json_option
@pass_session
def alias_set(session: Session, name: str, alias_name: str, version: str) -> None:
    """Point ALIAS at VERSION, moving it if it already points elsewhere.

    Example:

    \b
        modelreg alias set resnet50 production 1.4.2
    """
    registry = session.registry()
    registry.set_alias(name, alias_name, version)
    target = registry.get_aliases(name).get(alias_name, version)
    if session.as_json:
        print_json({"name": name, "alias": alias_name, "version": target})
    else:
        click.echo(f"{name} {alias_name} -> {target}")


@alias.command("rm")
@click.argument("name")
@click.argument("alias_name", metavar="ALIAS")
@json_option
@pass_session
def alias_rm(session: Session, name: str, alias_name: str) -> None:
    """Remove an alias (the version it pointed at stays).

    Example:

    \b
        modelreg alias rm resnet50 staging
    """
    session.registry().remove_alias(name, alias_name)
    if session.as_json:
        print_json({"name": name, "alias": alias_name, "removed": True})
    else:
        click.echo(f"removed alias {alias_name} of {name}")


@alias.command("ls")
@click.argument("name")
@at_option
@json_option
@pass_session
def alias_ls(session: Session, name: str, at: datetime | None) -> None:
    """List a model's aliases and the versions they point at (with --at, as they stood then).

    Example:

    \b
        modelreg alias ls resnet50
        modelreg alias ls resnet50 --at 2026-11-20T14:00:00Z
    """
    validate_name(name)
    aliases = session.registry().get_aliases(name, at=at)
    if session.as_json:
        print_json({"name": name, "aliases": aliases, **_at_field(at)})
    elif aliases:
        print_table(("ALIAS", "VERSION"), sorted(aliases.items()))
    else:
        when = f" at {at.isoformat()}" if at is not None else ""
        click.echo(f"model {name!r} has no aliases{when}", err=True)
