"""``?at=RFC3339`` on the versions, aliases and resolve routes: answers as the registry stood then.

Time travel reads the model's events (a query on a durable store), so these run in a worker
thread; the routes without ``at`` stay plain snapshot reads.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import datetime

from .._dates import parse_timestamp
from ..errors import VersionNotFoundError
from .call import Call, Reply, dumps
from .problems import HTTPProblem

__all__ = ["past_aliases", "past_resolve", "past_versions", "query_at"]


def query_at(query: Mapping[str, str]) -> datetime:
    """The ``at`` query parameter as an aware datetime; 400 naming the parameter and the forms accepted."""
    try:
        return parse_timestamp(query["at"])
    except ValueError as exc:
        raise HTTPProblem("invalid_parameter", f"query parameter 'at' {exc}") from None


async def past_versions(call: Call, name: str, at: datetime) -> Reply:
    """GET /api/v1/models/{name}/versions?at=T: the versions held at T (never paged)."""
    versions = await call.run(functools.partial(call.registry.get_versions, name, at=at))
    return Reply(200, dumps({"name": name, "versions": versions}))


async def past_aliases(call: Call, name: str, at: datetime) -> Reply:
    """GET /api/v1/models/{name}/aliases?at=T"""
    aliases = await call.run(functools.partial(call.registry.get_aliases, name, at=at))
    return Reply(200, dumps({"name": name, "aliases": aliases}))


async def past_resolve(call: Call, name: str, spec: str, at: datetime) -> Reply:
    """GET /api/v1/models/{name}/resolve?spec=S&at=T: the version S named at T, with its metadata if still held.

    A version unregistered since has no metadata left to send: then ``{"name", "version", "unregistered": true}``.
    """
    version = await call.run(functools.partial(call.registry.resolve, name, spec, at=at))
    try:
        metadata = call.registry.get_metadata(name, version)
    except VersionNotFoundError:
        return Reply(200, dumps({"name": name, "version": version, "unregistered": True}))
    return Reply(200, call.app.bodies.body(metadata))
