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
from types import MappingProxyType, TracebackType
from typing import Self

from .._base import Change, SnapshotRegistry, applied
from .._state import ModelState, RegistryState
from ..errors import DuplicateVersionError
from ..events import RegistryEvent
from ..metadata import ModelMetadata
from ..names import validate_name
from ..semver import parse_version

__all__ = ["DurableRegistry", "EventRow", "advance", "decode_metadata", "encode_metadata", "state_from_rows"]

_log = logging.getLogger("modelreg.stores")
# Runs of registrations at least this long are merged per model in one pass
# instead of one snapshot copy each (which is quadratic for a big import).
_BULK_RUN = 64


def encode_metadata(metadata: ModelMetadata) -> str:
    """The JSON text stored for a version (and in its ``registered`` event)."""
    return metadata.to_json()


def decode_metadata(text: str) -> ModelMetadata:
    """Inverse of ``encode_metadata`` (trusted: the text was validated before it was stored)."""
    return ModelMetadata._from_stored(json.loads(text))


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
            MappingProxyType(versions),
            MappingProxyType(identities),
            tuple(text for _, text in pairs),
            tuple(parsed for parsed, _ in pairs),
            model.aliases,
        )
    revision = max(state.revision, steps[-1][1])
    return RegistryState(MappingProxyType(models), revision, tuple(sorted(models)))


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
    versions: Iterable[tuple[str, ModelMetadata]], aliases: Iterable[tuple[str, str, str]], revision: int
) -> RegistryState:
    """A snapshot built from table rows: (model name, metadata) and (model name, alias, canonical version)."""
    steps = [(Change("registered", name, meta.version, None, meta), revision) for name, meta in versions]
    state = _register_run(RegistryState(), steps) if steps else RegistryState(revision=revision)
    for name, alias, version in aliases:
        state = applied(state, Change("alias_set", name, version, alias), revision)
    return state


class DurableRegistry(SnapshotRegistry):
    """Shared machinery of the database-backed registries.

    Subclasses provide ``_load`` (a full snapshot, built with ``state_from_rows``),
    ``_transact`` (a write transaction that first applies others' events with
    ``_apply_rows``, then runs the plan, writes, commits and calls ``_apply_own``),
    ``_rows_after``, ``_wait_for_change`` (how the watcher learns that another
    process wrote), ``history`` and ``_close_connections``. This class adds
    ``refresh()``, ``register_many()`` (bulk import), ``close()`` and ``closed``.
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
        """Read the whole registry into a snapshot (at open); ``state_from_rows`` builds it."""
        raise NotImplementedError

    def _rows_after(self, revision: int) -> list[EventRow]:
        """Events committed after ``revision``, oldest first (called with the write lock held)."""
        raise NotImplementedError

    def _wait_for_change(self, timeout: float) -> bool | None:
        """Block until another writer may have committed, or ``timeout`` passes.

        Return False when certainly nothing changed (the watcher then skips the
        catch-up query); True or None make it read events after its revision.
        """
        raise NotImplementedError

    def _close_connections(self) -> None:
        """Release database connections."""
        raise NotImplementedError

    # -- catching up ---------------------------------------------------------------

    def _apply_rows(self, rows: Iterable[EventRow]) -> None:
        """Apply events committed elsewhere (write lock held); skips ones already applied."""
        state = self._state
        steps: list[tuple[Change, int]] = []
        events: list[RegistryEvent] = []
        for row in rows:
            if row.revision <= state.revision or (events and row.revision <= events[-1].revision):
                continue
            steps.append((row.change(), row.revision))
            events.append(row.event())
        if events:
            self._state = advance(state, steps)
            self._hub.enqueue(events)

    def _apply(self, changes: list[Change], events: list[RegistryEvent]) -> None:
        """Like the base, but a bulk write moves the snapshot in one pass per model."""
        if len(changes) < _BULK_RUN:
            super()._apply(changes, events)
            return
        steps = [(change, event.revision) for change, event in zip(changes, events, strict=True)]
        self._state = advance(self._state, steps)
        self._record(events)
        self._hub.enqueue(events)

    def refresh(self) -> None:
        """Apply every change committed by other processes now, instead of waiting for the watcher."""
        with self._write_lock:
            self._apply_rows(self._rows_after(self._state.revision))

    def _watch(self) -> None:
        while not self._stopping.is_set():
            try:
                changed = self._wait_for_change(self._poll_interval)
                if self._stopping.is_set():
                    return
                if changed is not False:
                    self.refresh()
            except Exception:  # keep watching: a database hiccup must not end change delivery
                if self._stopping.is_set():
                    return
                _log.exception("watcher of %r failed; retrying", self)
                self._stopping.wait(min(1.0, self._poll_interval * 10))

    # -- bulk import ---------------------------------------------------------------

    def register_many(self, entries: Iterable[tuple[str, str, ModelMetadata]]) -> list[ModelMetadata]:
        """Register (name, version, metadata) triples in one transaction: all land, or none do.

        For bulk imports; each entry is checked as ``register_model`` checks it,
        and a duplicate within the batch is a DuplicateVersionError too.
        """
        checked: list[tuple[str, str, ModelMetadata]] = []
        for name, version, metadata in entries:
            validate_name(name)
            parse_version(version)
            if not isinstance(metadata, ModelMetadata):
                raise TypeError(f"metadata must be a ModelMetadata, not {type(metadata).__name__}")
            checked.append((name, version, metadata))
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
            self._write(plan)
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

    def _apply_own(self, plan_changes: list[Change], rows: list[EventRow]) -> list[RegistryEvent]:
        """After our commit: apply our changes with the revisions the database gave them."""
        events = [row.event() for row in rows]
        self._apply(plan_changes, events)
        return events
