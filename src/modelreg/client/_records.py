"""The client's side of search, annotations and model records: argument checks and the answers read back.

Arguments are checked here as the library checks them, before any request; answers are
rebuilt as the library's frozen values (``VersionRecord``, ``SearchPage``, ``ModelInfo``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from .._annotations import request
from .._frozen import frozen_dict, frozen_list
from .._paths import PAGE_LIMIT
from .._travel import aware_at
from ..errors import MetadataError, QueryError
from ..metadata import ModelMetadata
from ..names import validate_name
from ..records import ModelInfo, SearchPage, VersionRecord

__all__ = ["annotation_body", "at_param", "model_info", "search_page", "search_params"]


def search_params(where: object, name: object, order_by: object, limit: object, cursor: object) -> dict[str, str]:
    """The query parameters of ``GET /api/v1/search``; TypeError for a wrong type, QueryError for a bad limit."""
    params: dict[str, str] = {}
    if not isinstance(where, str):
        raise TypeError(f"where must be a str, not {type(where).__name__}")
    if not isinstance(order_by, str):
        raise TypeError(f"order_by must be a str, not {type(order_by).__name__}")
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise TypeError(f"limit must be an int, not {type(limit).__name__}")
    if not 1 <= limit <= PAGE_LIMIT:
        raise QueryError(f"limit must be from 1 to {PAGE_LIMIT}, not {limit}")
    if cursor is not None and not isinstance(cursor, str):
        raise TypeError(f"cursor must be a str or None, not {type(cursor).__name__}")
    if name is not None:
        params["name"] = validate_name(name)
    if where:
        params["where"] = where
    if order_by:
        params["order_by"] = order_by
    params["limit"] = str(limit)
    if cursor is not None:
        params["cursor"] = cursor
    return params


def annotation_body(
    description: object, set_tags: object, remove_tags: object, add_metrics: object = None, *, metrics: bool = True
) -> dict[str, Any]:
    """The JSON body of an annotation: only the fields given, checked by the library's own rules first."""
    req = request(description, set_tags, remove_tags, add_metrics, metrics=metrics)
    body: dict[str, Any] = {}
    if req.description is not None:
        body["description"] = req.description
    if req.set_tags:
        for key, value in req.set_tags.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise MetadataError(f"set_tags[{key!r}] is {type(value).__name__}; tags map a str to a str")
        body["set_tags"] = dict(req.set_tags)
    if req.remove_tags:
        body["remove_tags"] = list(req.remove_tags)
    if req.add_metrics:
        body["add_metrics"] = _metrics(req.add_metrics)
    return body


def _metrics(value: Mapping[str, Any]) -> dict[str, Any]:
    """Numbers JSON carries exactly; the server checks the rest (limits, exact floats, recorded metrics)."""
    for key, number in value.items():
        if not isinstance(key, str):
            raise MetadataError(f"add_metrics key {key!r} must be a str")
        if isinstance(number, bool) or not isinstance(number, (int, float)):
            raise MetadataError(f"add_metrics[{key!r}] is {type(number).__name__}; metrics must be numbers")
        if isinstance(number, float) and not math.isfinite(number):
            raise MetadataError(f"add_metrics[{key!r}] is {number!r}; metrics must be finite numbers")
    return dict(value)


def _aware(text: object, what: str) -> datetime:
    if not isinstance(text, str):
        raise ValueError(f"{what} is not a date and time")
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError(f"{what} {text!r} has no UTC offset")
    return value


def _record(data: Any) -> VersionRecord:
    if not isinstance(data, dict):
        raise ValueError("a search item is not an object")
    fields = {key: data.pop(key, None) for key in ("name", "aliases", "registered_at", "registered_by")}
    aliases = fields["aliases"]
    if not isinstance(fields["name"], str) or not isinstance(aliases, list) or not all(
        isinstance(a, str) for a in aliases
    ):
        raise ValueError("a search item lacks its name or aliases")
    actor = fields["registered_by"]
    if actor is not None and not isinstance(actor, str):
        raise ValueError("a search item's registered_by is not a string")
    metadata = ModelMetadata.from_dict(data)
    return VersionRecord(
        name=fields["name"], version=str(metadata.version), metadata=metadata, aliases=tuple(aliases),
        registered_at=_aware(fields["registered_at"], "registered_at"), registered_by=actor,
    )


def search_page(data: Any) -> SearchPage:
    """A ``GET /api/v1/search`` answer as a SearchPage (ValueError if it is not one)."""
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        raise ValueError("the answer has no list 'items'")
    next_cursor, total = data.get("next_cursor"), data.get("total")
    if next_cursor is not None and not isinstance(next_cursor, str):
        raise ValueError("next_cursor is not a string")
    if isinstance(total, bool) or not isinstance(total, int):
        raise ValueError("total is not a number")
    return SearchPage(items=frozen_list([_record(item) for item in data["items"]]), next_cursor=next_cursor,
                      total=total)


def model_info(data: Any) -> ModelInfo:
    """A model record answer as a ModelInfo (ValueError if it is not one)."""
    if not isinstance(data, dict):
        raise ValueError("the model record is not an object")
    name, description, count, latest = (data.get(k) for k in ("name", "description", "version_count", "latest"))
    tags, aliases = data.get("tags"), data.get("aliases")
    if not (isinstance(name, str) and isinstance(description, str) and type(count) is int
            and (latest is None or isinstance(latest, str)) and _str_map(tags) and _str_map(aliases)):
        raise ValueError("the model record lacks a field or has one of the wrong type")
    return ModelInfo(
        name=name, description=description, tags=frozen_dict(tags), version_count=count, latest=latest,
        aliases=frozen_dict(aliases), created_at=_aware(data.get("created_at"), "created_at"),
        updated_at=_aware(data.get("updated_at"), "updated_at"),
    )


def _str_map(value: object) -> bool:
    return isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())


def at_param(at: datetime | None) -> dict[str, str] | None:
    """``at`` as the RFC 3339 query parameter (naive refused here; the server refuses a future time)."""
    if at is None:
        return None
    return {"at": aware_at(at).isoformat()}
