"""Human-readable output: aligned tables, metadata listings, one-line events."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import click

from ..events import RegistryEvent
from ..metadata import ModelMetadata
from ..records import ModelInfo, VersionRecord

__all__ = [
    "aliases_of",
    "event_detail",
    "event_line",
    "metadata_lines",
    "model_document",
    "model_lines",
    "print_table",
    "record_document",
    "version_document",
]


def aliases_of(aliases: Mapping[str, str], version: str | None) -> list[str]:
    """The aliases (of a model's alias -> version mapping) that point at ``version``, sorted."""
    return sorted(a for a, v in aliases.items() if v == version)


def print_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """Print rows under headers, columns padded to their widest cell."""
    cells = [[str(c) for c in headers], *([("" if c is None else str(c)) for c in row] for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in cells:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def version_document(name: str, metadata: ModelMetadata, aliases: Sequence[str]) -> dict[str, Any]:
    """The JSON shape of one version (``show``, ``register``, ``resolve``)."""
    return {"name": name, "version": metadata.version, "aliases": list(aliases), "metadata": metadata.to_dict()}


def record_document(record: VersionRecord) -> dict[str, Any]:
    """The JSON shape of one search result: ``show``'s, plus who registered it and when."""
    return {
        **version_document(record.name, record.metadata, record.aliases),
        "registered_at": record.registered_at.isoformat(),
        "registered_by": record.registered_by,
    }


def model_document(info: ModelInfo) -> dict[str, Any]:
    """The JSON shape of a model's record (``model show``, ``model annotate``)."""
    return {
        "name": info.name,
        "description": info.description,
        "tags": dict(info.tags),
        "version_count": info.version_count,
        "latest": info.latest,
        "aliases": dict(info.aliases),
        "created_at": info.created_at.isoformat(),
        "updated_at": info.updated_at.isoformat(),
    }


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


def model_lines(info: ModelInfo) -> list[str]:
    """``model show``'s listing, in the layout of ``show``'s."""
    lines = [
        f"name:        {info.name}",
        f"description: {' '.join(info.description.splitlines()) if info.description else '(none)'}",
        f"versions:    {info.version_count}",
        f"latest:      {info.latest or '(none)'}",
        f"created at:  {info.created_at.isoformat()}",
        f"updated at:  {info.updated_at.isoformat()}",
    ]
    lines += _mapping_lines("aliases", dict(sorted(info.aliases.items())), str)
    lines += _mapping_lines("tags", info.tags, str)
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
    detail = event_detail(event)
    if detail:
        parts.append(f"({detail})")
    return " ".join(parts)


def _one_line(text: str, limit: int = 80) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _request(detail: Mapping[str, Any], lead: str) -> str:
    text = f"{lead} {detail.get('id')}"
    if detail.get("final"):
        text += ", final"
    reason = detail.get("reason")
    return f"{text}: {_one_line(reason)}" if reason else text


def _policy(detail: Mapping[str, Any]) -> str:
    parts = [f"approvals {detail.get('approvals', 0)}"]
    if detail.get("require"):
        parts.append("require " + ", ".join(detail["require"]))
    if detail.get("must_not_regress"):
        parts.append("must not regress " + ", ".join(detail["must_not_regress"]))
    return "; ".join(parts)


def _annotation(detail: Mapping[str, Any]) -> str:
    parts = []
    if "description" in detail:
        parts.append("description")
    parts += [f"+tag {key}" for key in detail.get("set_tags") or {}]
    parts += [f"-tag {key}" for key in detail.get("remove_tags") or ()]
    parts += [f"+metric {key}" for key in detail.get("add_metrics") or {}]
    return ", ".join(parts)


def event_detail(event: RegistryEvent) -> str:
    """What an event's detail says, in a few words: the request id and reason, "final", a policy's rules."""
    detail = event.detail
    if detail is None:
        return ""
    if event.kind == "policy_set":
        return _policy(detail)
    if event.kind == "promotion_requested":
        return _request(detail, "request" if event.version is not None else "removal request")
    if event.kind in ("promotion_approved", "promotion_rejected"):
        return _request(detail, "request")
    if event.kind in ("annotated", "model_annotated"):
        return _annotation(detail)
    return ""
