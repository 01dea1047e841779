"""The change-event stream: Server-Sent Events, resumable with ``Last-Event-ID``.

The server subscribes to the registry once and keeps the most recent events, each
encoded once, in a bounded buffer; each stream starts by naming the store it serves
(``hello``), replays the buffer past the client's last revision and then follows it.
Older events come from the registry's event log when it declares one (``EventLog``,
as every backend does); for a registry without one (a user's own ``ModelRegistry``)
a client that asks for events older than the buffer gets 410, and so does one that
asks for a revision this store has not reached, so it never silently misses a change.
``changes`` answers the same questions as a list (``GET /api/v1/changes``).

Fan-out must not slow the registry: the streams of one event loop are woken together,
by one call from the registry's event thread, at once after a quiet spell but then at
most once per 1 ms per open stream (at most 1 s), 16 streams at a time with 1 ms in
between, so requests are answered and writers' threads run in between. Under a write storm each stream gets a few large
writes a second instead of one small write per event; each event is encoded once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable

from ..errors import StoreError
from ..events import RegistryEvent
from ..registry import EventLog, ModelRegistry
from .problems import HTTPProblem

__all__ = ["DEFAULT_BUFFER", "DEFAULT_HEARTBEAT", "EventFeed"]

DEFAULT_BUFFER = 10_000
DEFAULT_HEARTBEAT = 15.0
_RETRY_MS = 1000
_REPLAY_BATCH = 1000
# Waking a stream to send costs tens of microseconds of the loop's time, mostly its socket
# write. Measured with 500 streams (bench/bench_server.py --streams 500): flushes 0.2 ms apart
# per stream left a write storm ~0.5x of its writes, 1 ms ~0.8-0.9x, and 1 ms with a 1 ms gap
# between batches of 32 streams ~1.0x: the loop idles in the gap, so writers' threads get the
# GIL back at once instead of after the 5 ms switch interval, and requests are answered.
# Batches of 16 keep each stall of the loop short enough that reads' p99 stays at 1.0-1.3x
# of the same storm without streams (32: 1.8-2.3x).
_WAKE_BATCH = 16
_BATCH_GAP = 0.001
_FLUSH_SECONDS_PER_STREAM = 0.001
_MAX_FLUSH_INTERVAL = 1.0
_CHUNK_CACHE = 16
Visible = Callable[[str], bool]
"""Which models' events a stream or a changes listing carries (a scoped token's); None: every model's."""


def _message(event: RegistryEvent) -> str:
    data = json.dumps(event.to_dict(), ensure_ascii=True, separators=(",", ":"))
    return f"id: {event.revision}\nevent: {event.kind}\ndata: {data}\n\n"


class _Stream:
    """One open event stream: where it is, and the future it sleeps on between flushes."""

    __slots__ = ("keepalive", "last", "sent_at", "waiter")

    def __init__(self, last: int, now: float) -> None:
        self.last = last
        self.sent_at = now
        self.keepalive = False
        self.waiter: asyncio.Future[None] | None = None

    def wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


class _Fanout:
    """The streams one event loop serves; woken together, at most once per flush interval."""

    def __init__(self, loop: asyncio.AbstractEventLoop, lock: threading.Lock, heartbeat: float) -> None:
        self.loop = loop
        self.streams: set[_Stream] = set()
        self.pending = False  # a flush is on its way (under ``lock``, the feed's)
        self._lock = lock
        self._heartbeat = heartbeat
        self._last_flush = float("-inf")
        self._ticker: asyncio.TimerHandle | None = None

    def add(self, stream: _Stream) -> None:
        self.streams.add(stream)
        if self._ticker is None:
            self._ticker = self.loop.call_later(self._heartbeat / 3, self._tick)

    def discard(self, stream: _Stream) -> None:
        self.streams.discard(stream)
        if not self.streams and self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None

    def kick(self) -> None:
        """New events (called in the loop): flush now, or once the interval since the last flush is up."""
        due = self._last_flush + min(_MAX_FLUSH_INTERVAL, len(self.streams) * _FLUSH_SECONDS_PER_STREAM)
        if self.loop.time() >= due:
            self.flush()
        else:
            self.loop.call_at(due, self.flush)

    def flush(self) -> None:
        """Wake every stream, ``_WAKE_BATCH`` at a time, ``_BATCH_GAP`` apart."""
        with self._lock:
            self.pending = False  # before the streams read the buffer: a later event kicks again
        self._last_flush = self.loop.time()
        self._wake(list(self.streams), 0)

    def _wake(self, streams: list[_Stream], start: int) -> None:
        end = start + _WAKE_BATCH
        for stream in streams[start:end]:
            stream.wake()
        if end < len(streams):
            self.loop.call_later(_BATCH_GAP, self._wake, streams, end)

    def _tick(self) -> None:
        """Every third of a heartbeat: wake the streams that have been silent for a heartbeat."""
        now = self.loop.time()
        for stream in self.streams:
            if now - stream.sent_at >= self._heartbeat:
                stream.keepalive = True
                stream.wake()
        self._ticker = self.loop.call_later(self._heartbeat / 3, self._tick)


class EventFeed:
    """Recent registry events, shared by every event stream of one app."""

    def __init__(
        self,
        registry: ModelRegistry,
        *,
        log: EventLog | None = None,
        limit: int = DEFAULT_BUFFER,
        heartbeat: float = DEFAULT_HEARTBEAT,
    ) -> None:
        """Follow ``registry``; ``log`` is the same registry when it declares an event log (None: the buffer only)."""
        self._log = log
        # A registry that keeps no log keeps no id either: it is a store of its own for each server.
        self.store_id = log.store_id if log is not None else uuid.uuid4().hex
        self._lock = threading.Lock()
        self._events: deque[tuple[int, str, RegistryEvent]] = deque(maxlen=limit)  # (revision, SSE text, event)
        self._chunks: dict[int, tuple[str, int]] = {}  # after revision -> (text up to the head, head)
        self._fanouts: dict[asyncio.AbstractEventLoop, _Fanout] = {}
        self._closing = False
        self.heartbeat = heartbeat
        # Subscribe before reading the revision: every event after the floor is then buffered.
        self._subscription = registry.subscribe(self._on_event)
        self._floor = self.current()

    @property
    def clients(self) -> int:
        """Open event streams."""
        with self._lock:
            return sum(len(fanout.streams) for fanout in self._fanouts.values())

    def current(self) -> int:
        """The registry's revision now (the newest buffered event's, for a registry without a log)."""
        if self._log is not None:
            return self._log.revision
        with self._lock:
            return self._events[-1][0] if self._events else 0

    def catch_up(self) -> None:
        """Read changes other processes committed (blocking): a client may have seen them elsewhere."""
        if self._log is not None:
            self._log.refresh()

    def _on_event(self, event: RegistryEvent) -> None:
        # Runs in the registry's event thread; one call into each loop, however many streams it serves.
        text = _message(event)
        with self._lock:
            if self._events.maxlen is not None and len(self._events) == self._events.maxlen:
                self._floor = max(self._floor, self._events[0][0])
            self._events.append((event.revision, text, event))
            kicks = [fanout for fanout in self._fanouts.values() if not fanout.pending]
            for fanout in kicks:
                fanout.pending = True
        for fanout in kicks:
            with contextlib.suppress(RuntimeError):  # that loop is closed; its streams are gone
                fanout.loop.call_soon_threadsafe(fanout.kick)

    def _after(self, revision: int, visible: Visible | None = None) -> tuple[str, int] | None:
        """Up to ``_REPLAY_BATCH`` buffered events past ``revision`` as SSE text, and the last one's revision.

        None when some of them have been dropped from the buffer. Streams at the
        same revision (nearly all of them, after a flush) share one text; a scoped
        stream (``visible``: the models its token sees) gets only its models' events.
        """
        with self._lock:
            if revision < self._floor:
                return None
            head = self._events[-1][0] if self._events else revision
            if head <= revision:
                return "", revision
            cached = self._chunks.get(revision) if visible is None else None
            if cached is not None and cached[1] == head:
                return cached
            newer: list[tuple[int, str, RegistryEvent]] = []
            for event in reversed(self._events):
                if event[0] <= revision:
                    break
                newer.append(event)
        if len(newer) > _REPLAY_BATCH:  # far behind: catch up a batch at a time
            batch = newer[: -_REPLAY_BATCH - 1 : -1]
            return "".join(text for _, text, event in batch if visible is None or visible(event.name)), batch[-1][0]
        if visible is not None:
            return "".join(text for _, text, event in reversed(newer) if visible(event.name)), head
        found = "".join(text for _, text, _ in reversed(newer)), head
        with self._lock:
            if len(self._chunks) >= _CHUNK_CACHE:
                self._chunks.clear()
            self._chunks[revision] = found
        return found

    def start(self, since: int | None) -> int:
        """The revision a new stream starts after (HTTPProblem 410 if ``since`` is too old or too new)."""
        current = self.current()
        if since is None:
            return current
        if since > current:
            raise HTTPProblem(
                "unknown_revision",
                f"this store (id {self.store_id}) is at revision {current}, so it has no revision {since}: "
                "it is not the store that revision came from, or it was recreated or restored from a backup; "
                f"start again from revision {current} or less, knowing the changes seen before may be gone",
                extra={"revision": current, "since": since, "store": self.store_id},
            )
        with self._lock:
            floor = self._floor
        if since < floor and self._log is None:
            raise HTTPProblem(
                "events_unavailable",
                f"events after revision {since} are no longer available here (this server keeps events "
                f"after revision {floor}); resume from revision {floor} to get every later change",
                extra={"available_after": floor},
            )
        return since

    def beyond_buffer(self, revision: int) -> bool:
        """Whether the events after ``revision`` have to come from the registry's log."""
        with self._lock:
            return revision < self._floor

    def check_log(self, revision: int) -> None:
        """EventsUnavailableError (410) if the log no longer holds the event after ``revision`` (blocking).

        A store that fails to answer is left to the stream's replay, which reports it as it would mid-stream.
        """
        if self._log is not None:
            with contextlib.suppress(StoreError):
                self._log.events_after(revision, 1)

    def changes(
        self, after: int | None, limit: int, visible: Visible | None = None
    ) -> tuple[str, int, list[RegistryEvent]]:
        """The store id, the revision now, and up to ``limit`` events after ``after`` (blocking: may read the log).

        None for ``after`` asks for no events, only the revision; a revision out of reach is
        refused as ``start`` refuses it (410 unknown_revision, or events_unavailable).
        ``visible`` keeps only the events of the models it accepts (a scoped token's), still up to ``limit``.
        """
        revision = self.current()
        if after is None:
            return self.store_id, revision, []
        self.start(after)
        if self._log is not None:
            found = self._log.events_after(after, limit) if visible is None else self._seen(after, limit, visible)
        else:
            with self._lock:
                floor = self._floor
                found = [event for rev, _, event in self._events
                         if rev > after and (visible is None or visible(event.name))][:limit]
            if after < floor:
                self.start(after)  # the buffer dropped them since: refused as above
        return self.store_id, max(revision, found[-1].revision if found else 0), found

    def _seen(self, after: int, limit: int, visible: Visible) -> list[RegistryEvent]:
        """Up to ``limit`` events of the visible models after ``after``, read from the log a page at a time.

        A short page must mean "no more" to a client that pages, so this reads on past other models' events.
        """
        assert self._log is not None
        found: list[RegistryEvent] = []
        while len(found) < limit:
            batch = self._log.events_after(after, limit)
            found += [event for event in batch if visible(event.name)]
            if len(batch) < limit:
                break
            after = batch[-1].revision
        return found[:limit]

    def _join(self, loop: asyncio.AbstractEventLoop, stream: _Stream) -> _Fanout:
        with self._lock:
            fanout = self._fanouts.get(loop)
            if fanout is None:
                fanout = self._fanouts[loop] = _Fanout(loop, self._lock, self.heartbeat)
            fanout.add(stream)
            return fanout

    def _leave(self, fanout: _Fanout, stream: _Stream) -> None:
        with self._lock:
            fanout.discard(stream)
            if not fanout.streams and self._fanouts.get(fanout.loop) is fanout:
                del self._fanouts[fanout.loop]

    async def stream(self, start: int, visible: Visible | None = None) -> AsyncIterator[str]:
        """SSE text: ``hello`` (store id, current revision), ``ready`` naming ``start``, then every later event.

        With ``visible`` (a scoped token's models) only the events of the models it accepts.
        """
        loop = asyncio.get_running_loop()
        stream = _Stream(start, loop.time())
        fanout = self._join(loop, stream)
        try:
            hello = json.dumps({"store": self.store_id, "revision": self.current()})
            ready = json.dumps({"revision": start})
            yield f"retry: {_RETRY_MS}\nevent: hello\ndata: {hello}\n\nid: {start}\nevent: ready\ndata: {ready}\n\n"
            while not self._closing:
                found = self._after(stream.last, visible)
                if found is None and self._log is not None:  # older than the buffer: read the store's log
                    batch = await asyncio.to_thread(self._log.events_after, stream.last, _REPLAY_BATCH)
                    text = "".join(_message(event) for event in batch if visible is None or visible(event.name))
                    found = text, batch[-1].revision if batch else stream.last
                if found is None:
                    yield ": this stream fell too far behind; reconnect to resume\n\n"
                    return
                text, stream.last = found
                if text or stream.keepalive:
                    stream.keepalive = False
                    stream.sent_at = loop.time()
                    yield text or ": keep-alive\n\n"
                    continue
                stream.waiter = loop.create_future()
                await stream.waiter
                stream.waiter = None
        finally:
            self._leave(fanout, stream)

    def close(self) -> None:
        """End every stream (server shutdown) and stop following the registry; idempotent."""
        self._closing = True
        self._subscription.close()
        with self._lock:
            fanouts = list(self._fanouts.values())
        for fanout in fanouts:
            with contextlib.suppress(RuntimeError):  # that loop is closed; its streams are gone
                fanout.loop.call_soon_threadsafe(fanout.flush)
