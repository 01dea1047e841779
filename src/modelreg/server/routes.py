"""The route table and its handlers: each turns a request into one registry call."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Mapping, Sequence
from typing import Any

import anyio
from starlette.responses import StreamingResponse

from .. import _paths
from .._history import history_filter
from ..errors import InvalidVersionError, MetadataError, RegistryError, StoreError, VersionNotFoundError
from ..events import RegistryEvent
from ..metadata import ModelMetadata
from ..semver import parse_version
from .auth import Role
from .call import PROBLEM, Call, Endpoint, Reply, Route, dumps
from .governance import (
    PROMOTION_QUERY,
    approve_promotion,
    get_policy,
    get_promotion,
    list_promotions,
    put_policy,
    reject_promotion,
    remove_policy,
    request_promotion,
)
from .inputs import flag, json_object, loads_strict
from .paging import page_after, page_request
from .problems import HTTPProblem, problem_for_error
from .records import SEARCH_QUERY, annotate, annotate_model, delete_model, get_model, search
from .snapshot import snapshot
from .travel import past_aliases, past_resolve, past_versions, query_at
from .webhooks import add_webhook, get_webhook, list_deliveries, list_webhooks, remove_webhook, test_webhook

__all__ = ["MAX_CHANGES", "ROUTES", "loads_strict"]

_READY_TIMEOUT = 5.0
MAX_CHANGES = _paths.CHANGES_LIMIT
"""Most events one ``GET /api/v1/changes`` returns (the client pages by the same figure)."""


def _metadata(data: Mapping[str, Any]) -> ModelMetadata:
    try:
        return ModelMetadata.from_dict(data)
    except RegistryError:
        raise
    except (ValueError, TypeError, OverflowError) as exc:  # whatever else the parser lets slip is still bad input
        raise MetadataError(f"invalid metadata: {exc}") from None


# -- API handlers ---------------------------------------------------------------------


def list_models(call: Call) -> Reply:
    """GET /api/v1/models[?limit=N&cursor=C]"""
    registry = call.registry
    names: Sequence[str] = call.visible_names(registry.get_all_model_names())
    page = page_request(call.query, "models", "")
    if page is not None:
        names, next_cursor = page_after(names, page, "models", "", cursor_key=str, sort_key=str, parse=str)
    models = [{"name": n, "versions": len(registry.get_versions(n))} for n in names]
    if page is None:
        return Reply(200, dumps({"models": models}))
    return Reply(200, dumps({"models": models, "next_cursor": next_cursor}))


def list_versions(call: Call, name: str) -> Reply | Awaitable[Reply]:
    """GET /api/v1/models/{name}/versions[?limit=N&cursor=C | ?at=T]"""
    if "at" in call.query:
        if "limit" in call.query or "cursor" in call.query:
            raise HTTPProblem("invalid_parameter", "query parameter 'at' lists every version in one answer; "
                              "it does not take 'limit' or 'cursor'")
        return past_versions(call, name, query_at(call.query))
    versions: Sequence[str] = call.registry.get_versions(name)
    page = page_request(call.query, "versions", name)
    if page is None:
        return Reply(200, dumps({"name": name, "versions": versions}))
    versions, next_cursor = page_after(
        versions, page, "versions", name, cursor_key=str, sort_key=parse_version, parse=parse_version
    )
    return Reply(200, dumps({"name": name, "versions": list(versions), "next_cursor": next_cursor}))


def get_version(call: Call, name: str, version: str) -> Reply:
    """GET /api/v1/models/{name}/versions/{version}"""
    return Reply(200, call.app.bodies.body(call.registry.get_metadata(name, version)))


def has_version(call: Call, name: str, version: str) -> Reply:
    """HEAD /api/v1/models/{name}/versions/{version}"""
    if call.registry.has_version(name, version):
        return Reply(200)
    missing = VersionNotFoundError(f"model {name!r} has no version {version!r}", name=name, version=version)
    return Reply(*problem_for_error(missing), PROBLEM)


async def register(call: Call, name: str, version: str) -> Reply:
    """PUT /api/v1/models/{name}/versions/{version}"""
    metadata = _metadata(await json_object(call))
    stored: ModelMetadata = await call.write(call.registry.register_model, name, version, metadata)
    path = _paths.fill(_paths.VERSION, name=name, version=stored.version or version)
    location = call.scope.get("root_path", "") + path
    return Reply(201, call.app.bodies.body(stored), headers=[(b"location", location.encode())])


async def unregister(call: Call, name: str, version: str) -> Reply:
    """DELETE /api/v1/models/{name}/versions/{version}[?force=true]"""
    force = flag(call.query, "force")
    if force:
        call.require(Role.ADMIN, "unregistering with force=true")
    await call.write(call.registry.unregister_model, name, version, force)
    return Reply(204)


def resolve(call: Call, name: str) -> Reply | Awaitable[Reply]:
    """GET /api/v1/models/{name}/resolve?spec=SPEC[&at=T]"""
    spec = call.query.get("spec")
    if spec is None:
        raise HTTPProblem("invalid_parameter", "missing query parameter 'spec' (e.g. ?spec=^1.2 or ?spec=production)")
    if not _ascii_text(spec):
        # Ranges, 'latest' and alias names are ASCII: say so here, before the range parser's own message.
        raise InvalidVersionError(
            f"invalid spec {spec[:80]!r}: expected ASCII text such as '^1.2', '>=1.0.0 <2.0.0', 'latest' "
            "or an alias name", version=spec,
        )
    if "at" in call.query:
        return past_resolve(call, name, spec, query_at(call.query))
    version = call.registry.resolve(name, spec)
    return Reply(200, call.app.bodies.body(call.registry.get_metadata(name, version)))


def get_aliases(call: Call, name: str) -> Reply | Awaitable[Reply]:
    """GET /api/v1/models/{name}/aliases[?at=T]"""
    if "at" in call.query:
        return past_aliases(call, name, query_at(call.query))
    return Reply(200, dumps({"name": name, "aliases": call.registry.get_aliases(name)}))


async def set_alias(call: Call, name: str, alias: str) -> Reply:
    """PUT /api/v1/models/{name}/aliases/{alias} with body {"version": "1.2.0"}"""
    data = await json_object(call)
    unknown = sorted(set(data) - {"version"})
    if unknown:
        raise HTTPProblem("invalid_body", f"unknown field(s) {', '.join(map(repr, unknown))}; allowed: 'version'")
    version = data.get("version")
    if not isinstance(version, str):
        raise HTTPProblem("invalid_body", 'the body must be {"version": "<version>"} with a string version')
    await call.write(call.registry.set_alias, name, alias, version)
    return Reply(204)


async def remove_alias(call: Call, name: str, alias: str) -> Reply:
    """DELETE /api/v1/models/{name}/aliases/{alias}"""
    await call.write(call.registry.remove_alias, name, alias)
    return Reply(204)


async def history(call: Call, name: str) -> Reply:
    """GET /api/v1/models/{name}/history[?version=V&kinds=a,b&limit=N&cursor=C]

    A cursor records the last revision returned and the filters, so it continues only the same listing.
    """
    version = call.query.get("version")
    text = call.query.get("kinds")
    kinds = None if text is None else text.split(",") if text else []  # comma-separated: keys may not repeat
    fingerprint = history_filter(version, kinds).fingerprint()  # bad filters are refused before the cursor
    scope = f"{name};{fingerprint}" if fingerprint else name
    page = page_request(call.query, "history", scope)  # a bad cursor is refused before the store is asked
    events: Sequence[RegistryEvent] = await call.run(
        functools.partial(call.registry.history, name, version=version, kinds=kinds)
    )
    if page is None:
        return Reply(200, dumps({"name": name, "events": [event.to_dict() for event in events]}))
    events, next_cursor = page_after(
        events, page, "history", scope, cursor_key=_revision_of, sort_key=_revision_of, parse=int
    )
    body = {"name": name, "events": [event.to_dict() for event in events], "next_cursor": next_cursor}
    return Reply(200, dumps(body))


def _revision_of(event: RegistryEvent) -> int:
    return event.revision


async def events(call: Call) -> Reply | StreamingResponse:
    """GET /api/v1/events[?since=REVISION] as Server-Sent Events (Last-Event-ID wins over since)."""
    last_id = call.header(b"last-event-id")
    if last_id:
        since: int | None = _revision(last_id, "Last-Event-ID header")
    elif "since" in call.query:
        since = _revision(call.query["since"], "query parameter 'since'")
    else:
        since = None
    feed = call.app.events
    if since is not None and since > feed.current():
        await call.run(feed.catch_up)  # another replica of the store may be a little ahead of us
    start = feed.start(since)
    if since is not None and feed.beyond_buffer(since):
        await call.run(feed.check_log, since)  # 410 now, not a stream that ends at once
    if call.scope["method"] == "HEAD":
        return Reply(200, b"", b"text/event-stream")
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    stream = call.app.events.stream(start, call.model_filter)
    return StreamingResponse(stream, media_type="text/event-stream", headers=headers)


async def changes(call: Call) -> Reply:
    """GET /api/v1/changes[?after=REVISION][&limit=N]: the store's id and revision, and the events after ``after``.

    Without ``after``, none: what a client asks to learn the revision. 410 as the event stream answers.
    """
    feed = call.app.events
    after = _revision(call.query["after"], "query parameter 'after'") if "after" in call.query else None
    limit = _limit(call.query.get("limit"))
    if after is not None and after > feed.current():
        await call.run(feed.catch_up)  # another replica of the store may be a little ahead of us
    store, revision, found = await call.run(feed.changes, after, limit, call.model_filter)
    body = {"store": store, "revision": revision, "events": [event.to_dict() for event in found]}
    return Reply(200, dumps(body))


# -- operations -----------------------------------------------------------------------


def healthz(call: Call) -> Reply:
    """GET /healthz: the process is up."""
    return Reply(200, b'{"status":"ok"}')


async def readyz(call: Call) -> Reply:
    """GET /readyz: the store answers a query (the registry's ``ping()``) and the server is not shutting down."""
    if call.app.shutting_down:
        raise StoreError("the server is shutting down")
    try:
        with anyio.fail_after(_READY_TIMEOUT):
            await anyio.to_thread.run_sync(call.registry.ping, abandon_on_cancel=True)
    except RegistryError:
        raise
    except TimeoutError:
        raise StoreError(f"the store did not answer within {_READY_TIMEOUT:g} s") from None
    except Exception as exc:
        raise StoreError(f"the store is not reachable: {type(exc).__name__}: {exc}") from exc
    return Reply(200, b'{"status":"ready"}')


def metrics(call: Call) -> Reply:
    """GET /metrics in the Prometheus text format."""
    text = call.app.metrics.render(call.registry, call.model_filter)
    return Reply(200, text.encode(), b"text/plain; version=0.0.4; charset=utf-8")


def openapi_json(call: Call) -> Reply:
    """GET /openapi.json"""
    return Reply(200, call.app.openapi_json)


def docs(call: Call) -> Reply:
    """GET /docs: a self-contained page describing every route, with a form to try each."""
    return Reply(200, call.app.docs_html, b"text/html; charset=utf-8")


def _ascii_text(text: str) -> bool:
    return text.isascii() and all(c.isprintable() or c in "\t\n\r\f\v" for c in text)


def _revision(text: str, where: str) -> int:
    if not text.isascii() or not text.isdigit() or len(text) > 18:
        raise HTTPProblem("invalid_parameter", f"{where} must be a revision number (0 or more), not {text[:40]!r}")
    return int(text)


def _limit(text: str | None) -> int:
    if text is None:
        return MAX_CHANGES
    if not (text.isascii() and text.isdigit() and len(text) <= 4 and 1 <= int(text) <= MAX_CHANGES):
        raise HTTPProblem("invalid_parameter", f"query parameter 'limit' must be a number from 1 to {MAX_CHANGES}, "
                          f"not {text[:40]!r}")
    return int(text)


_PAGED = frozenset({"limit", "cursor"})


def _route(template: str, **methods: Endpoint) -> Route:
    return Route(template, methods)


ROUTES: tuple[Route, ...] = (
    _route(_paths.MODELS, GET=Endpoint(list_models, Role.READ, _PAGED)),
    _route(
        _paths.MODEL,
        GET=Endpoint(get_model, Role.READ),
        PATCH=Endpoint(annotate_model, Role.WRITE),
        DELETE=Endpoint(delete_model, Role.WRITE, frozenset({"force"})),
    ),
    _route(_paths.VERSIONS, GET=Endpoint(list_versions, Role.READ, _PAGED | {"at"})),
    _route(
        _paths.VERSION,
        GET=Endpoint(get_version, Role.READ),
        HEAD=Endpoint(has_version, Role.READ),
        PUT=Endpoint(register, Role.WRITE),
        PATCH=Endpoint(annotate, Role.WRITE),
        DELETE=Endpoint(unregister, Role.WRITE, frozenset({"force"})),
    ),
    _route(_paths.RESOLVE, GET=Endpoint(resolve, Role.READ, frozenset({"spec", "at"}))),
    _route(_paths.ALIASES, GET=Endpoint(get_aliases, Role.READ, frozenset({"at"}))),
    _route(
        _paths.ALIAS,
        # write, not admin: an alias's policy (set by admins only) is what governs who may move it how.
        PUT=Endpoint(set_alias, Role.WRITE),
        DELETE=Endpoint(remove_alias, Role.WRITE),
    ),
    _route(
        _paths.POLICY,
        GET=Endpoint(get_policy, Role.READ),
        PUT=Endpoint(put_policy, Role.ADMIN),
        DELETE=Endpoint(remove_policy, Role.ADMIN),
    ),
    _route(
        _paths.PROMOTIONS,
        GET=Endpoint(list_promotions, Role.READ, PROMOTION_QUERY),
        POST=Endpoint(request_promotion, Role.WRITE),
    ),
    _route(_paths.PROMOTION, GET=Endpoint(get_promotion, Role.READ)),
    _route(_paths.PROMOTION_APPROVE, POST=Endpoint(approve_promotion, Role.WRITE)),
    _route(_paths.PROMOTION_REJECT, POST=Endpoint(reject_promotion, Role.WRITE)),
    _route(_paths.HISTORY, GET=Endpoint(history, Role.READ, _PAGED | {"version", "kinds"})),
    _route(_paths.SEARCH, GET=Endpoint(search, Role.READ, SEARCH_QUERY)),
    _route(_paths.EVENTS, GET=Endpoint(events, Role.READ, frozenset({"since"}))),
    _route(_paths.CHANGES, GET=Endpoint(changes, Role.READ, frozenset({"after", "limit"}))),
    _route(_paths.SNAPSHOT, GET=Endpoint(snapshot, Role.READ, frozenset({"models", "after"}))),
    # admin, reads too: a webhook's URL and its deliveries are the deployment's business (docs/webhooks.md)
    _route(_paths.WEBHOOKS, GET=Endpoint(list_webhooks, Role.ADMIN), POST=Endpoint(add_webhook, Role.ADMIN)),
    _route(_paths.WEBHOOK, GET=Endpoint(get_webhook, Role.ADMIN), DELETE=Endpoint(remove_webhook, Role.ADMIN)),
    _route(_paths.WEBHOOK_DELIVERIES, GET=Endpoint(list_deliveries, Role.ADMIN, frozenset({"limit"}))),
    _route(_paths.WEBHOOK_TEST, POST=Endpoint(test_webhook, Role.ADMIN)),
    _route(_paths.HEALTHZ, GET=Endpoint(healthz, None)),
    _route(_paths.READYZ, GET=Endpoint(readyz, None)),
    _route(_paths.METRICS, GET=Endpoint(metrics, Role.READ)),
    _route(_paths.OPENAPI, GET=Endpoint(openapi_json, None)),
    _route(_paths.DOCS, GET=Endpoint(docs, None)),
)
"""Every route the API serves, on the paths of ``modelreg._paths``; ``openapi.py`` documents this table."""
