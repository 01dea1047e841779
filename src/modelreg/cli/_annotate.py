"""``modelreg annotate`` and ``modelreg model show|annotate|delete``: descriptions, tags, added metrics, records."""

from __future__ import annotations

from typing import Any

import click

from ..errors import VersionInUseError
from ..records import ModelInfo
from ._context import RegistryGroup, Session, force_hint, json_option, pass_session, print_json
from ._output import aliases_of, metadata_lines, model_document, model_lines, version_document
from ._parse import KeyValue, metric_value, pairs_to_dict, tag_value

__all__ = ["annotate", "model"]

_TAG = KeyValue(tag_value, "team=vision")


def _require_one(option_names: str, *given: object) -> None:
    """An annotation that changes nothing is a usage mistake, not a silent no-op."""
    if all(value is None or value == () for value in given):
        raise click.UsageError(f"nothing to change: give at least one of {option_names}")


@click.command()
@click.argument("name")
@click.argument("version")
@click.option("--description", metavar="TEXT", help="Replace the description ('' clears it).")
@click.option("--tag", "tags", multiple=True, type=_TAG, help="Set a tag, KEY=TEXT; repeat for more.")
@click.option("--untag", "untags", multiple=True, metavar="KEY", help="Remove a tag; repeat for more.")
@click.option(
    "--metric",
    "metrics",
    multiple=True,
    type=KeyValue(metric_value, "imagenet_v2_top1=0.69"),
    help="Add a metric, NAME=NUMBER; a metric already recorded cannot change (exit 5).",
)
@json_option
@pass_session
def annotate(
    session: Session,
    name: str,
    version: str,
    description: str | None,
    tags: tuple[tuple[str, str], ...],
    untags: tuple[str, ...],
    metrics: tuple[tuple[str, Any], ...],
) -> None:
    """Describe a version, tag it, or add metrics measured after registration; print its metadata.

    Recorded facts never change: a metric already recorded, the training
    date, the hyperparameters and the artifact path stay as registered.

    Example:

    \b
        modelreg annotate resnet50 2.1.0 --description 'Fine-tuned on ImageNet-V2' \\
            --tag team=vision --untag wip --metric imagenet_v2_top1=0.69
    """
    _require_one("--description, --tag, --untag, --metric", description, tags, untags, metrics)
    registry = session.registry()
    metadata = registry.annotate(
        name,
        version,
        description=description,
        set_tags=pairs_to_dict(tags, "--tag") or None,
        remove_tags=untags,
        add_metrics=pairs_to_dict(metrics, "--metric") or None,
    )
    aliases = aliases_of(registry.get_aliases(name), metadata.version)
    if session.as_json:
        print_json(version_document(name, metadata, aliases))
    else:
        click.echo("\n".join(metadata_lines(name, metadata, aliases)))


@click.group(cls=RegistryGroup)
def model() -> None:
    """Show, describe and delete a model as a whole (every version of it).

    Example:

    \b
        modelreg model show resnet50
    """


@model.command("show")
@click.argument("name")
@json_option
@pass_session
def model_show(session: Session, name: str) -> None:
    """Show a model's record: description, tags, version count, latest version, aliases.

    Exits 3 when the model has no versions.

    Example:

    \b
        modelreg model show resnet50
    """
    _print_model(session, session.registry().get_model(name))


@model.command("annotate")
@click.argument("name")
@click.option("--description", metavar="TEXT", help="Replace the model's description ('' clears it).")
@click.option("--tag", "tags", multiple=True, type=_TAG, help="Set a tag of the model, KEY=TEXT; repeat for more.")
@click.option("--untag", "untags", multiple=True, metavar="KEY", help="Remove a tag of the model; repeat for more.")
@json_option
@pass_session
def model_annotate(
    session: Session, name: str, description: str | None, tags: tuple[tuple[str, str], ...], untags: tuple[str, ...]
) -> None:
    """Describe or tag a model (not one version: see 'modelreg annotate'); print its record.

    Example:

    \b
        modelreg model annotate resnet50 --description 'ImageNet classifiers' --tag owner=vision
    """
    _require_one("--description, --tag, --untag", description, tags, untags)
    info = session.registry().annotate_model(
        name, description=description, set_tags=pairs_to_dict(tags, "--tag") or None, remove_tags=untags
    )
    _print_model(session, info)


def _print_model(session: Session, info: ModelInfo) -> None:
    """A model record as ``model show`` prints it (text, or JSON with --json)."""
    if session.as_json:
        print_json(model_document(info))
    else:
        click.echo("\n".join(model_lines(info)))


@model.command("delete")
@click.argument("name")
@click.option("--force", is_flag=True, help="Also remove the model's aliases (refused while any exist otherwise).")
@json_option
@pass_session
def model_delete(session: Session, name: str, force: bool) -> None:
    """Delete a model: EVERY version of it, in one transaction, with no prompt.

    Scripts run it, so it does not ask for confirmation. Refused (exit 4)
    while any alias of the model exists, unless --force, which removes
    the aliases too. Each removed version and alias is an event in the
    model's history. Exits 3 when the model has no versions.

    Example:

    \b
        modelreg model delete resnet50-experiments --force
    """
    registry = session.registry()
    count = registry.get_model(name).version_count  # for the message; also exits 3 for an unknown model
    try:
        registry.delete_model(name, force=force)
    except VersionInUseError as exc:
        raise force_hint(exc) from exc
    if session.as_json:
        print_json({"name": name, "deleted": True, "versions": count})
    else:
        click.echo(f"deleted model {name} and its {count} version{'s' if count != 1 else ''}")
