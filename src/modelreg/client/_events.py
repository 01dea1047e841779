"""The client end of the event stream: one thread per subscription reading Server-Sent Events.

The thread reconnects with ``Last-Event-ID`` after a broken connection, so each change
is delivered once and in revision order across reconnects. Each stream's ``hello``
names the store it serves; when a reconnect finds another store, a rewound one, or a
server that no longer has the events to resume from, the subscription ends (closed,
its ``error`` saying why) rather than carry on past changes it never delivered.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from typing import Protocol

import httpx

from ..errors import RegistryError, StoreError
from ..events import Callback, EventHub, RegistryEvent, Subscription
from ._wire import problem_body

__all__ = [
    "MAX_DELAY",
    "READ_TIMEOUT",
    "EventStream",
    "RemoteSubscription",
    "SseParser",
    "StreamFollower",
    "StreamSource",
    "parse_sse",
    "stream_error",
    "unblock",
]

_log = logging.getLogger("modelreg.client")
READ_TIMEOUT = 60.0  # the server sends a heartbeat every 15 s; silence this long means a dead link
MAX_DELAY = 5.0
"""Longest wait, in seconds, between reconnects to a broken event stream."""


def unblock(response: httpx.Response | None) -> None:
    """Shut down the socket under an open streamed ``response``: wakes a thread blocked reading it
    (closing the response alone would not), so a follower can stop at once."""
    stream = response.extensions.get("network_stream") if response is not None else None
    sock = stream.get_extra_info("socket") if stream is not None else None
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)

class SseParser:
    """Server-Sent Events read one text line at a time (so a blocking and an async reader share it)."""

    def __init__(self) -> None:
        self._kind = "message"
        self._ident: str | None = None
        self._data: list[str] = []

    def feed(self, line: str) -> tuple[str, str | None, str] | None:
        """(event type, id, data) when ``line`` completes an event, else None."""
        if not line:
            done = (self._kind, self._ident, "\n".join(self._data)) if self._data else None
            self._kind, self._data = "message", []
            return done
        if line.startswith(":"):
            return None  # a comment (the server's heartbeat)
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "event":
            self._kind = value
        elif field == "data":
            self._data.append(value)
        elif field == "id":
            self._ident = value
        return None


def parse_sse(lines: Iterable[str]) -> Iterator[tuple[str, str | None, str]]:
    """(event type, id, data) for each event in Server-Sent Events text lines."""
    parser = SseParser()
    for line in lines:
        if (event := parser.feed(line)) is not None:
            yield event


class StreamSource(Protocol):
    """What a stream needs of its ``RegistryClient`` (named here so this module does not import the client's)."""

    url: str
    timeout: float

    def stream_events(self, headers: dict[str, str], timeout: httpx.Timeout) -> AbstractContextManager[httpx.Response]:
        """Open the server's event stream."""
        ...

    def error_for(self, response: httpx.Response) -> RegistryError:
        """The exception a problem response stands for."""
        ...


class StreamFollower:
    """Following ``/api/v1/events`` apart from the I/O: where it stands and when it must end (shared with
    the async client's ``AsyncEvents``).

    It tracks the store the first ``hello`` named and the last revision delivered, asks to
    resume after it, drops what a reconnect repeats, and names why a stream cannot go on
    (``store_changed``, ``unknown_revision``, ``events_unavailable``) rather than skip changes.
    """

    def __init__(self, url: str, since: int | None) -> None:
        self._url = url
        self.error: RegistryError | None = None  # set when the stream ends rather than skip changes
        self._last: int | None = since  # resuming from here is how since= asks the server for a replay
        self._store: str | None = None  # the id the first hello named

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "text/event-stream"}
        if self._last is not None:
            headers["Last-Event-ID"] = str(self._last)
        return headers

    def _gone(self, response: httpx.Response) -> RegistryError:
        """The error for a 410 on reconnecting: the server cannot resume after ``_last``."""
        problem = problem_body(response)
        store, revision = problem.get("store"), problem.get("revision")
        if problem.get("code") == "unknown_revision":
            if isinstance(store, str) and self._store is not None and store != self._store:
                return self._changed(store, revision)
            return stream_error(
                "unknown_revision",
                f"the store at {self._url} is at revision {revision}, behind revision {self._last} that "
                "this subscription already delivered: it was restored from an older copy or recreated, so the "
                "changes delivered after its revision are gone or differ; subscribe again and re-read what you need",
            )
        floor = problem.get("available_after")
        return stream_error(
            "events_unavailable",
            f"the server at {self._url} no longer keeps the events after revision {self._last} (it keeps "
            f"those after revision {floor}): the changes in between were missed; subscribe again and re-read "
            "what you need",
        )

    def _changed(self, store: str, revision: object) -> RegistryError:
        return stream_error(
            "store_changed",
            f"the server at {self._url} now serves another store (id {store}, at revision {revision}) than "
            f"the one this subscription followed up to revision {self._last} (id {self._store}): its changes are "
            "not a continuation; subscribe again and re-read what you need",
        )

    def _hello_error(self, data: str) -> RegistryError | None:
        """Read a ``hello``: the error ending the stream when it names another store or a rewound one."""
        try:
            hello = json.loads(data)
            store, revision = hello["store"], hello["revision"]
        except (ValueError, KeyError, TypeError):
            _log.warning("ignoring an unreadable hello from %s: %r", self._url, data[:200])
            return None
        if self._store is None:
            self._store = store
        elif store != self._store:
            return self._changed(store, revision)
        elif isinstance(revision, int) and self._last is not None and revision < self._last:
            return stream_error("unknown_revision", f"the store at {self._url} went back from revision "
                                f"{self._last} to {revision}; subscribe again and re-read what you need")
        return None

    def _at_ready(self, ident: str | None) -> None:
        """The server's ``ready``: changes after its id come next."""
        if self._last is None and ident is not None and ident.isdigit():
            self._last = int(ident)

    def _event(self, data: str) -> RegistryEvent | None:
        """The event to deliver, or None for one already delivered before a reconnect (or unreadable)."""
        try:
            event = RegistryEvent.from_dict(json.loads(data))
        except (ValueError, KeyError, TypeError) as exc:
            _log.warning("skipping an unreadable event from %s: %s", self._url, exc)
            return None
        if self._last is not None and event.revision <= self._last:
            return None  # already delivered before a reconnect
        self._last = event.revision
        return event


class RemoteSubscription(Subscription):
    """A subscription whose ``close()`` also ends its stream and waits out a delivery in progress."""

    __slots__ = ("_stream",)

    def __init__(self, stream: EventStream, callback: Callback) -> None:
        super().__init__(EventHub(), 0, callback)
        self._stream = stream

    @property
    def error(self) -> RegistryError | None:
        """Why the subscription ended on its own (code ``store_changed``, ``unknown_revision`` or
        ``events_unavailable``), or None."""
        return self._stream.error

    def close(self) -> None:
        """Stop delivery and the background thread; idempotent."""
        super().close()
        self._stream.stop()


class EventStream(StreamFollower):
    """Follows ``/api/v1/events`` in a daemon thread and hands each event to one callback."""

    def __init__(
        self, client: StreamSource, callback: Callback, on_stop: Callable[[EventStream], None],
        since: int | None = None,
    ) -> None:
        super().__init__(client.url, since)
        self._client = client
        self._on_stop = on_stop
        self.subscription = RemoteSubscription(self, callback)
        self._stopping = threading.Event()
        self._ready = threading.Event()
        self._deliver_lock = threading.RLock()  # re-entrant: a callback may close its own subscription
        self._failure: BaseException | None = None
        self._response: httpx.Response | None = None
        self._thread = threading.Thread(target=self._run, name="modelreg-events", daemon=True)

    def start(self) -> None:
        """Connect and wait for the server's ``ready`` event: changes after it will be delivered."""
        self._thread.start()
        if not self._ready.wait(self._client.timeout + 1.0):
            self.subscription.close()
            raise StoreError(f"no event stream from {self._client.url} within {self._client.timeout:g} s")
        if self._failure is not None:
            self.subscription.close()
            raise self._failure

    def stop(self) -> None:
        """End the stream: unblock the reader, then wait for it unless we are that thread."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        unblock(self._response)
        if threading.current_thread() is not self._thread:
            if self._thread.is_alive():
                self._thread.join(timeout=self._client.timeout)
            with self._deliver_lock:
                pass  # a delivery that began before close() finishes before close() returns
        self._on_stop(self)

    def _run(self) -> None:
        delay = 0.1
        while not self._stopping.is_set():
            try:
                self._follow()
                delay = 0.1  # a clean end (the server shutting down): come back soon
            except Exception as exc:  # any failure to follow: report it at start, else reconnect
                if not self._ready.is_set():
                    self._fail(exc)
                    return
                if self._stopping.is_set():
                    return
                _log.warning("event stream from %s broke (%s); reconnecting in %.1f s", self._client.url, exc, delay)
            if self._stopping.wait(delay):
                return
            delay = min(delay * 2, MAX_DELAY)

    def _fail(self, exc: BaseException) -> None:
        if isinstance(exc, httpx.HTTPError):
            exc = StoreError(f"cannot follow events from {self._client.url}: {exc}")
        self._failure = exc
        self._ready.set()

    def _follow(self) -> None:
        headers = self._headers()
        timeout = httpx.Timeout(self._client.timeout, read=READ_TIMEOUT)
        with self._client.stream_events(headers, timeout) as response:
            self._response = response
            try:
                if self._stopping.is_set():
                    return
                if response.status_code != 200:
                    response.read()
                    if response.status_code == 410 and self._ready.is_set():
                        self._end(self._gone(response))
                        return
                    raise self._client.error_for(response)
                for kind, ident, data in parse_sse(response.iter_lines()):
                    if self._stopping.is_set():
                        return
                    self._handle(kind, ident, data)
            finally:
                self._response = None

    def _end(self, error: RegistryError) -> None:
        """End the subscription rather than skip changes: closed, with ``error`` saying why."""
        self.error = error
        _log.error("event subscription to %s ended rather than skip changes: %s", self._client.url, error)
        self.subscription.close()

    def _handle(self, kind: str, ident: str | None, data: str) -> None:
        if kind == "hello":
            error = self._hello_error(data)
            if error is not None:
                self._end(error)
            return
        if kind == "ready":
            self._at_ready(ident)
            self._ready.set()
            return
        event = self._event(data)
        if event is None:
            return
        with self._deliver_lock:
            if self.subscription.closed:
                return
            try:
                self.subscription.callback(event)
            except Exception:
                _log.exception("subscriber %r raised on %s event r%d", self.subscription.callback, event.kind,
                               event.revision)


def stream_error(code: str, message: str) -> RegistryError:
    """A RegistryError with ``code``: why an event stream ended rather than skip changes."""
    error = RegistryError(message)
    error.code = code
    return error
