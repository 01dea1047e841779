"""DurableRegistry: a SnapshotRegistry whose snapshot is a cache over a database.

The database holds the truth: versions, aliases and an append-only events table
whose revisions strictly increase in commit order. The snapshot is loaded at open
and then moved forward only by applying events, ours (right after our commit) or
other processes' (found by the watcher thread, or inside our next write
transaction before the write is checked). So reads stay in memory and a process
always reads its own writes.
"""

from __future__ import annotations

import abc
import logging
import threading
from collections.abc import Iterable

from .._base import SnapshotRegistry
from .._checks import int_arg, metadata_arg, str_arg
from .._history import HistoryFilter, history_filter
from .._plans import Committed
from .._state import RegistryState
from .._transitions import Change, advance
from ..errors import DuplicateVersionError, StoreError
from ..events import RegistryEvent
from ..metadata import ModelMetadata
from ..names import validate_name
from ..semver import parse_version
from ._outage import StoreHealth
from ._rows import EventRow

__all__ = ["DurableRegistry"]

_log = logging.getLogger("modelreg.stores")
# A bulk import may take this much longer than store_timeout per entry (1,000 entries/s, far below
# what either store manages), so a big import is not cut off while a single write stays bounded.
_BULK_SECONDS_PER_ENTRY = 0.001


class DurableRegistry(SnapshotRegistry):
    """Shared machinery of the database-backed registries.

    Subclasses set ``_where`` (the database, for messages) and implement
    ``_commit`` (one write transaction that takes this process's write lock, first
    applies others' events with ``_apply_rows``, then runs the plan, writes,
    commits and returns ``_apply_own``'s result, all before its ``Deadline``),
    ``_load`` (a full snapshot, built with ``_rows.state_from_rows``),
    ``_rows_after`` and ``_rows_named`` (reads that never wait for the write
    lock), ``_wait_for_change`` (how the watcher learns that another process
    wrote) and ``_close_connections``. This class adds ``refresh()``,
    ``events_after()``, ``history()``, ``register_many()`` (bulk import),
    ``ping()``, ``close()`` and ``closed``.

    Two locks: ``_write_lock`` serializes this process's writers, and a writer
    holds it while it waits (within its deadline) for the database's write lock;
    ``_snapshot_lock`` is held only while the snapshot moves. Catching up needs
    only the second, so reads stay within their staleness bound while a local
    writer waits for another process.

    ``store_timeout`` bounds each write end to end: waiting for the write lock, a
    connection and the database included; past it the write fails with StoreError
    and nothing is committed.
    """

    _where: str

    def __init__(self, *, poll_interval: float, store_timeout: float) -> None:
        super().__init__()
        self._poll_interval = poll_interval
        self._store_timeout = store_timeout
        self._health = StoreHealth(self._where)
        self._stopping = threading.Event()
        # Re-entrant so a test can hold it to keep the snapshot still and still write.
        self._snapshot_lock = threading.RLock()
        self._state = self._load()
        self._watcher = threading.Thread(target=self._watch, name=f"{type(self).__name__}-watcher", daemon=True)
        self._watcher.start()

    # -- hooks ---------------------------------------------------------------------

    @abc.abstractmethod
    def _load(self) -> RegistryState:
        """Read the whole registry into a snapshot (at open); ``state_from_rows`` builds it."""

    @abc.abstractmethod
    def _rows_after(self, revision: int, limit: int | None = None) -> list[EventRow]:
        """Events committed after ``revision``, oldest first, at most ``limit`` (without the write lock)."""

    @abc.abstractmethod
    def _rows_named(self, name: str, chosen: HistoryFilter) -> list[EventRow]:
        """The events of model ``name`` that ``chosen`` passes, oldest first (without the write lock)."""

    @abc.abstractmethod
    def _wait_for_change(self, timeout: float) -> bool | None:
        """Block until another writer may have committed, or ``timeout`` passes.

        Return False when certainly nothing changed (the watcher then skips the
        catch-up query); True or None make it read events after its revision.
        """

    def _caught_up(self) -> None:
        """Called after a watcher pass succeeded (its catch-up included); nothing by default."""

    # -- writes and readiness --------------------------------------------------------

    def ping(self) -> None:
        """Return if the database answers a query now, else StoreError (what ``/readyz`` asks).

        While the watcher knows the database is down this fails at once, without waiting
        for it; the watcher retries every second and notices when it is back.
        """
        self._health.check()
        self._rows_after(self._state.revision, 1)

    @abc.abstractmethod
    def _close_connections(self) -> None:
        """Release database connections."""

    # -- moving the snapshot ---------------------------------------------------------

    def _apply(self, changes: list[Change], events: list[RegistryEvent]) -> None:
        """Move the snapshot past ``events`` and queue them, skipping any already applied.

        Our own committed events may reach the watcher before our writer applies
        them; whichever comes second finds them applied and drops them, so each
        event moves the snapshot and reaches subscribers once.
        """
        with self._snapshot_lock:
            revision = self._state.revision
            steps: list[tuple[Change, int]] = []
            fresh: list[RegistryEvent] = []
            for change, event in zip(changes, events, strict=True):
                if event.revision > revision:
                    steps.append((change.stamped(event.at, event.actor), event.revision))
                    fresh.append(event)
                    revision = event.revision
            if fresh:
                self._state = advance(self._state, steps)
                self._hub.enqueue(fresh)

    def _apply_rows(self, rows: Iterable[EventRow]) -> None:
        """Apply events read from the table (oldest first); ones already applied are skipped."""
        # Decoded outside the snapshot lock; _apply checks the revision again under it.
        revision = self._state.revision
        fresh = [row for row in rows if row.revision > revision]
        if fresh:
            self._apply([row.change(self._where) for row in fresh], [row.event() for row in fresh])

    def _apply_own(self, changes: list[Change], rows: list[EventRow]) -> Committed:
        """After our commit: apply our changes with the revisions the database gave them; what we committed."""
        events = [row.event() for row in rows]
        self._apply(changes, events)
        return Committed(tuple(changes), tuple(events))

    def refresh(self) -> None:
        """Apply every change committed by other processes now, instead of waiting for the watcher."""
        self._apply_rows(self._rows_after(self._state.revision))

    def events_after(self, revision: int, limit: int = 1000) -> list[RegistryEvent]:
        """Up to ``limit`` committed changes after ``revision``, oldest first, from the events table.

        Lets the server's event stream resume from any revision, even one older
        than its in-memory buffer or its own start.
        """
        int_arg("revision", revision, minimum=0)
        int_arg("limit", limit, minimum=1)
        return [row.event() for row in self._rows_after(revision, limit)]

    def history(
        self, name: str, *, version: str | None = None, kinds: Iterable[str] | None = None
    ) -> list[RegistryEvent]:
        """Every change to one model, oldest first, read from the events table.

        ``version`` and ``kinds`` filter in the query, so only the events returned are decoded.
        """
        validate_name(name)
        chosen = history_filter(version, kinds)
        if chosen.none_pass:
            return []
        return [row.event() for row in self._rows_named(name, chosen)]

    def _watch(self) -> None:
        while not self._stopping.is_set():
            try:
                changed = self._wait_for_change(self._poll_interval)
                if self._stopping.is_set():
                    return
                if changed is not False:
                    self.refresh()
                self._caught_up()
            except StoreError as exc:  # the database is down or failing: say so once, retry every second
                if self._stopping.is_set():
                    return
                self._health.failed(exc)
                self._stopping.wait(min(1.0, self._poll_interval))
            except Exception:  # keep watching: a bug here must not end change delivery
                if self._stopping.is_set():
                    return
                _log.exception("watcher of %r failed; retrying", self)
                self._stopping.wait(min(1.0, self._poll_interval * 10))
            else:
                self._health.answered()

    # -- bulk import ---------------------------------------------------------------

    def register_many(self, entries: Iterable[tuple[str, str, ModelMetadata]]) -> list[ModelMetadata]:
        """Register (name, version, metadata) triples in one transaction: all land, or none do.

        For bulk imports; each entry is checked as ``register_model`` checks it,
        and a duplicate within the batch is a DuplicateVersionError too.
        """
        checked: list[tuple[str, str, ModelMetadata]] = []
        for name, version, metadata in entries:
            validate_name(name)
            parse_version(str_arg("version", version))
            checked.append((name, version, metadata_arg(metadata)))

        def plan(state: RegistryState) -> list[Change]:
            seen: set[tuple[str, str]] = set()
            changes: list[Change] = []
            for name, version, metadata in checked:
                meta = state.check_register(name, version, metadata)
                key = (name, parse_version(version).identity)
                if key in seen:
                    raise DuplicateVersionError(
                        f"the batch registers model {name!r} version {version!r} twice", name=name, version=version
                    )
                seen.add(key)
                changes.append(Change("registered", name, meta.version, None, meta))
            return changes

        if not checked:
            return []
        committed = self._write(plan, self._store_timeout + len(checked) * _BULK_SECONDS_PER_ENTRY)
        return [change.metadata for change in committed.changes if change.metadata is not None]

    # -- lifecycle -----------------------------------------------------------------

    def close(self) -> None:
        """Stop the watcher and release connections; idempotent."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        self._watcher.join(timeout=10)
        with self._write_lock:
            self._close_connections()
        self._hub.close()

    @property
    def closed(self) -> bool:
        """True once ``close()`` has been called."""
        return self._stopping.is_set()
