"""DurableRegistry: a SnapshotRegistry whose snapshot is a cache over a database.

The database holds the truth: versions, aliases and an append-only events table
whose revisions strictly increase in commit order. The snapshot is loaded at open
and then moved forward only by applying events, ours (right after our commit) or
other processes' (found by the watcher thread, or inside our next write
transaction before the write is checked). So reads stay in memory and a process
always reads its own writes.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType

from .._base import Change, SnapshotRegistry, applied
from .._state import RegistryState
from ..events import RegistryEvent
from ..metadata import ModelMetadata

__all__ = ["DurableRegistry", "EventRow", "decode_metadata", "encode_metadata"]

_log = logging.getLogger("modelreg.stores")


def encode_metadata(metadata: ModelMetadata) -> str:
    """The JSON text stored for a version (and in its ``registered`` event)."""
    return metadata.to_json()


def decode_metadata(text: str) -> ModelMetadata:
    """Inverse of ``encode_metadata``."""
    return ModelMetadata.from_dict(json.loads(text))


@dataclass(frozen=True, slots=True)
class EventRow:
    """One row of the events table, as the stores read and write it."""

    revision: int
    kind: str
    name: str
    version: str | None
    alias: str | None
    actor: str | None
    at: datetime
    payload: str | None  # metadata JSON for 'registered' events

    def event(self) -> RegistryEvent:
        """The public event for this row."""
        return RegistryEvent(
            kind=self.kind,  # type: ignore[arg-type]
            name=self.name,
            version=self.version,
            alias=self.alias,
            revision=self.revision,
            at=self.at,
            actor=self.actor,
        )

    def change(self) -> Change:
        """The change this row records, ready to apply to a snapshot."""
        metadata = decode_metadata(self.payload) if self.payload is not None else None
        return Change(self.kind, self.name, self.version, self.alias, metadata)  # type: ignore[arg-type]


class DurableRegistry(SnapshotRegistry):
    """Shared machinery of the database-backed registries.

    Subclasses provide ``_load`` (a full snapshot), ``_transact`` (a write
    transaction that calls ``_catch_up_rows`` first), ``_rows_after``,
    ``_wait_for_change`` (how the watcher learns that another process wrote),
    ``history`` and ``_close_connections``.
    """

    def __init__(self, *, poll_interval: float) -> None:
        super().__init__()
        self._poll_interval = poll_interval
        self._stopping = threading.Event()
        self._state = self._load()
        self._watcher = threading.Thread(target=self._watch, name=f"{type(self).__name__}-watcher", daemon=True)
        self._watcher.start()

    # -- hooks ---------------------------------------------------------------------

    def _load(self) -> RegistryState:
        """Read the whole registry into a snapshot (at open)."""
        raise NotImplementedError

    def _rows_after(self, revision: int) -> list[EventRow]:
        """Events committed after ``revision``, oldest first (called with the write lock held)."""
        raise NotImplementedError

    def _wait_for_change(self, timeout: float) -> None:
        """Block until another writer may have committed, or ``timeout`` passes."""
        raise NotImplementedError

    def _close_connections(self) -> None:
        """Release database connections."""
        raise NotImplementedError

    # -- catching up ---------------------------------------------------------------

    def _apply_rows(self, rows: Iterable[EventRow]) -> None:
        """Apply events committed elsewhere (write lock held); skips ones already applied."""
        state = self._state
        events: list[RegistryEvent] = []
        for row in rows:
            if row.revision <= state.revision:
                continue
            state = applied(state, row.change(), row.revision)
            events.append(row.event())
        if events:
            self._state = state
            self._hub.enqueue(events)

    def refresh(self) -> None:
        """Apply every change committed by other processes now, instead of waiting for the watcher."""
        with self._write_lock:
            self._apply_rows(self._rows_after(self._state.revision))
        self._hub.deliver()

    def _watch(self) -> None:
        while not self._stopping.is_set():
            try:
                self._wait_for_change(self._poll_interval)
                if self._stopping.is_set():
                    return
                self.refresh()
            except Exception:  # keep watching: a database hiccup must not end change delivery
                if self._stopping.is_set():
                    return
                _log.exception("watcher of %r failed; retrying", self)
                self._stopping.wait(min(1.0, self._poll_interval * 10))

    # -- lifecycle -----------------------------------------------------------------

    def close(self) -> None:
        """Stop the watcher and release connections; idempotent."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        self._watcher.join(timeout=10)
        with self._write_lock:
            self._close_connections()

    def __enter__(self) -> DurableRegistry:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _apply_own(self, plan_changes: list[Change], rows: list[EventRow]) -> list[RegistryEvent]:
        """After our commit: apply our changes with the revisions the database gave them."""
        events = [row.event() for row in rows]
        self._apply(plan_changes, events)
        return events


