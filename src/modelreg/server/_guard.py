"""Slow and idle clients: header and body timeouts, a header size limit, and a connection cap.

uvicorn's httptools protocol closes nothing that never finishes a request and buffers headers
without bound. ``guarded_protocol`` extends it (same parser, same speed) so that every connection
waiting on its client is on a clock, and at the connection cap the one that has waited longest
is shed to make room: a client that sends a whole request at once always gets through.
"""

from __future__ import annotations

import asyncio
import logging
import os
import resource
from dataclasses import dataclass
from typing import Any

import httptools
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from .problems import problem_body

__all__ = ["ConnectionGuard", "Limits", "connection_ceiling", "default_connections", "guarded_protocol"]

_log = logging.getLogger("modelreg.server")
_REPORT_SECONDS = 60.0

# A connection is in one phase at a time; only HEADERS and BODY wait on the client.
_HEADERS, _BODY, _SERVING, _GONE = range(4)

MAX_DEFAULT_CONNECTIONS = 16384
"""The default cap never exceeds this, however high ``ulimit -n`` is (containers often allow a million)."""

HEADER_BUDGET_FACTOR = 1024
"""Unfinished headers of all connections together may hold this many times ``max_header_bytes`` (64 MiB)."""

FD_RESERVE = 64
"""File descriptors kept free beyond those open at start: the store's files and pooled connections, logs, TLS."""


@dataclass(frozen=True)
class Limits:
    """What a connection may take: seconds for its headers and body, header bytes, and how many at once."""

    header_timeout: float
    body_timeout: float
    max_header_bytes: int
    max_connections: int


def connection_ceiling() -> tuple[int, int]:
    """The most connections the file-descriptor limit allows, and that limit (soft RLIMIT_NOFILE)."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        soft = 1 << 20
    try:
        already = len(os.listdir("/proc/self/fd"))
    except OSError:  # not Linux: assume a small process
        already = 16
    return max(1, soft - already - FD_RESERVE), soft


def default_connections(ceiling: int) -> int:
    """The cap used unless one is given: what the descriptors allow, within MAX_DEFAULT_CONNECTIONS."""
    return min(ceiling, MAX_DEFAULT_CONNECTIONS)


def _problem(status: int, reason: bytes, code: str, title: str, detail: str) -> bytes:
    body = problem_body(status, code, title, detail)
    head = (
        b"HTTP/1.1 %d %s\r\ncontent-type: application/problem+json\r\ncontent-length: %d\r\n"
        b"connection: close\r\n\r\n" % (status, reason, len(body))
    )
    return head + body


class _Reject(Exception):
    """Raised inside a parser callback to stop parsing a request we have already answered."""


class ConnectionGuard:
    """Shared by one server's connections: how many are open, and which wait on their client, oldest first."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.open = 0
        self.header_bytes = 0  # held by unfinished headers, all connections together
        self._header_budget = limits.max_header_bytes * HEADER_BUDGET_FACTOR
        self.shed = 0  # since the last report in the log
        self.refused = 0
        self._reported = -_REPORT_SECONDS
        # Insertion-ordered: every entry of one phase has the same timeout, so the oldest expire first.
        self._waiting: tuple[dict[GuardedProtocol, float], dict[GuardedProtocol, float]] = ({}, {})
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tick = max(0.05, min(1.0, limits.header_timeout / 4, limits.body_timeout / 4))

    def admit(self, conn: GuardedProtocol, loop: asyncio.AbstractEventLoop) -> bool:
        """Count a new connection, shedding the longest-waiting one at the cap; False if none can go."""
        if self._loop is None:
            self._loop = loop
            loop.call_later(self._tick, self._sweep)
        if self.open >= self.limits.max_connections:
            victim = self._oldest()
            self._report(loop.time(), starting=not (self.shed or self.refused))
            if victim is None:
                self.refused += 1
                return False
            self.shed += 1
            victim.expire(shed=True)
        self.open += 1
        return True

    def _report(self, now: float, *, starting: bool = False) -> None:
        """One warning when the cap is first reached, then at most one a minute while it still is."""
        if (starting and now - self._reported >= _REPORT_SECONDS) or (
            now - self._reported >= _REPORT_SECONDS and (self.shed or self.refused)
        ):
            if starting:
                _log.warning("at the connection limit (%d): shedding the connections that wait longest on their "
                             "client", self.limits.max_connections)
            else:
                _log.warning("at the connection limit (%d): %d connection(s) shed, %d refused in the last %d s",
                             self.limits.max_connections, self.shed, self.refused, int(now - self._reported))
                self.shed = self.refused = 0
            self._reported = now

    def enter(self, conn: GuardedProtocol, old: int, new: int, now: float) -> None:
        """Move ``conn`` from phase ``old`` to ``new``; a waiting phase starts its clock now."""
        if old <= _BODY:
            self._waiting[old].pop(conn, None)
        if new <= _BODY:
            self._waiting[new][conn] = now
        if new == _GONE:
            self.open -= 1

    def trim(self) -> None:
        """Shed the oldest connections holding unfinished headers until together they fit the budget again."""
        if self.header_bytes <= self._header_budget:
            return
        holding = [conn for conn in self._waiting[_HEADERS] if conn.holds_headers]
        self._report(self._loop.time() if self._loop else 0.0, starting=not (self.shed or self.refused))
        for conn in holding:
            if self.header_bytes <= self._header_budget:
                break
            self.shed += 1
            conn.expire(shed=True)

    def _oldest(self) -> GuardedProtocol | None:
        heads = [(next(iter(phase.items()))) for phase in self._waiting if phase]
        return min(heads, key=lambda item: item[1])[0] if heads else None

    def _sweep(self) -> None:
        assert self._loop is not None
        now = self._loop.time()
        for phase, timeout in zip(self._waiting, (self.limits.header_timeout, self.limits.body_timeout), strict=True):
            expired = []
            for conn, since in phase.items():
                if now - since < timeout:
                    break
                expired.append(conn)
            for conn in expired:
                conn.expire(shed=False)
        self._report(now)
        self._loop.call_later(self._tick, self._sweep)


class GuardedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a clock on every wait for the client and a header size limit."""

    guard: ConnectionGuard

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._phase = _GONE
        self._in_body = False
        self._header_bytes = 0  # bytes received while reading headers: an upper bound on their size
        self._answered = False
        self._refusal: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if not self.guard.admit(self, self.loop):
            # Answer once the request has arrived (or after a moment): closing with it unread
            # would reset the connection and lose the 503.
            self._refusal = self.loop.call_later(min(1.0, self.guard.limits.header_timeout), self._refuse)
            return
        self._phase = _SERVING
        self._settle()

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if self._refusal is not None:
            self._refusal.cancel()
        self._move(_GONE)

    def _refuse(self) -> None:
        if self._refusal is not None:
            self._refusal.cancel()
        limit = self.guard.limits.max_connections
        self._answer(503, b"Service Unavailable", "too_many_connections", "Too many connections",
                     f"the server holds its limit of {limit} connections, all busy; retry shortly")

    def data_received(self, data: bytes) -> None:
        # uvicorn's data_received, plus the header byte count and requests we refused mid-parse.
        if self._answered:
            return
        if self._refusal is not None:
            self._refuse()
            return
        self._unset_keepalive_if_required()
        if not self._in_body:
            self._header_bytes += len(data)
            self.guard.header_bytes += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self._answered:
                return
            msg = "Invalid HTTP request received."
            self.logger.warning(msg)
            self.send_400_response(msg)
            return
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
        if not self._in_body and self._header_bytes > self.guard.limits.max_header_bytes:
            self._headers_too_large()  # never buffer more than the limit plus one read
            return
        self._settle()
        self.guard.trim()

    def on_headers_complete(self) -> None:
        limit = self.guard.limits.max_header_bytes
        if self._header_bytes > limit and self._exact_header_bytes() > limit:
            self._headers_too_large()
            raise _Reject
        self._uncount()
        self._in_body = True
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._in_body = False
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._settle()

    @property
    def holds_headers(self) -> bool:
        """Whether part of a request's headers is buffered here (what the header budget counts)."""
        return self._header_bytes > 0

    def _uncount(self) -> None:
        self.guard.header_bytes -= self._header_bytes
        self._header_bytes = 0

    def _exact_header_bytes(self) -> int:
        return len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)

    def _settle(self) -> None:
        """Put the connection in the phase its state says: reading headers, reading a body, or being served."""
        if self._phase == _GONE or self.transport.is_closing():
            return
        if self._in_body:
            phase = _SERVING if self.pipeline else _BODY  # a queued request's body waits for its turn
        elif self.pipeline or (self.cycle is not None and not self.cycle.response_complete):
            phase = _SERVING
        else:
            phase = _HEADERS
        self._move(phase)

    def _move(self, phase: int) -> None:
        if phase != self._phase:
            if phase == _HEADERS and self._phase == _SERVING and not self.pipeline:
                self._uncount()  # a new request starts: what was counted belonged to the last one
            if phase == _GONE:
                self._uncount()
            old, self._phase = self._phase, phase
            if old != _GONE:
                self.guard.enter(self, old, phase, self.loop.time())

    def expire(self, *, shed: bool) -> None:
        """Close a connection whose client ran out of time (or that is shed at the cap): 408 if it was mid-request."""
        phase, partial = self._phase, self.holds_headers
        self._move(_GONE)
        limits = self.guard.limits
        if phase == _HEADERS and partial and not shed:
            self._answer(408, b"Request Timeout", "request_timeout", "Request timeout",
                         f"the request headers did not arrive within {limits.header_timeout:g} s")
        elif phase == _BODY and self.cycle is not None and not self.cycle.response_started:
            self.cycle.disconnected = True  # the handler waiting for the body sees a disconnect
            self.cycle.message_event.set()
            detail = (
                "the server is at its connection limit and this request was the slowest"
                if shed
                else f"the request body did not arrive within {limits.body_timeout:g} s"
            )
            self._answer(408, b"Request Timeout", "request_timeout", "Request timeout", detail)
        else:
            self._answered = True
            self.transport.close()

    def _headers_too_large(self) -> None:
        self._move(_GONE)
        limit = self.guard.limits.max_header_bytes
        self._answer(431, b"Request Header Fields Too Large", "headers_too_large", "Request headers too large",
                     f"the request line and headers exceed the limit of {limit} bytes (max_header_bytes)")

    def _answer(self, status: int, reason: bytes, code: str, title: str, detail: str) -> None:
        self._answered = True
        if not self.transport.is_closing():
            self.transport.write(_problem(status, reason, code, title, detail))
            self.transport.close()


def guarded_protocol(guard: ConnectionGuard) -> type[GuardedProtocol]:
    """A protocol class bound to one server's guard (uvicorn builds one instance per connection)."""
    return type("ModelregHttpProtocol", (GuardedProtocol,), {"guard": guard})
