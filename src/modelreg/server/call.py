"""What a handler gets and returns: ``Call`` (one request), ``Reply``, and the route types the table is made of.

Handlers (``routes.py``) and the app that dispatches to them (``app.py``) both import
this module, and it imports neither: ``App`` names the per-app state a handler reads.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import anyio
import anyio.to_thread
from starlette.responses import Response
from starlette.types import Receive, Scope

from .. import acting_as
from .._deadline import started_at
from ..metadata import ModelMetadata
from ..records import VersionRecord
from ..registry import EventLog, ModelRegistry
from ..webhooks import WebhookStore
from ._delivery import Deliveries
from .auth import Auth, Role, Token
from .metrics import Metrics
from .problems import HTTPProblem
from .scopes import NOWHERE, Scoped
from .sse import EventFeed

__all__ = [
    "JSON",
    "PROBLEM",
    "WRITE_THREADS",
    "App",
    "Call",
    "Endpoint",
    "Handler",
    "MetadataBodies",
    "Reply",
    "Route",
    "dumps",
]

JSON = b"application/json"
PROBLEM = b"application/problem+json"
WRITE_THREADS = 16
"""Registry writes that may run at once, each in a worker thread (see ``Call.write``)."""


@dataclass(slots=True)
class Reply:
    """A complete response: status, body bytes and content type (plus any extra headers)."""

    status: int
    body: bytes = b""
    content_type: bytes = JSON
    headers: list[tuple[bytes, bytes]] | None = None


Handler = Callable[..., Awaitable[Reply | Response] | Reply]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One method of a route: its handler, the role it needs (None: public) and its query parameters.

    Handlers that only read the in-memory snapshot are plain functions, called without a coroutine.
    """

    handler: Handler
    role: Role | None
    query: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Route:
    """A path template from ``modelreg._paths`` (e.g. ``/api/v1/models/{name}/versions``) and its methods."""

    template: str
    methods: Mapping[str, Endpoint]
    segments: tuple[str | None, ...] = ()  # literal segments, None where the template has a parameter
    model: int | None = None  # which path parameter is a model name (``{name}``), if one is

    def __post_init__(self) -> None:
        segments = tuple(None if s.startswith("{") else s for s in self.template.split("/"))
        object.__setattr__(self, "segments", segments)
        parameters = [s for s in self.template.split("/") if s.startswith("{")]
        object.__setattr__(self, "model", parameters.index("{name}") if "{name}" in parameters else None)


_CACHE_BYTES = 32 * 1024 * 1024
T = TypeVar("T")


class BodyCache(Generic[T]):
    """JSON bytes of immutable values, cached by identity; bounded in entries and bytes; one per app.

    The snapshot keeps each stored value (metadata, a version's record) until a write
    replaces it, so a value answered before is encoded once; the identity check keeps a
    reused ``id()`` from matching.
    """

    LARGEST = 65_536
    """Larger bodies are encoded again for each request; the cache holds at most 32 MiB in all."""

    def __init__(self, encode: Callable[[T], bytes], *, limit: int) -> None:
        self._encode = encode
        self._limit = limit
        self._entries: dict[int, tuple[T, bytes]] = {}
        self._bytes = 0

    def body(self, value: T) -> bytes:
        """``value`` as JSON bytes, from the cache when this very object was encoded before."""
        hit = self._entries.get(id(value))
        if hit is not None and hit[0] is value:
            return hit[1]
        body = self._encode(value)
        if len(body) > self.LARGEST:
            return body  # rare, and cheap next to sending it; caching such bodies would let the cache reach gigabytes
        if len(self._entries) >= self._limit or self._bytes + len(body) > _CACHE_BYTES:
            self._entries.clear()  # bounded; the next requests encode again what they need
            self._bytes = 0
        self._entries[id(value)] = (value, body)
        self._bytes += len(body)
        return body


class MetadataBodies(BodyCache[ModelMetadata]):
    """Stored metadata as JSON bytes (what GET, PUT and PATCH of a version answer)."""

    def __init__(self) -> None:
        super().__init__(_metadata_json, limit=4096)


def _metadata_json(meta: ModelMetadata) -> bytes:
    return meta.to_json().encode()


class App(Protocol):
    """The per-app state handlers read, all made when the app is (``app.ModelregApp``)."""

    registry: ModelRegistry
    auth: Auth | None  # None: no tokens configured, every caller is an anonymous admin
    log: EventLog | None  # the registry, when it declares an event log; decided once by create_app
    max_body_bytes: int
    write_limiter: anyio.CapacityLimiter
    bodies: MetadataBodies
    record_bodies: BodyCache[VersionRecord]  # search items: metadata with name, aliases, registration
    metrics: Metrics
    events: EventFeed
    shutting_down: bool
    openapi_json: bytes
    docs_html: bytes
    webhooks: WebhookStore | None  # the registry's, when it declares one (``WebhookHost``); decided by create_app
    deliveries: Deliveries | None  # the delivery threads, when there are webhooks and an event log


class Call(Scoped):
    """What a handler gets: the app, the request scope, parsed query, and who is calling.

    ``role`` starts as None (refused by ``require``): only the app's auth decision grants one.
    ``models`` is the caller's scope (``Scoped``): None, every model.
    """

    __slots__ = ("_registry", "actor", "app", "models", "query", "receive", "role", "scope")

    def __init__(self, app: App, scope: Scope, receive: Receive, query: Mapping[str, str]) -> None:
        self.app = app
        self.scope = scope
        self.receive = receive
        self.query = query
        self.actor = "anonymous"
        self.role: Role | None = None
        self.models: tuple[str, ...] | None = None
        self._registry = app.registry

    def identify(self, token: Token) -> None:
        """Act as ``token``: its name, role and model scope."""
        self.actor, self.role, self.models = token.name, token.role, token.models

    def enter(self, name: str) -> None:
        """Serve this request about model ``name``: from an empty registry when the caller may not see it.

        The one place a single-model request is scoped: an unseen model then answers every read and
        write exactly as a model that does not exist, so nothing tells it apart; creating it is refused.
        """
        if not self.visible(name):
            self._registry = NOWHERE

    @property
    def registry(self) -> ModelRegistry:
        """The registry this request reads and writes (empty for a model outside the caller's scope)."""
        return self._registry

    def header(self, name: bytes) -> str | None:
        """A request header's value (``name`` lower-case), or None."""
        for key, value in self.scope["headers"]:
            if key == name:
                return str(value.decode("latin-1"))
        return None

    def require(self, role: Role, what: str) -> None:
        """Raise 403 unless the caller's role is at least ``role`` (a call granted no role has none)."""
        if self.role is None or self.role < role:
            held = "no role" if self.role is None else self.role.name.lower()
            raise HTTPProblem(
                "forbidden", f"{what} needs the {role.name.lower()} role; token {self.actor!r} has {held}"
            )

    async def body(self) -> bytes:
        """The request body, refused with 413 as soon as it passes the app's limit."""
        limit = self.app.max_body_bytes
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                raise HTTPProblem("invalid_json", "the client disconnected before sending the whole body")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise too_large(limit)
            chunks.append(chunk)
            more = message.get("more_body", False)
        return b"".join(chunks)

    async def run(self, func: Callable[..., Any], *args: Any) -> Any:
        """Run a blocking registry call in a worker thread (history, readiness)."""
        return await anyio.to_thread.run_sync(functools.partial(func, *args))

    async def write(self, func: Callable[..., Any], *args: Any) -> Any:
        """Run a registry write in a worker thread, recording the caller as the actor.

        Up to ``WRITE_THREADS`` writes run at once: the store serializes them, and
        SQLite commits the ones that queue behind a commit together (group commit),
        so concurrent writers share an fsync instead of waiting for one each.
        """
        # store_timeout counts from here: the wait for a worker thread is part of the write.
        call = functools.partial(_acting, self.actor, time.monotonic(), func, *args)
        return await anyio.to_thread.run_sync(call, limiter=self.app.write_limiter)


def _acting(actor: str, started: float, func: Callable[..., Any], *args: Any) -> Any:
    with acting_as(actor), started_at(started):
        return func(*args)


def too_large(limit: int) -> HTTPProblem:
    """The 413 for a body over ``limit`` bytes (the connection is closed: the rest is not read)."""
    return HTTPProblem(
        "payload_too_large",
        f"the request body is larger than this server's limit of {limit} bytes",
        headers={"Connection": "close"},
    )


def dumps(value: object) -> bytes:
    """Compact JSON bytes (non-finite floats refused)."""
    return json.dumps(value, ensure_ascii=True, separators=(",", ":"), allow_nan=False).encode()
