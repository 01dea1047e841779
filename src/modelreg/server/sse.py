"""The change-event stream: Server-Sent Events, resumable with ``Last-Event-ID``.

The server subscribes to the registry once and keeps the most recent events in a
bounded buffer; each stream replays the buffer past the client's last revision and
then follows it. Older events come from the store's events table when it has one
(``events_after`` on the durable stores); otherwise a client that asks for events
older than the buffer gets 410, so it never silently misses a change.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable

from ..events import RegistryEvent
from ..registry import ModelRegistry
from .problems import HTTPProblem

__all__ = ["DEFAULT_BUFFER", "DEFAULT_HEARTBEAT", "EventFeed"]

DEFAULT_BUFFER = 10_000
DEFAULT_HEARTBEAT = 15.0
_RETRY_MS = 1000
_REPLAY_BATCH = 1000
_Waiter = tuple[asyncio.AbstractEventLoop, asyncio.Event]


def _message(event: RegistryEvent) -> str:
    data = json.dumps(event.to_dict(), ensure_ascii=True, separators=(",", ":"))
    return f"id: {event.revision}\nevent: {event.kind}\ndata: {data}\n\n"


class EventFeed:
    """Recent registry events, shared by every event stream of one app."""

    def __init__(self, registry: ModelRegistry, *, limit: int = DEFAULT_BUFFER, heartbeat: float = DEFAULT_HEARTBEAT):
        self._registry = registry
        self._lock = threading.Lock()
        self._events: deque[RegistryEvent] = deque(maxlen=limit)
        self._waiters: set[_Waiter] = set()
        self._closing = False
        self.heartbeat = heartbeat
        # Subscribe before reading the revision: every event after the floor is then buffered.
        self._subscription = registry.subscribe(self._on_event)
        self._floor = self.current()
        replay = getattr(registry, "events_after", None)
        self._replay: Callable[[int, int], list[RegistryEvent]] | None = replay if callable(replay) else None

    @property
    def clients(self) -> int:
        """Open event streams."""
        return len(self._waiters)

    def current(self) -> int:
        """The registry's revision now (the newest buffered event's, for registries without one)."""
        revision = getattr(self._registry, "revision", None)
        if isinstance(revision, int):
            return revision
        with self._lock:
            return self._events[-1].revision if self._events else 0

    def _on_event(self, event: RegistryEvent) -> None:
        # Runs in the writer's thread (or a store's watcher thread), after its lock is released.
        with self._lock:
            if self._events.maxlen is not None and len(self._events) == self._events.maxlen:
                self._floor = max(self._floor, self._events[0].revision)
            self._events.append(event)
            waiters = list(self._waiters)
        _wake(waiters)

    def _after(self, revision: int) -> list[RegistryEvent] | None:
        """Buffered events past ``revision``, oldest first; None when some have been dropped."""
        with self._lock:
            if revision < self._floor:
                return None
            found = []
            for event in reversed(self._events):
                if event.revision <= revision:
                    break
                found.append(event)
        found.reverse()
        return found

    def start(self, since: int | None) -> int:
        """The revision a new stream starts after (HTTPProblem 410 if ``since`` is too old)."""
        if since is None:
            return self.current()
        with self._lock:
            floor = self._floor
        if since < floor and self._replay is None:
            raise HTTPProblem(
                "events_unavailable",
                f"events after revision {since} are no longer available here (this server keeps events "
                f"after revision {floor}); resume from revision {floor} to get every later change",
                extra={"available_after": floor},
            )
        return since

    async def stream(self, start: int) -> AsyncIterator[str]:
        """SSE text: a ``ready`` event naming ``start``, then every event after it, with heartbeats."""
        wake = asyncio.Event()
        waiter = (asyncio.get_running_loop(), wake)
        with self._lock:
            self._waiters.add(waiter)
        last = start
        try:
            ready = json.dumps({"revision": start})
            yield f"retry: {_RETRY_MS}\nid: {start}\nevent: ready\ndata: {ready}\n\n"
            while not self._closing:
                wake.clear()  # before reading, so a wake-up during the read is not lost
                batch = self._after(last)
                if batch is None and self._replay is not None:  # older than the buffer: read the store
                    batch = await asyncio.to_thread(self._replay, last, _REPLAY_BATCH)
                if batch is None:
                    yield ": this stream fell too far behind; reconnect to resume\n\n"
                    return
                if batch:
                    last = batch[-1].revision
                    yield "".join(_message(event) for event in batch)
                    continue
                try:
                    await asyncio.wait_for(wake.wait(), self.heartbeat)
                except TimeoutError:
                    yield ": keep-alive\n\n"
        finally:
            with self._lock:
                self._waiters.discard(waiter)

    def close(self) -> None:
        """End every stream (server shutdown) and stop following the registry; idempotent."""
        self._closing = True
        self._subscription.close()
        with self._lock:
            waiters = list(self._waiters)
        _wake(waiters)


def _wake(waiters: list[_Waiter]) -> None:
    for loop, wake in waiters:
        with contextlib.suppress(RuntimeError):  # that stream's loop is closed; it is going away
            loop.call_soon_threadsafe(wake.set)
