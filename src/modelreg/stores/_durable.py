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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Self

from .._base import Change, Plan, SnapshotRegistry, applied
from .._checks import metadata_arg, str_arg
from .._deadline import Deadline, write_started
from .._state import ModelState, RegistryState
from ..errors import DuplicateVersionError, StoreError
from ..events import EVENT_KINDS, RegistryEvent
from ..metadata import ModelMetadata
from ..names import validate_name
from ..semver import parse_version
from ._outage import StoreHealth, holding

__all__ = [
    "ALIAS_ROWS",
    "DurableRegistry",
    "EventRow",
    "advance",
    "decode_metadata",
    "duplicate_version",
    "encode_metadata",
    "state_from_rows",
]

_log = logging.getLogger("modelreg.stores")
# A bulk import may take this much longer than store_timeout per entry (1,000 entries/s, far below
# what either store manages), so a big import is not cut off while a single write stays bounded.
_BULK_SECONDS_PER_ENTRY = 0.001
# Runs of registrations at least this long are merged per model in one pass
# instead of one snapshot copy each (which is quadratic for a big import).
_BULK_RUN = 64
# (model name, alias, canonical version) of every alias; the same SQL in both stores.
ALIAS_ROWS = (
    "SELECT m.name, a.alias, v.version FROM aliases a JOIN models m ON m.id = a.model_id "
    "JOIN versions v ON v.model_id = a.model_id AND v.identity = a.identity"
)


def encode_metadata(metadata: ModelMetadata) -> str:
    """The JSON text stored for a version (and in its ``registered`` event)."""
    return metadata.to_json()


def decode_metadata(text: str, *, row: str) -> ModelMetadata:
    """Inverse of ``encode_metadata``; StoreError naming ``row`` when the text is not what we stored.

    Not re-validated (opening 100,000 versions would spend most of its time there),
    but a row edited by hand or damaged must fail clearly, never with a raw KeyError.
    """
    try:
        metadata = ModelMetadata._from_stored(json.loads(text))
        if not isinstance(metadata.version, str):
            raise TypeError(f"its version is {metadata.version!r}, not a string")
    # RecursionError: json and the freezing recurse, and only damage nests that deep.
    except (ValueError, LookupError, TypeError, AttributeError, RecursionError) as exc:
        raise StoreError(
            f"stored metadata of {row} is unreadable ({type(exc).__name__}: {exc}); "
            "the row was changed outside modelreg or is damaged"
        ) from exc
    return metadata


def duplicate_version(name: str, version: str | None) -> DuplicateVersionError:
    """The error for a version the database already holds one of the same precedence as."""
    return DuplicateVersionError(
        f"model {name!r} already has a version of the same precedence as {version!r}", name=name, version=version
    )


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

    def change(self, where: str) -> Change:
        """The change this row records, ready to apply; StoreError naming the row if it is malformed."""
        row = f"event {self.revision} ({self.kind} {self.name} {self.version}) in {where}"
        missing = (
            self.kind not in EVENT_KINDS
            or self.version is None
            or (self.kind == "registered") != (self.payload is not None)
            or (self.kind.startswith("alias_") and self.alias is None)
        )
        if missing:
            raise StoreError(f"{row} is malformed: its kind, version, alias or payload is missing or out of place")
        metadata = decode_metadata(self.payload, row=row) if self.payload is not None else None
        return Change(self.kind, self.name, self.version, self.alias, metadata)  # type: ignore[arg-type]


def _register_run(state: RegistryState, steps: Sequence[tuple[Change, int]]) -> RegistryState:
    """``state`` after many registrations, rebuilding each touched model once."""
    by_name: dict[str, list[ModelMetadata]] = {}
    for change, _ in steps:
        assert change.metadata is not None and change.metadata.version is not None
        by_name.setdefault(change.name, []).append(change.metadata)
    models = dict(state.models)
    for name, added in by_name.items():
        model = state.model(name)
        versions = dict(model.versions)
        identities = dict(model.identities)
        pairs = list(zip(model.parsed, model.ordered, strict=True))
        for meta in added:
            assert meta.version is not None
            parsed = parse_version(meta.version)
            if parsed.identity in identities:  # replayed event: already applied
                continue
            versions[meta.version] = meta
            identities[parsed.identity] = meta.version
            pairs.append((parsed, meta.version))
        pairs.sort(key=lambda pair: pair[0])
        models[name] = ModelState(
            versions,
            identities,
            tuple(text for _, text in pairs),
            tuple(parsed for parsed, _ in pairs),
            model.aliases,
        )
    revision = max(state.revision, steps[-1][1])
    return RegistryState(models, revision, tuple(sorted(models)))


def advance(state: RegistryState, steps: Sequence[tuple[Change, int]]) -> RegistryState:
    """``state`` after each (change, revision) in order; same result as ``applied`` one by one."""
    i = 0
    while i < len(steps):
        j = i
        while j < len(steps) and steps[j][0].kind == "registered":
            j += 1
        if j - i >= _BULK_RUN:
            state = _register_run(state, steps[i:j])
        else:
            for change, revision in steps[i : max(j, i + 1)]:
                state = applied(state, change, revision)
        i = max(j, i + 1)
    return state


def state_from_rows(
    versions: Iterable[tuple[str, str, str]], aliases: Iterable[tuple[str, str, str]], revision: int, where: str
) -> RegistryState:
    """A snapshot built from table rows: (model name, version, metadata JSON) and (model name, alias, version).

    ``versions`` may be a cursor: each row is decoded as it comes (at 100,000
    versions, holding all the JSON texts at once would cost ~40 MB).
    """
    steps = [
        (Change("registered", name, meta.version, None, meta), revision)
        for name, version, text in versions
        for meta in (decode_metadata(text, row=f"{name} {version} in {where}"),)
    ]
    state = _register_run(RegistryState(), steps) if steps else RegistryState(revision=revision)
    for name, alias, version in aliases:
        state = applied(state, Change("alias_set", name, version, alias), revision)
    return state


class DurableRegistry(SnapshotRegistry):
    """Shared machinery of the database-backed registries.

    Subclasses set ``_where`` (the database, for messages) and provide ``_load``
    (a full snapshot, built with ``state_from_rows``), ``_transact_by`` (a write
    transaction that first applies others' events with ``_apply_rows``, then runs
    the plan, writes, commits and calls ``_apply_own``, all before its
    ``Deadline``), ``_rows_after`` and
    ``_rows_named`` (reads that never wait for the write lock), ``_wait_for_change``
    (how the watcher learns that another process wrote) and ``_close_connections``.
    This class adds ``refresh()``, ``history()``, ``register_many()`` (bulk
    import), ``close()`` and ``closed``.

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

    def _load(self) -> RegistryState:
        """Read the whole registry into a snapshot (at open); ``state_from_rows`` builds it."""
        raise NotImplementedError

    def _rows_after(self, revision: int, limit: int | None = None) -> list[EventRow]:
        """Events committed after ``revision``, oldest first, at most ``limit`` (without the write lock)."""
        raise NotImplementedError

    def _rows_named(self, name: str) -> list[EventRow]:
        """Every event of model ``name``, oldest first (without the write lock)."""
        raise NotImplementedError

    def _transact_by(self, plan: Plan, deadline: Deadline) -> list[RegistryEvent]:
        """One write transaction (the write lock held), committed before ``deadline`` or rolled back."""
        raise NotImplementedError

    def _wait_for_change(self, timeout: float) -> bool | None:
        """Block until another writer may have committed, or ``timeout`` passes.

        Return False when certainly nothing changed (the watcher then skips the
        catch-up query); True or None make it read events after its revision.
        """
        raise NotImplementedError

    def _caught_up(self) -> None:
        """Called after a watcher pass succeeded (its catch-up included); nothing by default."""

    # -- writes and readiness --------------------------------------------------------

    def _deadline(self, timeout: float | None) -> Deadline:
        """A new write's deadline (``store_timeout`` unless given), counted from when it began waiting."""
        deadline = Deadline(self._store_timeout if timeout is None else timeout, write_started.get())
        deadline.left("writing to", self._where, "its turn (queued behind other writes)")
        return deadline

    def _write(self, plan: Plan, timeout: float | None = None) -> list[RegistryEvent]:
        deadline = self._deadline(timeout)
        with holding(self._write_lock, deadline, "writing to", self._where):
            return self._transact_by(plan, deadline)

    def ping(self) -> None:
        """Return if the database answers a query now, else StoreError (what ``/readyz`` asks).

        While the watcher knows the database is down this fails at once, without waiting
        for it; the watcher retries every second and notices when it is back.
        """
        self._health.check()
        self._rows_after(self._state.revision, 1)

    def _close_connections(self) -> None:
        """Release database connections."""
        raise NotImplementedError

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
                    steps.append((change, event.revision))
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

    def _apply_own(self, plan_changes: list[Change], rows: list[EventRow]) -> list[RegistryEvent]:
        """After our commit: apply our changes with the revisions the database gave them."""
        events = [row.event() for row in rows]
        self._apply(plan_changes, events)
        return events

    def refresh(self) -> None:
        """Apply every change committed by other processes now, instead of waiting for the watcher."""
        self._apply_rows(self._rows_after(self._state.revision))

    def events_after(self, revision: int, limit: int = 1000) -> list[RegistryEvent]:
        """Up to ``limit`` committed changes after ``revision``, oldest first, from the events table.

        Lets the server's event stream resume from any revision, even one older
        than its in-memory buffer or its own start.
        """
        if isinstance(revision, bool) or not isinstance(revision, int) or revision < 0:
            raise TypeError(f"revision must be a non-negative int, not {revision!r}")
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise TypeError(f"limit must be a positive int, not {limit!r}")
        return [row.event() for row in self._rows_after(revision, limit)]

    def history(self, name: str) -> list[RegistryEvent]:
        """Every change to one model, oldest first, read from the events table."""
        validate_name(name)
        return [row.event() for row in self._rows_named(name)]

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
        stored: list[ModelMetadata] = []

        def plan(state: RegistryState) -> list[Change]:
            stored.clear()
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
                stored.append(meta)
                changes.append(Change("registered", name, meta.version, None, meta))
            return changes

        if checked:
            self._write(plan, self._store_timeout + len(checked) * _BULK_SECONDS_PER_ENTRY)
        return list(stored)

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

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
