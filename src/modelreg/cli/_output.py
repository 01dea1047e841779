"""Human-readable output: aligned tables, metadata listings, one-line events."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import click

from ..events import RegistryEvent
from ..metadata import ModelMetadata

__all__ = ["event_line", "metadata_lines", "print_table", "version_document"]


def print_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """Print rows under headers, columns padded to their widest cell."""
    cells = [[str(c) for c in headers], *([("" if c is None else str(c)) for c in row] for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in cells:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def version_document(name: str, metadata: ModelMetadata, aliases: Sequence[str]) -> dict[str, Any]:
    """The JSON shape of one version (``show``, ``register``, ``resolve``)."""
    return {"name": name, "version": metadata.version, "aliases": list(aliases), "metadata": metadata.to_dict()}


def _json_value(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _mapping_lines(title: str, mapping: Mapping[str, Any], show: Any) -> list[str]:
    if not mapping:
        return [f"{title}: (none)"]
    width = max(len(key) for key in mapping)
    return [f"{title}:"] + [f"  {key.ljust(width)}  {show(value)}" for key, value in mapping.items()]


def metadata_lines(name: str, metadata: ModelMetadata, aliases: Sequence[str]) -> list[str]:
    """``show``'s listing: one field a line, mappings indented below their title."""
    lines = [
        f"name:        {name}",
        f"version:     {metadata.version}",
        f"aliases:     {', '.join(aliases) if aliases else '(none)'}",
        f"trained at:  {metadata.training_date.isoformat()}",
        f"artifact:    {metadata.artifact_path}",
        f"description: {' '.join(metadata.description.splitlines()) if metadata.description else '(none)'}",
    ]
    lines += _mapping_lines("metrics", metadata.performance_metrics, repr)
    # JSON for parameters, so "1" (text) and 1 (number) stay distinguishable, as --param takes them.
    lines += _mapping_lines("hyperparameters", metadata.to_dict()["hyperparameters"], _json_value)
    lines += _mapping_lines("tags", metadata.tags, str)
    return lines


def event_line(event: RegistryEvent) -> str:
    """One event on one line: revision, time, kind, model, version, alias, actor."""
    parts = [f"r{event.revision}", event.at.isoformat(timespec="seconds"), event.kind, event.name]
    if event.version is not None:
        parts.append(event.version)
    if event.alias is not None:
        parts.append(f"alias={event.alias}")
    if event.actor is not None:
        parts.append(f"by={event.actor}")
    return " ".join(parts)
