"""SnapshotRegistry: reads from an immutable in-memory snapshot, writes through one storage hook.

MemoryRegistry and the durable stores share this class. Every write goes the
same way: a write method validates its arguments and builds a *plan*;
``_write`` gives it a deadline and hands it to the backend's ``_commit``, which
runs the plan on its freshest state, makes the changes durable with their
events, moves the snapshot (``_transitions``) and returns what it committed.
"""

from __future__ import annotations

import abc
import itertools
import math
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from types import TracebackType
from typing import Self

from . import _annotations, _retention
from ._checks import metadata_arg, str_arg
from ._deadline import Deadline, write_started
from ._frozen import frozen_dict
from ._governance import Governed, check_direct_removal, direct_move
from ._plans import Committed, Plan, current_actor
from ._resolving import no_match, resolve_spec
from ._search import Candidate, run_search
from ._state import ModelState, RegistryState
from ._transitions import Change, advance
from ._travel import TRAVEL_KINDS, PastModel, Step, check_at, past_model, replay
from .errors import VersionNotFoundError
from .events import Callback, EventHub, RegistryEvent, Subscription, freeze_detail
from .metadata import ModelMetadata
from .names import validate_alias, validate_name
from .records import ModelInfo, SearchPage
from .semver import parse_version

__all__ = ["SnapshotRegistry"]

_RESOLVE_CACHE_LIMIT = 256


class SnapshotRegistry(Governed, abc.ABC):
    """Shared implementation of ModelRegistry and EventLog over a ``RegistryState`` snapshot.

    The policy and promotion methods come from ``_governance.Governed``.
    """

    _store_id: str  # each backend sets it: a fresh one per MemoryRegistry, the database's for durable stores
    _where: str = "the registry"  # for messages; durable stores name their database
    _store_timeout: float = math.inf  # seconds a write may take; durable stores set theirs

    def __init__(self) -> None:
        self._state = RegistryState()
        self._write_lock = threading.RLock()
        self._hub = EventHub()
        self._resolve_cache: dict[tuple[str, str], tuple[object, str]] = {}
        # Per model: (the ModelState it was built from, its search candidates in order). A model's
        # state is replaced, never changed, so a hit whose state is the current one is current.
        self._candidates: dict[str, tuple[ModelState, tuple[Candidate, ...]]] = {}

    # -- the storage hook ----------------------------------------------------------

    @abc.abstractmethod
    def _commit(self, plan: Plan, deadline: Deadline) -> Committed:
        """Run ``plan`` on the freshest state, store its changes and their events, move the snapshot.

        Serializes with this process's other writers itself (within ``deadline``):
        durable stores first apply events other processes committed, inside their
        write transaction, so the plan sees them; SQLite commits the writes that
        queue meanwhile together. Returns the changes stored and their events.
        """

    def _write(self, plan: Plan, timeout: float | None = None) -> Committed:
        """The one write path: every write method comes here; backends provide ``_commit``."""
        return self._commit(plan, self._deadline(timeout))

    def _deadline(self, timeout: float | None) -> Deadline:
        """A new write's deadline (``store_timeout`` unless given), counted from when it began waiting."""
        deadline = Deadline(self._store_timeout if timeout is None else timeout, write_started.get())
        deadline.left("writing to", self._where, "its turn (queued behind other writes)")
        return deadline

    def _apply(self, changes: list[Change], events: list[RegistryEvent]) -> None:
        """Move the snapshot past ``events`` and queue them for subscribers (hold the write lock)."""
        pairs = zip(changes, events, strict=True)
        steps = [(change.stamped(event.at, event.actor), event.revision) for change, event in pairs]
        self._state = advance(self._state, steps)
        self._hub.enqueue(events)

    def _event(self, change: Change, revision: int) -> RegistryEvent:
        return RegistryEvent(
            kind=change.kind,
            name=change.name,
            version=change.version,
            alias=change.alias,
            revision=revision,
            at=datetime.now(UTC),
            actor=current_actor.get(),
            detail=None if change.detail is None else freeze_detail(change.detail),
        )

    # -- writes ------------------------------------------------------------------

    def register_model(self, name: str, version: str, metadata: ModelMetadata) -> ModelMetadata:
        """Store a new version; return the stored metadata (canonical version filled in)."""
        validate_name(name)
        parse_version(str_arg("version", version))
        checked = metadata_arg(metadata)

        def plan(state: RegistryState) -> list[Change]:
            meta = state.check_register(name, version, checked)
            return [Change("registered", name, meta.version, None, meta)]

        stored = self._write(plan).changes[0].metadata
        assert stored is not None
        return stored

    def unregister_model(self, name: str, version: str, force: bool = False) -> None:
        """Remove a version; ``force`` also removes aliases pointing at it."""
        validate_name(name)
        parse_version(str_arg("version", version))

        def plan(state: RegistryState) -> list[Change]:
            canonical, aliases = state.check_unregister(name, version, bool(force))
            removed = [Change("alias_removed", name, canonical, alias) for alias in aliases]
            return removed + [Change("unregistered", name, canonical)]

        self._write(plan)

    def set_alias(self, name: str, alias: str, version: str) -> None:
        """Point ``alias`` at a version, moving it if it exists (PolicyError if its policy forbids it)."""
        validate_name(name)
        validate_alias(alias)
        parse_version(str_arg("version", version))

        def plan(state: RegistryState) -> list[Change]:
            return direct_move(state, name, alias, state.require(name, version))

        self._write(plan)

    def remove_alias(self, name: str, alias: str) -> None:
        """Delete an alias (AliasNotFoundError if it does not exist, PolicyError if its policy needs approvals)."""
        validate_name(name)
        validate_alias(alias)

        def plan(state: RegistryState) -> list[Change]:
            target = state.check_alias(name, alias)
            check_direct_removal(state, name, alias)
            return [Change("alias_removed", name, target, alias)]

        self._write(plan)

    def annotate(
        self,
        name: str,
        version: str,
        *,
        description: str | None = None,
        set_tags: Mapping[str, str] | None = None,
        remove_tags: Iterable[str] = (),
        add_metrics: Mapping[str, float] | None = None,
    ) -> ModelMetadata:
        """Change a version's description and tags, add metrics (never change one); return the new metadata.

        One ``annotated`` event holding what changed; an annotation that changes nothing is a no-op (no event).
        """
        validate_name(name)
        parse_version(str_arg("version", version))
        req = _annotations.request(description, set_tags, remove_tags, add_metrics)
        seen: list[ModelMetadata] = []  # the metadata the last run of the plan found (a no-op returns it)

        def plan(state: RegistryState) -> list[Change]:
            canonical = state.require(name, version)
            meta = state.model(name).metadata(canonical)
            assert meta is not None
            seen[:] = [meta]
            detail = _annotations.metadata_detail(meta, req, f"{name} {canonical}")
            if not detail:
                return []
            new = _annotations.annotated_metadata(meta, detail)
            return [Change("annotated", name, canonical, None, new, detail)]

        changes = self._write(plan).changes
        stored = changes[0].metadata if changes else seen[0]
        assert stored is not None
        return stored

    def annotate_model(
        self,
        name: str,
        *,
        description: str | None = None,
        set_tags: Mapping[str, str] | None = None,
        remove_tags: Iterable[str] = (),
    ) -> ModelInfo:
        """Change the model record's description and tags; return the new record (a no-op changes nothing)."""
        validate_name(name)
        req = _annotations.request(description, set_tags, remove_tags, metrics=False)

        def plan(state: RegistryState) -> list[Change]:
            model = _existing(state, name)
            detail = _annotations.record_detail(model.description, model.tags, req)
            return [Change("model_annotated", name, None, None, None, detail)] if detail else []

        self._write(plan)
        return self.get_model(name)

    def delete_model(self, name: str, force: bool = False) -> None:
        """Remove every version of the model in one write: its aliases' and versions' events, one each."""
        validate_name(name)

        def plan(state: RegistryState) -> list[Change]:
            model = state.check_delete(name, bool(force))
            removed = [Change("alias_removed", name, model.aliases[a], a) for a in sorted(model.aliases)]
            return removed + [Change("unregistered", name, version) for version in model.ordered]

        self._write(plan)

    def prune(
        self,
        name: str | None = None,
        *,
        keep_latest: int = 10,
        older_than: datetime | None = None,
        dry_run: bool = True,
    ) -> list[tuple[str, str]]:
        """Remove (``dry_run``: only list) versions beyond each model's newest ``keep_latest``; see ``_retention``."""
        return _retention.prune(self, name, keep_latest=keep_latest, older_than=older_than, dry_run=dry_run)

    # -- reads: no lock, one snapshot per call -------------------------------------

    def has_version(self, name: str, version: str) -> bool:
        """Whether the model has a version of that precedence."""
        model = self._state.models.get(name)
        if model is not None:
            if version in model.base or version in model.fresh:  # the base: all but the freshest versions
                return True
        else:
            validate_name(name)  # a known model's name is valid already
        parsed = parse_version(str_arg("version", version))
        return model is not None and model.canonical(parsed.identity) is not None

    def get_metadata(self, name: str, version: str) -> ModelMetadata:
        """The stored metadata of a version (VersionNotFoundError if absent)."""
        model = self._state.models.get(name)
        if model is not None:
            found = model.base.get(version)  # all but the freshest versions: one lookup
            if found is not None:
                return found
            fresh = model.fresh.get(version)
            if fresh is not None:
                return fresh[0]
        else:
            validate_name(name)
        parse_version(str_arg("version", version))  # InvalidVersionError first, for any model
        canonical = model.find(version) if model is not None else None
        meta = model.metadata(canonical) if model is not None and canonical is not None else None
        if meta is None:
            raise VersionNotFoundError(f"model {name!r} has no version {version!r}", name=name, version=version)
        return meta

    def get_versions(self, name: str, *, at: datetime | None = None) -> list[str]:
        """Canonical versions in ascending precedence; ``[]`` for an unknown model; as they stood at ``at`` if given."""
        if at is not None:
            return list(self._past(name, at).ordered)
        model = self._state.models.get(name)
        if model is not None:
            return list(model._ordered or model.ordered)  # the slot, once built: no property call
        validate_name(name)
        return []

    def get_all_model_names(self) -> list[str]:
        """Names of models with at least one version, sorted."""
        return list(self._state.names)

    def version_counts(self) -> dict[str, int]:
        """Model name to its number of versions, for every model."""
        models = self._state.models
        return {name: len(model) for name, model in models.items()}

    def get_aliases(self, name: str, *, at: datetime | None = None) -> dict[str, str]:
        """Alias name to canonical version; as they stood at ``at`` (an aware datetime) if given."""
        validate_name(name)
        if at is not None:
            return replay(self._past_steps(name, check_at(at)))[1]
        return dict(self._state.model(name).aliases)

    def resolve(self, name: str, spec: str, *, at: datetime | None = None) -> str:
        """Highest version matching a range, ``latest``, or an alias's target; as it stood at ``at`` if given."""
        if at is not None:
            return self._resolve_at(name, spec, at)
        state = self._state
        model = state.models.get(name)
        cached = self._resolve_cache.get((name, spec))
        if cached is not None and model is not None and cached[0] is model:
            return cached[1]
        validate_name(name)
        str_arg("spec", spec)
        found = resolve_spec(state.model(name), spec)
        if found is None:
            raise VersionNotFoundError(no_match(name, state.model(name), spec), name=name, version=spec)
        if model is not None:
            if len(self._resolve_cache) >= _RESOLVE_CACHE_LIMIT:
                self._resolve_cache.clear()  # bounded; stale entries are caught by the identity check
            self._resolve_cache[(name, spec)] = (model, found)
        return found

    def get_model(self, name: str) -> ModelInfo:
        """The model's record (VersionNotFoundError for a model without versions)."""
        validate_name(name)
        model = _existing(self._state, name)
        assert model.created_at is not None and model.updated_at is not None
        return ModelInfo(
            name=name,
            description=model.description,
            tags=model.tags,
            version_count=len(model),
            latest=resolve_spec(model, "latest"),
            aliases=frozen_dict(model.aliases),
            created_at=model.created_at,
            updated_at=model.updated_at,
        )

    def search(
        self,
        where: str = "",
        *,
        name: str | None = None,
        order_by: str = "",
        limit: int = 100,
        cursor: str | None = None,
        models: Callable[[str], bool] | None = None,
    ) -> SearchPage:
        """Versions matching ``where`` (docs/search.md), ordered, one page at a time, from one snapshot.

        ``models`` (beyond the interface: the server's scoped tokens) keeps only the models it accepts.
        """
        if name is not None:
            validate_name(name)
        state = self._state
        names = state.names if name is None else (name,) if name in state.models else ()
        if models is not None:
            names = tuple(filter(models, names))
        candidates = itertools.chain.from_iterable(self._model_candidates(n, state.models[n]) for n in names)
        return run_search(candidates, where, order_by=order_by, limit=limit, cursor=cursor, scope=name or "")

    def _model_candidates(self, name: str, model: ModelState) -> tuple[Candidate, ...]:
        """The model's (record, parsed version) pairs in precedence order, built once per model state.

        Kept across searches: building them anew for 100,000 versions costs more than the scan itself.
        """
        cached = self._candidates.get(name)
        if cached is not None and cached[0] is model:
            return cached[1]
        built = tuple(zip(model.each_record(), model.parsed, strict=True))
        if len(self._candidates) > 2 * len(self._state.names) + 64:
            self._candidates.clear()  # forget models that are gone; the next searches rebuild what they need
        self._candidates[name] = (model, built)
        return built

    def _resolve_at(self, name: str, spec: str, at: datetime) -> str:
        validate_name(name)
        str_arg("spec", spec)
        model = self._past(name, at)
        found = resolve_spec(model, spec)
        if found is None:
            raise VersionNotFoundError(
                f"at {at.isoformat()}: {no_match(name, model, spec)}", name=name, version=spec
            )
        return found

    def _past(self, name: str, at: datetime) -> PastModel:
        """The model's versions and aliases as they stood at ``at`` (checked here)."""
        validate_name(name)
        return past_model(self._past_steps(name, check_at(at)))

    def _past_steps(self, name: str, at: datetime) -> Iterable[Step]:
        """The model's version and alias events committed at or before ``at``, oldest first.

        From ``history``; backends that can read them more cheaply, or must refuse, override it.
        """
        events = self.history(name, kinds=TRAVEL_KINDS)
        return [(event.kind, event.version, event.alias) for event in events if event.at <= at]

    def subscribe(self, callback: Callback) -> Subscription:
        """Call ``callback`` with each committed change, in revision order."""
        return self._hub.subscribe(callback)

    @abc.abstractmethod
    def history(
        self, name: str, *, version: str | None = None, kinds: Iterable[str] | None = None
    ) -> list[RegistryEvent]:
        """The changes to one model, oldest first; only ``version``'s and only these ``kinds`` when given."""

    @abc.abstractmethod
    def events_after(self, revision: int, limit: int = 1000) -> list[RegistryEvent]:
        """Up to ``limit`` committed changes after ``revision``, oldest first (EventsUnavailableError if not held)."""

    @abc.abstractmethod
    def refresh(self) -> None:
        """Apply now what other processes committed (a no-op where none can write)."""

    @abc.abstractmethod
    def ping(self) -> None:
        """Return if the storage answers now, else StoreError."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release threads and connections; idempotent."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def revision(self) -> int:
        """Revision of the last change this registry has applied."""
        return self._state.revision

    @property
    def store_id(self) -> str:
        """A random id made with the store and kept in it, so a recreated store is told from the old one."""
        return self._store_id


def _existing(state: RegistryState, name: str) -> ModelState:
    """The model's state, or VersionNotFoundError when it has no versions (so no record either)."""
    model = state.models.get(name)
    if model is None:
        raise VersionNotFoundError(f"model {name!r} has no versions, so it has no record", name=name)
    return model
