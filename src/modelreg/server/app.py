"""create_app: the registry's HTTP API as an ASGI application.

Requests are dispatched by a small segment table rather than Starlette's regex
router: on the read path every microsecond shows against the server's own cost
(docs/server.md has the measurements). Starlette supplies the streaming response
used for Server-Sent Events.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Mapping
from urllib.parse import parse_qsl, unquote

import anyio
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from .._checks import positive_int
from .._config import DEFAULT_MAX_BODY_BYTES
from ..errors import RegistryError
from ..registry import EventLog, ModelRegistry
from ..webhooks import WebhookHost, WebhookStore
from ._delivery import Deliveries
from .auth import Auth, Role
from .call import PROBLEM, WRITE_THREADS, BodyCache, Call, MetadataBodies, Reply, too_large
from .hosts import loopback_host_header
from .metrics import Metrics
from .openapi import docs_html, document_json
from .problems import HTTP_CODES, HTTPProblem, problem_body, problem_for_error
from .records import record_json
from .router import Router
from .routes import ROUTES
from .sse import EventFeed
from .ui.site import WebUI

__all__ = ["WRITE_THREADS", "Call", "ModelregApp", "Reply", "create_app"]

_log = logging.getLogger("modelreg.server")
_access = logging.getLogger("modelreg.access")
_NO_QUERY: Mapping[str, str] = {}
_MAX_QUERY_FIELDS = 16
_NO_CONTENT = frozenset({204, 304})
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def _segments(scope: Scope) -> list[str]:
    """Path segments, each percent-decoded on its own so an encoded '/' stays inside its segment."""
    raw: bytes | None = scope.get("raw_path")
    root: str = scope.get("root_path", "")
    if raw is None:
        path: str = scope["path"]
        if root and path.startswith(root):
            path = path[len(root) :]
        return path.split("/")
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:  # not valid on the wire, but say what arrived rather than fail
        text = raw.decode("utf-8", "replace")
    parts = text.split("/")
    if not root and "%" not in text:
        return parts
    if root:
        depth = root.rstrip("/").count("/")
        if unquote("/".join(parts[: depth + 1])) == root.rstrip("/"):
            parts = ["", *parts[depth + 1 :]]
    return [unquote(p) if "%" in p else p for p in parts]


def _parse_query(query_string: bytes, allowed: frozenset[str]) -> dict[str, str]:
    try:
        pairs = parse_qsl(
            query_string.decode("latin-1"), keep_blank_values=True, errors="replace", max_num_fields=_MAX_QUERY_FIELDS
        )
    except ValueError:
        raise HTTPProblem("invalid_parameter", f"more than {_MAX_QUERY_FIELDS} query parameters") from None
    query: dict[str, str] = {}
    for key, value in pairs:
        if key not in allowed:
            known = f"; this route accepts {', '.join(sorted(allowed))}" if allowed else "; this route takes none"
            raise HTTPProblem("invalid_parameter", f"unknown query parameter {key[:64]!r}{known}")
        if key in query:
            raise HTTPProblem("invalid_parameter", f"query parameter {key!r} given more than once")
        query[key] = value
    return query


class _ClfClock:
    """Common Log Format timestamps, formatted at most once a second."""

    def __init__(self) -> None:
        self._second = -1
        self._text = ""

    def now(self) -> str:
        second = int(time.time())
        if second != self._second:
            self._second = second
            self._text = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(second))
        return self._text


def _client(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "-"


def _log_access(line: str) -> None:
    if _access.isEnabledFor(logging.INFO):
        _access.info(line)


class ModelregApp:
    """The ASGI application ``create_app`` returns; attributes are for ``serve`` and tests."""

    def __init__(
        self, registry: ModelRegistry, *, log: EventLog | None, auth: Auth | None, max_body_bytes: int, ui: bool,
        webhooks: WebhookStore | None = None,
    ) -> None:
        self.registry = registry
        self.log = log
        self.webhooks = webhooks
        # Delivered from the event log, so a registry without one keeps webhooks but cannot deliver them.
        self.deliveries = Deliveries(webhooks, log, registry) if webhooks is not None and log is not None else None
        self.auth = auth
        self.max_body_bytes = max_body_bytes
        self.bodies = MetadataBodies()
        self.record_bodies = BodyCache(functools.partial(record_json, self.bodies), limit=16_384)
        self.metrics = Metrics(log)
        self.events = EventFeed(registry, log=log)
        self.metrics.gauges["modelreg_event_streams"] = ("Open event streams.", lambda: self.events.clients)
        self.openapi_json = document_json()
        self.docs_html = docs_html()
        self.access_log: Callable[[str], None] | None = _log_access
        self.shutting_down = False
        self.loopback_only = False  # serve sets it with no tokens on loopback: other Host names are refused
        # anyio binds a limiter made outside a loop to the loop of its first use, so an app driven
        # without the lifespan protocol (httpx's ASGI transport) writes too; startup makes a fresh one.
        self.write_limiter = anyio.CapacityLimiter(WRITE_THREADS)
        self._clock = _ClfClock()
        self._incidents = 0
        self._router = Router(ROUTES)
        self._api_roots = frozenset(route.segments[1] for route in ROUTES)  # what the UI never answers
        self.ui = WebUI(self) if ui else None

    async def _other(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": "no websocket routes"})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.write_limiter = anyio.CapacityLimiter(WRITE_THREADS)  # native to the serving loop
                if self.deliveries is not None:
                    self.deliveries.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.shutting_down = True
                self.events.close()
                if self.deliveries is not None:
                    await anyio.to_thread.run_sync(self.deliveries.stop)
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer one request (or the lifespan protocol)."""
        if scope["type"] != "http":
            await self._other(scope, receive, send)
            return
        started = time.perf_counter()
        method: str = scope["method"]
        template = "(unmatched)"
        actor = "-"
        call: Call | None = None
        status, size = 500, 0
        try:
            if self.loopback_only:
                self._check_host(scope)
            segments = _segments(scope)
            found = self._router.match(segments)
            if found is None:
                if self.ui is not None and segments[1] not in self._api_roots and self.ui.takes(scope, segments):
                    page, template, actor = await self.ui.answer(scope, receive, segments)
                    status, size = await self._send(send, page, method)
                    return
                raise self._not_found(scope)
            route, params = found
            template = route.template
            endpoint = route.methods.get(method)
            if endpoint is None:
                if method != "HEAD" or "GET" not in route.methods:
                    allow = ", ".join(sorted({*route.methods, "HEAD"} if "GET" in route.methods else route.methods))
                    raise HTTPProblem(
                        "method_not_allowed", f"{method} is not allowed on {route.template}; allowed: {allow}",
                        headers={"Allow": allow},
                    )
                endpoint = route.methods["GET"]
            query_string: bytes = scope["query_string"]
            query = _parse_query(query_string, endpoint.query) if query_string else _NO_QUERY
            call = Call(self, scope, receive, query)
            if method in _BODY_METHODS:  # the methods whose body we read: refuse an oversized one unread
                self._check_length(scope)
            if self.auth is None:
                call.role = Role.ADMIN  # no tokens configured: full access (serve allows it on loopback only)
            elif endpoint.role is not None:
                call.identify(self.auth.identify(call.header(b"authorization")))
                call.require(endpoint.role, f"{method} {route.template}")
            if route.model is not None and call.models is not None:
                call.enter(params[route.model])  # a model outside the token's scope is served as a missing one
            result = endpoint.handler(call, *params)
            reply = result if isinstance(result, Reply) else await result
            if isinstance(reply, Reply):
                status, size = await self._send(send, reply, method)
            else:
                status, size = await self._stream(scope, receive, send, reply)
        except RegistryError as exc:
            status, body = problem_for_error(exc)
            status, size = await self._send(send, Reply(status, body, PROBLEM), method)
        except HTTPProblem as exc:
            body = problem_body(exc.status, exc.code, exc.title, exc.detail, **exc.extra)
            headers = [(k.lower().encode(), v.encode()) for k, v in exc.headers.items()]
            status, size = await self._send(send, Reply(exc.status, body, PROBLEM, headers), method)
        except Exception:
            self._incidents += 1
            _log.exception("unexpected error #%d answering %s %s", self._incidents, method, scope.get("path"))
            detail = f"unexpected server error; the server logged it as incident #{self._incidents}"
            body = problem_body(500, "internal_error", HTTP_CODES["internal_error"][1], detail)
            try:
                status, size = await self._send(send, Reply(500, body, PROBLEM), method)
            except Exception:  # the response had already started, or the client is gone
                status = 500
        finally:
            elapsed = time.perf_counter() - started
            self.metrics.observe(method, template, status, elapsed)
            if self.access_log is not None:
                who = call.actor if call is not None else actor
                self.access_log(self._access_line(scope, who, status, size, elapsed))

    def _not_found(self, scope: Scope) -> HTTPProblem:
        raw: bytes = scope.get("raw_path") or b""
        if b"%2f" in raw.lower():
            return HTTPProblem(
                "invalid_parameter",
                "the path has an encoded '/' (%2F): no model name, version or alias can contain '/'",
            )
        return HTTPProblem("not_found", f"no route matches {scope['path'][:200]!r}; see /docs for the API")

    @staticmethod
    def _check_host(scope: Scope) -> None:
        """Refuse (421) a Host that is not a loopback name: with no tokens, only this machine may ask."""
        for key, value in scope["headers"]:
            if key == b"host":
                host = value.decode("latin-1")
                if not loopback_host_header(host):
                    raise HTTPProblem(
                        "misdirected_request",
                        f"this server has no tokens and answers only loopback names (localhost, 127.0.0.1, ::1), "
                        f"not Host {host[:100]!r}; configure tokens to serve other names",
                    )

    def _check_length(self, scope: Scope) -> None:
        """Refuse a declared body over the limit before reading any of it."""
        for key, value in scope["headers"]:
            if key == b"content-length":
                if not value.isdigit():
                    shown = value[:40].decode("latin-1")
                    raise HTTPProblem("invalid_parameter", f"Content-Length {shown!r} is not a whole number")
                if int(value) > self.max_body_bytes:
                    raise too_large(self.max_body_bytes)

    async def _send(self, send: Send, reply: Reply, method: str) -> tuple[int, int]:
        body = reply.body
        if reply.status in _NO_CONTENT:  # RFC 9110 15.3.5, 15.4.5: no body, so no content headers either
            headers = []
            body = b""
        elif method == "HEAD" and not body:
            # A HEAD endpoint that did not build GET's body (existence checks) may not claim a
            # length: RFC 9110 8.6 allows leaving it out, never sending a different one.
            headers = [(b"content-type", reply.content_type)]
        else:
            headers = [(b"content-type", reply.content_type), (b"content-length", b"%d" % len(body))]
        if reply.headers:
            headers += reply.headers
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if method == "HEAD" else body})
        return reply.status, len(body)

    async def _stream(self, scope: Scope, receive: Receive, send: Send, response: Response) -> tuple[int, int]:
        seen = [response.status_code, 0]
        started = False

        async def counting(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.body":
                seen[1] += len(message.get("body", b""))
            started = True
            await send(message)

        try:
            await response(scope, receive, counting)
        except (OSError, ClientDisconnect):  # the client went away mid-stream
            pass
        except RegistryError as exc:
            if not started:
                raise  # nothing sent yet: answer with the problem as usual
            # The 200 is already out: all we can do is end the stream; the client reconnects and resumes.
            _log.warning("ended an event stream to %s: %s", _client(scope), exc)
        return seen[0], seen[1]

    def _access_line(self, scope: Scope, who: str, status: int, size: int, elapsed: float) -> str:
        host = _client(scope)
        actor = who if who != "anonymous" else "-"
        raw: bytes | None = scope.get("raw_path")
        target = scope["path"] if raw is None else raw.decode("latin-1")
        query: bytes = scope["query_string"]
        if query:
            target = f"{target}?{query.decode('latin-1')}"
        if '"' in target or not target.isprintable():
            target = target.encode("unicode_escape").decode("ascii").replace('"', '\\"')
        return (
            f'{host} - {actor} [{self._clock.now()}] "{scope["method"]} {target} HTTP/{scope["http_version"]}" '
            f"{status} {size} {elapsed * 1000:.3f}ms"
        )


def create_app(
    registry: ModelRegistry,
    *,
    auth: Auth | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ui: bool = True,
) -> ModelregApp:
    """The HTTP API over ``registry`` as an ASGI app, with the web UI at ``/`` unless ``ui=False``.

    ``auth=None`` serves everyone as 'anonymous'.
    """
    if not isinstance(registry, ModelRegistry):
        raise TypeError(f"registry must implement ModelRegistry, not {type(registry).__name__}")
    if auth is not None and not isinstance(auth, Auth):
        raise TypeError(f"auth must be an Auth or None, not {type(auth).__name__}")
    positive_int("max_body_bytes", max_body_bytes)
    # The one place a capability is decided: a user's own ModelRegistry that keeps no event log is
    # still served, its event stream from the server's buffer alone (docs/server.md).
    log = registry if isinstance(registry, EventLog) else None
    webhooks = registry.webhooks() if isinstance(registry, WebhookHost) else None
    return ModelregApp(registry, log=log, auth=auth, max_body_bytes=max_body_bytes, ui=ui, webhooks=webhooks)
