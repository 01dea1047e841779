"""Change events and their delivery to subscribers."""

from __future__ import annotations

import itertools
import logging
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Literal

from ._frozen import FrozenDict, frozen_dict, frozen_list
from .errors import RegistryError

__all__ = [
    "ANNOTATION_KINDS",
    "DETAIL_KINDS",
    "EVENT_KINDS",
    "EVENT_SHAPES",
    "GOVERNANCE_KINDS",
    "EventHub",
    "EventKind",
    "EventShape",
    "RegistryEvent",
    "Subscription",
    "freeze_detail",
]

EventKind = Literal[
    "registered", "unregistered", "alias_set", "alias_removed", "annotated", "model_annotated",
    "policy_set", "policy_removed", "promotion_requested", "promotion_approved", "promotion_rejected",
]


@dataclass(frozen=True, slots=True)
class EventShape:
    """Which fields an event of one kind carries: ``version`` (required, none, optional), ``alias``, ``detail``."""

    version: Literal["required", "none", "optional"]
    alias: bool
    detail: bool


# The one table of event kinds, in the order they were added (the stores' CHECK lists them so).
EVENT_SHAPES: Mapping[str, EventShape] = {
    "registered": EventShape("required", alias=False, detail=False),
    "unregistered": EventShape("required", alias=False, detail=False),
    "alias_set": EventShape("required", alias=True, detail=False),
    "alias_removed": EventShape("required", alias=True, detail=False),
    "annotated": EventShape("required", alias=False, detail=True),
    "model_annotated": EventShape("none", alias=False, detail=True),
    "policy_set": EventShape("none", alias=True, detail=True),  # detail: the policy (AliasPolicy.to_dict())
    "policy_removed": EventShape("none", alias=True, detail=False),
    # version: the requested target (None: remove the alias); detail: {"id", "reason"} and, when the
    # request moved the alias at once (no approvals needed), "final": true
    "promotion_requested": EventShape("optional", alias=True, detail=True),
    "promotion_approved": EventShape("optional", alias=True, detail=True),  # {"id", "final"}
    "promotion_rejected": EventShape("optional", alias=True, detail=True),  # {"id", "reason"}
}
EVENT_KINDS: tuple[str, ...] = tuple(EVENT_SHAPES)
if set(EVENT_KINDS) != set(EventKind.__args__):  # type: ignore[attr-defined]
    raise ImportError("EventKind and EVENT_SHAPES must list the same kinds")
ANNOTATION_KINDS: frozenset[str] = frozenset({"annotated", "model_annotated"})
DETAIL_KINDS: frozenset[str] = frozenset(kind for kind, shape in EVENT_SHAPES.items() if shape.detail)
GOVERNANCE_KINDS: frozenset[str] = frozenset(kind for kind in EVENT_KINDS if kind.startswith(("policy_", "promotion_")))
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
    detail: Mapping[str, Any] | None = None
    """Read-only; what an ``annotated`` / ``model_annotated`` event changed (the keys given: ``description``,
    ``set_tags``, ``remove_tags``, ``add_metrics``), a ``policy_set`` event's policy, a promotion
    event's request id and reason (``EVENT_SHAPES``); None for the other kinds."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (``at`` as ISO 8601; ``detail`` only when the event has one)."""
        out: dict[str, Any] = {
            "kind": self.kind,
            "name": self.name,
            "version": self.version,
            "alias": self.alias,
            "revision": self.revision,
            "at": self.at.isoformat(),
            "actor": self.actor,
        }
        if self.detail is not None:
            out["detail"] = self.detail  # read-only dicts and lists are still dicts and lists to json
        return out

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
            detail=None if data.get("detail") is None else freeze_detail(data["detail"]),
        )


def freeze_detail(detail: Mapping[str, Any]) -> FrozenDict:
    """``detail`` (JSON: dicts, lists, scalars) as read-only dicts and lists, for ``RegistryEvent.detail``."""

    def freeze(value: Any) -> Any:
        if isinstance(value, Mapping):
            return frozen_dict({key: freeze(item) for key, item in value.items()})
        if isinstance(value, list | tuple):
            return frozen_list(freeze(item) for item in value)
        return value

    frozen: FrozenDict = freeze(detail)
    return frozen


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
        """True once ``close()`` has been called (or the subscription ended on its own, see ``error``)."""
        return self._hub is None

    @property
    def error(self) -> RegistryError | None:
        """Why delivery ended on its own, or None; in-process subscriptions never do.

        A ``RegistryClient`` subscription ends, closed, rather than skip changes: when
        its server now serves another store, a rewound one, or has dropped the events
        it would need to resume (the ``code`` says which).
        """
        return None

    def close(self) -> None:
        """Stop delivery and release the callback; idempotent.

        Changes committed before ``close()`` are still delivered first (waiting
        up to 10 s for them), so ``with registry.subscribe(cb): registry.write()``
        sees its own write; nothing committed after it is.
        """
        hub = self._hub
        if hub is None:
            return
        hub._settle()
        self._hub = None
        hub._remove(self._id)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class EventHub:
    """Delivers events to subscribers in revision order, on one dispatcher thread.

    Writers ``enqueue`` while holding their own lock (so the queue is in revision
    order) and return at once: a slow subscriber never holds up a write. The
    queue is bounded (``max_pending``); when subscribers fall that far behind,
    writers wait for room rather than let memory grow or drop events. The
    thread starts with the first subscription and ends with ``close()``.
    """

    def __init__(self, *, max_pending: int = 100_000) -> None:
        self._ids = itertools.count()
        self._subs: dict[int, Subscription] = {}
        self._snapshot: tuple[Subscription, ...] = ()
        self._queue: deque[RegistryEvent] = deque()
        self._max_pending = max_pending
        self._cond = threading.Condition(threading.Lock())
        self._thread: threading.Thread | None = None
        self._closed = False
        self._busy = False  # the dispatcher is handing out an event it took off the queue
        self._enqueued = 0  # events queued since the start; with _delivered, lets close() settle
        self._delivered = 0

    def subscribe(self, callback: Callback) -> Subscription:
        """Register ``callback`` for every event enqueued from now on."""
        if not callable(callback):
            raise TypeError(f"callback must be callable, not {type(callback).__name__}")
        with self._cond:
            sub = Subscription(self, next(self._ids), callback)
            self._subs[sub._id] = sub
            self._snapshot = tuple(self._subs.values())
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(target=self._run, name="modelreg-events", daemon=True)
                self._thread.start()
        return sub

    def _settle(self, timeout: float = 10.0) -> None:
        """Wait until every event enqueued so far has been handed out (not from a callback)."""
        if threading.current_thread() is self._thread:
            return  # a callback closing its own subscription: the dispatcher cannot wait for itself
        with self._cond:
            target = self._enqueued
            self._cond.wait_for(lambda: self._delivered >= target or self._closed, timeout)

    def _remove(self, sub_id: int) -> None:
        with self._cond:
            self._subs.pop(sub_id, None)
            self._snapshot = tuple(self._subs.values())

    @property
    def subscriber_count(self) -> int:
        """How many open subscriptions there are."""
        return len(self._snapshot)

    def enqueue(self, events: Iterable[RegistryEvent]) -> None:
        """Queue events for delivery; call in revision order. Dropped when nobody listens."""
        if not self._snapshot:
            return
        on_dispatcher = threading.current_thread() is self._thread
        with self._cond:
            for event in events:
                # A subscriber writing from its callback must not wait on itself.
                while len(self._queue) >= self._max_pending and not on_dispatcher and not self._closed:
                    self._cond.wait()
                self._queue.append(event)
                self._enqueued += 1
            self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                if self._busy:
                    self._delivered += 1
                self._busy = False
                self._cond.notify_all()
                self._cond.wait_for(lambda: self._queue or self._closed)
                if not self._queue:
                    return
                event = self._queue.popleft()
                self._busy = True
                self._cond.notify_all()
            for sub in self._snapshot:
                if not sub.closed:
                    self._call(sub, event)

    def close(self) -> None:
        """Deliver what is queued, then stop the dispatcher thread; later events are dropped."""
        with self._cond:
            self._closed = True
            thread = self._thread
            self._cond.notify_all()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=10)
        with self._cond:
            self._subs.clear()
            self._snapshot = ()
            self._queue.clear()

    @staticmethod
    def _call(sub: Subscription, event: RegistryEvent) -> None:
        try:
            sub.callback(event)
        except Exception:
            _log.exception("subscriber %r raised on %s event r%d", sub.callback, event.kind, event.revision)
