"""Change events and their delivery to subscribers."""

from __future__ import annotations

import itertools
import logging
import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Literal

__all__ = ["EVENT_KINDS", "EventHub", "EventKind", "RegistryEvent", "Subscription"]

EventKind = Literal["registered", "unregistered", "alias_set", "alias_removed"]
EVENT_KINDS: tuple[str, ...] = ("registered", "unregistered", "alias_set", "alias_removed")
_log = logging.getLogger("modelreg.events")


@dataclass(frozen=True, slots=True)
class RegistryEvent:
    """One committed change; ``revision`` increases strictly across the whole registry."""

    kind: EventKind
    name: str
    version: str | None
    alias: str | None
    revision: int
    at: datetime
    actor: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (``at`` as ISO 8601)."""
        return {
            "kind": self.kind,
            "name": self.name,
            "version": self.version,
            "alias": self.alias,
            "revision": self.revision,
            "at": self.at.isoformat(),
            "actor": self.actor,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RegistryEvent:
        """Inverse of ``to_dict``."""
        return cls(
            kind=data["kind"],
            name=data["name"],
            version=data.get("version"),
            alias=data.get("alias"),
            revision=int(data["revision"]),
            at=datetime.fromisoformat(data["at"]),
            actor=data.get("actor"),
        )


Callback = Callable[[RegistryEvent], object]


class Subscription:
    """A registered callback; ``close()`` (or leaving a ``with`` block) stops delivery."""

    __slots__ = ("_hub", "_id", "callback")

    def __init__(self, hub: EventHub, sub_id: int, callback: Callback) -> None:
        self._hub: EventHub | None = hub
        self._id = sub_id
        self.callback = callback

    @property
    def closed(self) -> bool:
        """True once ``close()`` has been called."""
        return self._hub is None

    def close(self) -> None:
        """Stop delivery and drop the hub's reference to the callback; idempotent."""
        hub, self._hub = self._hub, None
        if hub is not None:
            hub._remove(self._id)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class EventHub:
    """Delivers events to subscribers in revision order, outside the writers' lock.

    Writers ``enqueue`` while holding their own lock (so the queue is in revision
    order) and call ``deliver`` after releasing it. Whichever thread holds the
    delivery lock drains the queue; others return at once instead of waiting on
    a slow subscriber, and nothing is stranded because the drainer re-checks.
    """

    def __init__(self) -> None:
        self._ids = itertools.count()
        self._subs: dict[int, Subscription] = {}
        self._snapshot: tuple[Subscription, ...] = ()
        self._subs_lock = threading.Lock()
        self._queue: deque[RegistryEvent] = deque()
        self._deliver_lock = threading.Lock()

    def subscribe(self, callback: Callback) -> Subscription:
        """Register ``callback`` for every event enqueued from now on."""
        if not callable(callback):
            raise TypeError(f"callback must be callable, not {type(callback).__name__}")
        with self._subs_lock:
            sub = Subscription(self, next(self._ids), callback)
            self._subs[sub._id] = sub
            self._snapshot = tuple(self._subs.values())
        return sub

    def _remove(self, sub_id: int) -> None:
        with self._subs_lock:
            self._subs.pop(sub_id, None)
            self._snapshot = tuple(self._subs.values())

    @property
    def subscriber_count(self) -> int:
        """How many open subscriptions there are."""
        return len(self._snapshot)

    def enqueue(self, events: Iterable[RegistryEvent]) -> None:
        """Queue events for delivery; call in revision order. Dropped when nobody listens."""
        if self._snapshot:
            self._queue.extend(events)

    def deliver(self) -> None:
        """Hand queued events to every subscriber, oldest first."""
        while self._queue:
            if not self._deliver_lock.acquire(blocking=False):
                return  # the holder drains what we queued (it re-checks after releasing)
            try:
                while self._queue:
                    event = self._queue.popleft()
                    for sub in self._snapshot:
                        if not sub.closed:
                            self._call(sub, event)
            finally:
                self._deliver_lock.release()

    @staticmethod
    def _call(sub: Subscription, event: RegistryEvent) -> None:
        try:
            sub.callback(event)
        except Exception:
            _log.exception("subscriber %r raised on %s event r%d", sub.callback, event.kind, event.revision)
