"""Handlers for search, annotations and model records: each turns a request into one registry call."""

from __future__ import annotations

import functools

from .._paths import PAGE_LIMIT
from ..errors import QueryError
from ..metadata import ModelMetadata
from ..records import ModelInfo, SearchPage, VersionRecord
from .auth import Role
from .call import Call, MetadataBodies, Reply, dumps
from .inputs import ANNOTATION_KEYS, MODEL_ANNOTATION_KEYS, annotation, flag, json_object
from .paging import DEFAULT_LIMIT
from .scopes import scoped_search

__all__ = ["annotate", "annotate_model", "delete_model", "get_model", "model_json", "search"]

SEARCH_QUERY = frozenset({"where", "name", "order_by", "limit", "cursor"})
"""The query parameters of ``GET /api/v1/search``."""


def _search_limit(text: str | None) -> int:
    """``limit`` as an int; the registry checks its range (a QueryError naming it, as in-process)."""
    if text is None:
        return DEFAULT_LIMIT
    if not (text.isascii() and text.isdigit() and len(text) <= 9):
        raise QueryError(f"limit must be a whole number from 1 to {PAGE_LIMIT}, not {text[:40]!r}")
    return int(text)


async def search(call: Call) -> Reply:
    """GET /api/v1/search?where=&name=&order_by=&limit=&cursor= from the registry's in-memory snapshot."""
    query = call.query
    find = functools.partial(
        scoped_search, call.registry, call, query.get("where", ""), name=query.get("name"),
        order_by=query.get("order_by", ""), limit=_search_limit(query.get("limit")), cursor=query.get("cursor"),
    )
    # A worker thread: a scan (and encoding up to 1000 items) must not hold up the event loop's other requests.
    return Reply(200, await call.run(_page_json, call, find))


def _page_json(call: Call, find: functools.partial[SearchPage]) -> bytes:
    page = find()
    items = b",".join(map(call.app.record_bodies.body, page.items))
    return b'{"items":[%s],"next_cursor":%s,"total":%d}' % (items, dumps(page.next_cursor), page.total)


def record_json(bodies: MetadataBodies, record: VersionRecord) -> bytes:
    """The version's metadata JSON (from ``bodies``) with its name, aliases and registration spliced in."""
    meta = bodies.body(record.metadata)
    extra = dumps({"name": record.name, "aliases": list(record.aliases),
                   "registered_at": record.registered_at.isoformat(), "registered_by": record.registered_by})
    return meta[:-1] + b"," + extra[1:]  # metadata JSON is a non-empty object, so '{...}' + ',' + '...}'


def model_json(info: ModelInfo) -> bytes:
    """A model record as the API answers it."""
    return dumps({
        "name": info.name, "description": info.description, "tags": dict(info.tags),
        "version_count": info.version_count, "latest": info.latest, "aliases": dict(info.aliases),
        "created_at": info.created_at.isoformat(), "updated_at": info.updated_at.isoformat(),
    })


async def annotate(call: Call, name: str, version: str) -> Reply:
    """PATCH /api/v1/models/{name}/versions/{version} with description/set_tags/remove_tags/add_metrics."""
    fields = annotation(await json_object(call), ANNOTATION_KEYS)
    stored: ModelMetadata = await call.write(functools.partial(call.registry.annotate, name, version, **fields))
    return Reply(200, call.app.bodies.body(stored))


def get_model(call: Call, name: str) -> Reply:
    """GET /api/v1/models/{name}"""
    return Reply(200, model_json(call.registry.get_model(name)))


async def annotate_model(call: Call, name: str) -> Reply:
    """PATCH /api/v1/models/{name} with description/set_tags/remove_tags."""
    fields = annotation(await json_object(call), MODEL_ANNOTATION_KEYS)
    info: ModelInfo = await call.write(functools.partial(call.registry.annotate_model, name, **fields))
    return Reply(200, model_json(info))


async def delete_model(call: Call, name: str) -> Reply:
    """DELETE /api/v1/models/{name}[?force=true]: every version (force, admin only, also removes its aliases)."""
    force = flag(call.query, "force")
    if force:
        call.require(Role.ADMIN, "deleting a model with force=true")
    await call.write(call.registry.delete_model, name, force)
    return Reply(204)
