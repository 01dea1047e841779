"""MemoryRegistry: the whole registry in one process's memory."""

from __future__ import annotations

import uuid
from collections import deque

from ._base import Plan, SnapshotRegistry
from .events import RegistryEvent
from .names import validate_name

__all__ = ["DEFAULT_HISTORY_LIMIT", "MemoryRegistry"]

DEFAULT_HISTORY_LIMIT = 10_000


class MemoryRegistry(SnapshotRegistry):
    """Thread-safe in-process registry; forgets everything when the process ends.

    ``history_limit`` bounds the events kept for ``history()`` across all models,
    so memory stays flat under endless register/unregister cycles.
    """

    def __init__(self, *, history_limit: int = DEFAULT_HISTORY_LIMIT) -> None:
        if isinstance(history_limit, bool) or not isinstance(history_limit, int) or history_limit < 0:
            raise ValueError(f"history_limit must be a non-negative int, not {history_limit!r}")
        super().__init__()
        self._store_id = uuid.uuid4().hex  # forgotten with the process, like the data
        self._events: deque[RegistryEvent] = deque(maxlen=history_limit)

    def _transact(self, plan: Plan) -> list[RegistryEvent]:
        changes = plan(self._state)
        first = self._state.revision + 1
        events = [self._event(change, first + i) for i, change in enumerate(changes)]
        self._apply(changes, events)
        return events

    def _record(self, events: list[RegistryEvent]) -> None:
        self._events.extend(events)

    def history(self, name: str) -> list[RegistryEvent]:
        """The most recent changes to one model (up to ``history_limit`` over all models), oldest first."""
        validate_name(name)
        return [event for event in list(self._events) if event.name == name]

    def refresh(self) -> None:
        """Nothing to do: no other process writes to this registry."""

    def ping(self) -> None:
        """Always answers: the data lives in this process."""

    def close(self) -> None:
        """Deliver queued events and stop the event thread; the data stays readable."""
        self._hub.close()

    def __enter__(self) -> MemoryRegistry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<MemoryRegistry models={len(self._state.names)} revision={self._state.revision}>"
