"""MemoryRegistry: the whole registry in one process's memory."""

from __future__ import annotations

import functools
import itertools
import uuid
from collections import deque
from collections.abc import Iterable
from datetime import datetime

from ._base import SnapshotRegistry
from ._checks import int_arg, number_option
from ._deadline import Deadline
from ._history import history_filter
from ._plans import Committed, Plan
from ._travel import TRAVEL_KINDS, Step
from ._webhook_memory import MemoryWebhooks
from .errors import EventsUnavailableError
from .events import RegistryEvent
from .names import validate_name
from .webhooks import WebhookStore

__all__ = ["DEFAULT_HISTORY_LIMIT", "MemoryRegistry"]

DEFAULT_HISTORY_LIMIT = 10_000


class MemoryRegistry(SnapshotRegistry):
    """Thread-safe in-process registry; forgets everything when the process ends.

    ``history_limit`` bounds the events kept for ``history()`` and ``events_after()``
    across all models, so memory stays flat under endless register/unregister cycles.
    """

    def __init__(self, *, history_limit: int = DEFAULT_HISTORY_LIMIT) -> None:
        limit = int(number_option("history_limit", history_limit, minimum=0, integer=True))
        super().__init__()
        self._where = "the in-memory registry"
        self._store_id = uuid.uuid4().hex  # forgotten with the process, like the data
        self._events: deque[RegistryEvent] = deque(maxlen=limit)
        # Per model, the time of its oldest event the buffer has dropped: time travel to then or later
        # would need it. Drops are oldest first, so the first one recorded is the model's earliest.
        # Bounded: entries of models that are gone are pruned, and the earliest pruned time then
        # stands for every model without an entry (it may be one of them), so no answer is wrong.
        self._forgotten: dict[str, datetime] = {}
        self._pruned_since: datetime | None = None

    def _commit(self, plan: Plan, deadline: Deadline) -> Committed:
        # Nothing here waits on anything but this lock, and no write holds it for long: no deadline needed.
        with self._write_lock:
            changes = plan(self._state)
            first = self._state.revision + 1
            events = [self._event(change, first + i) for i, change in enumerate(changes)]
            self._forget(len(self._events) + len(events) - (self._events.maxlen or 0), events)
            self._events.extend(events)
            self._apply(changes, events)
        return Committed(tuple(changes), tuple(events))

    def history(
        self, name: str, *, version: str | None = None, kinds: Iterable[str] | None = None
    ) -> list[RegistryEvent]:
        """The most recent changes to one model (up to ``history_limit`` over all models), oldest first.

        With ``version`` only that version's events, with ``kinds`` only events of those kinds.
        """
        validate_name(name)
        chosen = history_filter(version, kinds)
        events = [event for event in list(self._events) if event.name == name]
        return events if chosen.unfiltered else [event for event in events if chosen.matches(event)]

    def _forget(self, count: int, new: list[RegistryEvent]) -> None:
        """Note the models of the ``count`` oldest events that appending ``new`` pushes out of the buffer."""
        if count <= 0:
            return
        held = len(self._events)
        forgotten, pruned = self._forgotten, self._pruned_since
        for i in range(count):
            event = self._events[i] if i < held else new[i - held]
            if event.name not in forgotten:
                forgotten[event.name] = event.at if pruned is None else min(event.at, pruned)
        if len(forgotten) > 2 * len(self._state.models) + 64:
            models = self._state.models
            gone = [name for name in forgotten if name not in models]
            self._pruned_since = min([forgotten[name] for name in gone] + ([pruned] if pruned else []))
            for name in gone:
                del forgotten[name]

    def _past_steps(self, name: str, at: datetime) -> list[Step]:
        """The model's held events up to ``at``; EventsUnavailableError if the buffer dropped one of them."""
        held = list(self._events)  # copied first: a drop that could touch this copy is already noted
        dropped = self._forgotten.get(name, self._pruned_since)
        if dropped is not None and dropped <= at:
            raise EventsUnavailableError(
                f"the in-memory registry keeps only its last {self._events.maxlen} events (history_limit), "
                f"and it has dropped events of model {name!r} from {dropped.isoformat()} on, so it cannot "
                f"tell how the model stood at {at.isoformat()}; a durable store (sqlite:// or postgresql://) "
                "keeps every event",
                name=name,
            )
        kinds = frozenset(TRAVEL_KINDS)
        return [(e.kind, e.version, e.alias) for e in held if e.name == name and e.kind in kinds and e.at <= at]

    def events_after(self, revision: int, limit: int = 1000) -> list[RegistryEvent]:
        """Up to ``limit`` changes after ``revision``, oldest first, from the last ``history_limit`` events.

        EventsUnavailableError when the event right after ``revision`` has already
        been dropped from the buffer; ``[]`` when nothing came after ``revision``.
        """
        int_arg("revision", revision, minimum=0)
        int_arg("limit", limit, minimum=1)
        held = tuple(self._events)  # one consistent copy: writers append (and evict) meanwhile
        head = held[-1].revision if held else self._state.revision
        if revision >= head:
            return []
        oldest = held[0].revision if held else head + 1
        if revision + 1 < oldest:
            reach = f"revisions {oldest}-{head}" if held else "none"
            raise EventsUnavailableError(
                f"the in-memory registry keeps only its last {self._events.maxlen} events (history_limit; "
                f"it holds {reach}), so no longer revision {revision + 1}; "
                "a durable store (sqlite:// or postgresql://) keeps every event"
            )
        start = revision + 1 - oldest
        return list(itertools.islice(held, start, start + limit))

    def refresh(self) -> None:
        """Nothing to do: no other process writes to this registry."""

    def ping(self) -> None:
        """Always answers: the data lives in this process."""

    def close(self) -> None:
        """Deliver queued events and stop the event thread; the data stays readable."""
        self._hub.close()

    def webhooks(self) -> WebhookStore:
        """This registry's webhooks: in this process only, forgotten with it like the data (docs/webhooks.md)."""
        return self._webhook_store

    @functools.cached_property
    def _webhook_store(self) -> MemoryWebhooks:
        return MemoryWebhooks()

    def __repr__(self) -> str:
        return f"<MemoryRegistry models={len(self._state.names)} revision={self._state.revision}>"
