"""Annotations: what a change to a version's or a model's description, tags and metrics does.

A request is checked for types first; against the current value it becomes a
``detail`` that holds only what changes (empty: the annotation is a no-op). One
function applies a detail, used by the write (to validate and build the new
value) and by the transitions (to replay a stored event), so they cannot differ.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import MetadataError
from .metadata import ModelMetadata, validate_record

__all__ = ["Request", "annotated_metadata", "annotated_record", "metadata_detail", "record_detail", "request"]

_NOTHING = "nothing to annotate: give description, set_tags, remove_tags"


@dataclass(frozen=True, slots=True)
class Request:
    """An annotation's arguments, type-checked."""

    description: str | None
    set_tags: Mapping[str, Any]
    remove_tags: tuple[str, ...]
    add_metrics: Mapping[str, Any]


def request(
    description: object,
    set_tags: object,
    remove_tags: object,
    add_metrics: object = None,
    *,
    metrics: bool = True,
) -> Request:
    """The arguments of ``annotate`` (``metrics``) or ``annotate_model``; TypeError or MetadataError if bad."""
    if description is not None and not isinstance(description, str):
        raise TypeError(f"description must be a str or None, not {type(description).__name__}")
    tags = _mapping("set_tags", set_tags)
    if isinstance(remove_tags, str | bytes) or not isinstance(remove_tags, Iterable):
        raise TypeError(f"remove_tags must be an iterable of tag names such as ['wip'], not {remove_tags!r:.80}")
    removed = tuple(remove_tags)
    for key in removed:
        if not isinstance(key, str):
            raise TypeError(f"remove_tags must hold tag names (str), not {type(key).__name__}")
    both = sorted(set(removed) & set(tags))
    if both:
        raise MetadataError(f"tag(s) {', '.join(map(repr, both))} are both set and removed; choose one")
    added = _mapping("add_metrics", add_metrics)
    if description is None and not tags and not removed and not added:
        raise MetadataError(_NOTHING + (" or add_metrics" if metrics else ""))
    return Request(description, tags, removed, added)


def _mapping(what: str, value: object) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise TypeError(f"{what} must be a mapping (dict) or None, not {type(value).__name__}")
    return dict(value)


def _text_changes(description: str, tags: Mapping[str, str], req: Request) -> dict[str, Any]:
    detail: dict[str, Any] = {}
    if req.description is not None and req.description != description:
        detail["description"] = req.description
    set_tags = {key: value for key, value in req.set_tags.items() if tags.get(key) != value or key not in tags}
    if set_tags:
        detail["set_tags"] = set_tags
    removed = sorted({key for key in req.remove_tags if key in tags})
    if removed:
        detail["remove_tags"] = removed
    return detail


def metadata_detail(meta: ModelMetadata, req: Request, where: str) -> dict[str, Any]:
    """What ``req`` changes on a version's metadata (``where`` names it); MetadataError if it changes a metric."""
    detail = _text_changes(meta.description, meta.tags, req)
    added: dict[str, Any] = {}
    for key, value in req.add_metrics.items():
        old = meta.performance_metrics.get(key) if isinstance(key, str) else None
        if old is None:
            added[key] = value
        elif isinstance(value, bool) or not isinstance(value, int | float) or value != old:
            raise MetadataError(
                f"metric {key!r} of {where} is already recorded as {old!r}, and a recorded metric never changes "
                f"(not to {value!r}); register a new version, or add the number under another metric name"
            )
    if added:
        detail["add_metrics"] = added
    if detail:  # validated like a registration, and the numbers stored exactly as the metadata holds them
        new = annotated_metadata(meta, detail)
        if added:
            detail["add_metrics"] = {key: new.performance_metrics[key] for key in added}
    return detail


def annotated_metadata(meta: ModelMetadata, detail: Mapping[str, Any]) -> ModelMetadata:
    """``meta`` with ``detail`` applied, built (and so validated) through ModelMetadata."""
    tags = _apply_tags(meta.tags, detail)
    metrics = dict(meta.performance_metrics)
    metrics.update(detail.get("add_metrics", {}))
    return ModelMetadata(
        training_date=meta.training_date,
        artifact_path=meta.artifact_path,
        hyperparameters=meta.hyperparameters,
        performance_metrics=metrics,
        description=detail.get("description", meta.description),
        tags=tags,
        version=meta.version,
    )


def record_detail(description: str, tags: Mapping[str, str], req: Request) -> dict[str, Any]:
    """What ``req`` changes on a model record; validated like a version's description and tags."""
    detail = _text_changes(description, tags, req)
    if detail:
        annotated_record(description, tags, detail)
    return detail


def annotated_record(
    description: str, tags: Mapping[str, str], detail: Mapping[str, Any]
) -> tuple[str, Mapping[str, str]]:
    """A model record's description and tags with ``detail`` applied, validated."""
    return validate_record(detail.get("description", description), _apply_tags(tags, detail))


def _apply_tags(tags: Mapping[str, str], detail: Mapping[str, Any]) -> dict[str, str]:
    out = dict(tags)
    out.update(detail.get("set_tags", {}))
    for key in detail.get("remove_tags", ()):
        out.pop(key, None)
    return out
