"""The async client's end of the event stream: ``async for event in client.events(since=...)``.

The same rules as the blocking subscription (``_events.StreamFollower``): it reconnects
with ``Last-Event-ID`` after a broken connection, so each change comes once and in
revision order; when a reconnect finds another store, a rewound one, or a server that
no longer has the events to resume from, the iteration raises a RegistryError whose
``code`` says which (``store_changed``, ``unknown_revision``, ``events_unavailable``),
rather than carry on past changes it never delivered.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import AsyncIterator, Callable
from types import TracebackType
from typing import Protocol

import httpx

from ..errors import RegistryError, StoreError
from ..events import Callback, RegistryEvent
from ._events import MAX_DELAY, READ_TIMEOUT, SseParser, StreamFollower

__all__ = ["AsyncEvents", "AsyncSubscription", "EventSource"]

_log = logging.getLogger("modelreg.client")


class EventSource(Protocol):
    """What the stream needs of its ``AsyncRegistryClient``."""

    url: str
    timeout: float

    async def open_events(self, headers: dict[str, str], timeout: httpx.Timeout) -> httpx.Response:
        """Send ``GET /api/v1/events``; the response, its body still to read."""
        ...

    def error_for(self, response: httpx.Response) -> RegistryError:
        """The exception a problem response stands for."""
        ...


class AsyncEvents(StreamFollower):
    """An async iterator over the server's changes after now (or after ``since``), once each, in order.

    ``async with client.events() as events:`` connects on entering, so every change after
    that is delivered; a bare ``async for`` connects on its first step. It ends only on
    ``aclose()``; a stream that cannot go on raises (``error`` keeps why) every time it is asked.
    """

    def __init__(self, client: EventSource, since: int | None = None) -> None:
        super().__init__(client.url, since)
        self._client = client
        self._response: httpx.Response | None = None
        self._lines: AsyncIterator[str] | None = None
        self._parser = SseParser()
        self._ready = False
        self._closed = False
        self._early: list[RegistryEvent] = []

    async def start(self) -> None:
        """Connect and read up to the server's ``ready``: changes after it will be delivered.

        StoreError when no stream comes within the client's timeout; the server's error when it refuses one.
        """
        if self._ready:
            return
        try:
            async with asyncio.timeout(self._client.timeout + 1.0):
                await self._connect()
                while not self._ready:
                    if (event := await self._step()) is not None:
                        self._early.append(event)  # the server sends none before ready; never drop one
        except TimeoutError:
            await self.aclose()
            raise StoreError(f"no event stream from {self._client.url} within {self._client.timeout:g} s") from None
        except httpx.HTTPError as exc:
            await self.aclose()
            raise StoreError(f"cannot follow events from {self._client.url}: {exc}") from exc
        except BaseException:
            await self.aclose()
            raise

    def __aiter__(self) -> AsyncEvents:
        return self

    async def __anext__(self) -> RegistryEvent:
        if self.error is not None:
            raise self.error
        if self._closed:
            raise StopAsyncIteration
        await self.start()
        if self._early:
            return self._early.pop(0)
        delay = 0.1
        while True:
            try:
                if self._lines is None:
                    await self._connect()
                event = await self._step()
            except RegistryError as exc:
                if self.error is exc:
                    raise
                _log.warning("event stream from %s broke (%s); reconnecting in %.1f s", self._client.url, exc, delay)
            except httpx.HTTPError as exc:
                _log.warning("event stream from %s broke (%s); reconnecting in %.1f s", self._client.url, exc, delay)
            else:
                if event is not None:
                    return event
                if self._lines is not None:
                    delay = 0.1  # the stream is flowing again
                    continue
                delay = 0.1  # a clean end (the server shutting down): come back soon
            await self._disconnect()
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_DELAY)

    async def _connect(self) -> None:
        timeout = httpx.Timeout(self._client.timeout, read=READ_TIMEOUT)
        response = await self._client.open_events(self._headers(), timeout)
        if response.status_code != 200:
            await response.aread()
            await response.aclose()
            if response.status_code == 410 and self._ready:
                self._end(self._gone(response))
            raise self._client.error_for(response)
        self._response = response
        self._lines = response.aiter_lines()
        self._parser = SseParser()  # a half-read event of a broken connection is not one

    async def _step(self) -> RegistryEvent | None:
        """Read one line: the event it completes, if any; at the stream's end, disconnect."""
        assert self._lines is not None  # _connect set it
        try:
            line = await anext(self._lines)
        except StopAsyncIteration:
            await self._disconnect()
            return None
        item = self._parser.feed(line)
        if item is None:
            return None
        kind, ident, data = item
        if kind == "hello":
            error = self._hello_error(data)
            if error is not None:
                self._end(error)
            return None
        if kind == "ready":
            self._at_ready(ident)
            self._ready = True
            return None
        return self._event(data)

    def _end(self, error: RegistryError) -> None:
        """End the stream rather than skip changes; raised now and on every later step."""
        self.error = error
        _log.error("event stream from %s ended rather than skip changes: %s", self._client.url, error)
        raise error

    async def _disconnect(self) -> None:
        response, self._response, self._lines = self._response, None, None
        if response is not None:
            with contextlib.suppress(httpx.HTTPError):
                await response.aclose()

    async def aclose(self) -> None:
        """Close the connection; the iteration ends (idempotent)."""
        self._closed = True
        await self._disconnect()

    async def __aenter__(self) -> AsyncEvents:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


class AsyncSubscription:
    """``callback`` called with each change by a task of the running loop; ``await close()`` stops it.

    A callback may be a plain function or a coroutine function (then awaited); one that
    raises is logged and the next event still delivered. ``error`` says why the stream
    ended on its own (as ``RemoteSubscription.error``); the subscription is then closed.
    """

    def __init__(self, events: AsyncEvents, callback: Callback, on_stop: Callable[[AsyncSubscription], None]) -> None:
        self.callback = callback
        self._events = events
        self._on_stop = on_stop
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Begin delivering (the stream is already connected)."""
        self._task = asyncio.get_running_loop().create_task(self._deliver(), name="modelreg-events")

    @property
    def closed(self) -> bool:
        """True once closed, or once the stream ended on its own (see ``error``)."""
        return self._task is None or self._task.done()

    @property
    def error(self) -> RegistryError | None:
        """Why delivery ended on its own (a RegistryError with a ``code``), or None."""
        return self._events.error

    async def _deliver(self) -> None:
        try:
            async for event in self._events:
                try:
                    result = self.callback(event)
                    if inspect.isawaitable(result):
                        await result
                except Exception:
                    _log.exception("subscriber %r raised on %s event r%d", self.callback, event.kind, event.revision)
        except RegistryError:
            pass  # kept as self.error, logged by the stream
        finally:
            await self._events.aclose()
            self._on_stop(self)

    async def close(self) -> None:
        """Stop delivery and close the stream; idempotent. A callback in progress is cancelled."""
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._events.aclose()

    async def __aenter__(self) -> AsyncSubscription:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()
