"""How the snapshot moves: one pure function per event kind, and the bulk ``advance``.

Every backend uses these rules and nothing else: ``MemoryRegistry`` after a
write, the durable stores after their commit, SQLite's group commit between the
writes of a batch, the replay of other processes' events and the snapshot built
at open (``stores._rows.state_from_rows``). Each function returns a new
``RegistryState`` and leaves the old one untouched (readers may still hold it).
Applying an event that is already applied (a replay) changes nothing but the
revision, so catching up may overlap what a process already has.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from ._state import NO_ALIASES, ModelState, RegistryState
from .events import EVENT_KINDS, EventKind
from .metadata import ModelMetadata
from .semver import parse_version

__all__ = ["TRANSITIONS", "Change", "Transition", "advance", "apply"]

# Runs of registrations at least this long are merged per model in one pass
# instead of one snapshot copy each (which is quadratic for a big import).
_BULK_RUN = 64


@dataclass(frozen=True, slots=True)
class Change:
    """One change a write makes, before storage gives it a revision (or one read back from the events)."""

    kind: EventKind
    name: str
    version: str | None = None
    alias: str | None = None
    metadata: ModelMetadata | None = None


Transition = Callable[[RegistryState, Change, int], RegistryState]


def _with_model(state: RegistryState, name: str, model: ModelState | None, revision: int) -> RegistryState:
    """``state`` with ``name``'s model replaced (dropped when it has no versions left)."""
    models = dict(state.models)
    names = state.names
    if model is None or not model.versions:
        models.pop(name, None)
        names = tuple(n for n in names if n != name)
    else:
        if name not in models:
            i = bisect.bisect_left(names, name)
            names = names[:i] + (name,) + names[i:]
        models[name] = model
    return RegistryState(models, max(revision, state.revision), names)


def _aliases(aliases: Mapping[str, str]) -> Mapping[str, str]:
    return aliases if aliases else NO_ALIASES


def registered(state: RegistryState, change: Change, revision: int) -> RegistryState:
    """``state`` with the change's metadata (checked, canonical version set) added."""
    metadata = change.metadata
    assert metadata is not None and metadata.version is not None
    parsed = parse_version(metadata.version)
    model = state.model(change.name)
    if parsed.identity in model.identities:  # replayed event: already applied
        return _with_model(state, change.name, model, revision)
    i = bisect.bisect_left(model.parsed, parsed)
    versions = dict(model.versions)
    versions[metadata.version] = metadata
    identities = dict(model.identities)
    identities[parsed.identity] = metadata.version
    new = ModelState(
        versions,
        identities,
        model.ordered[:i] + (metadata.version,) + model.ordered[i:],
        model.parsed[:i] + (parsed,) + model.parsed[i:],
        model.aliases,
    )
    return _with_model(state, change.name, new, revision)


def unregistered(state: RegistryState, change: Change, revision: int) -> RegistryState:
    """``state`` without that version (and without aliases pointing at it)."""
    canonical = change.version
    assert canonical is not None
    model = state.model(change.name)
    if canonical not in model.versions:
        return _with_model(state, change.name, model, revision)
    i = model.ordered.index(canonical)
    versions = dict(model.versions)
    del versions[canonical]
    identities = dict(model.identities)
    del identities[model.parsed[i].identity]
    new = ModelState(
        versions,
        identities,
        model.ordered[:i] + model.ordered[i + 1 :],
        model.parsed[:i] + model.parsed[i + 1 :],
        _aliases({a: v for a, v in model.aliases.items() if v != canonical}),
    )
    return _with_model(state, change.name, new, revision)


def alias_set(state: RegistryState, change: Change, revision: int) -> RegistryState:
    """``state`` with the alias pointing at the change's (canonical) version."""
    assert change.alias is not None and change.version is not None
    model = state.model(change.name)
    if change.version not in model.versions:
        return _with_model(state, change.name, model, revision)
    aliases = dict(model.aliases)
    aliases[change.alias] = change.version
    new = ModelState(model.versions, model.identities, model.ordered, model.parsed, aliases)
    return _with_model(state, change.name, new, revision)


def alias_removed(state: RegistryState, change: Change, revision: int) -> RegistryState:
    """``state`` without the alias."""
    assert change.alias is not None
    model = state.model(change.name)
    if change.alias not in model.aliases:
        return _with_model(state, change.name, model, revision)
    aliases = _aliases({a: v for a, v in model.aliases.items() if a != change.alias})
    new = ModelState(model.versions, model.identities, model.ordered, model.parsed, aliases)
    return _with_model(state, change.name, new, revision)


TRANSITIONS: Mapping[str, Transition] = {
    "registered": registered,
    "unregistered": unregistered,
    "alias_set": alias_set,
    "alias_removed": alias_removed,
}
if set(TRANSITIONS) != set(EVENT_KINDS):  # a new event kind needs its rule here, and nothing else may have one
    raise ImportError(f"TRANSITIONS covers {sorted(TRANSITIONS)}, but the event kinds are {sorted(EVENT_KINDS)}")


def apply(state: RegistryState, change: Change, revision: int) -> RegistryState:
    """``state`` after one change made at ``revision``."""
    return TRANSITIONS[change.kind](state, change, revision)


def advance(state: RegistryState, steps: Sequence[tuple[Change, int]]) -> RegistryState:
    """``state`` after each (change, revision) in order; the same result as ``apply`` one by one."""
    i = 0
    while i < len(steps):
        j = i
        while j < len(steps) and steps[j][0].kind == "registered":
            j += 1
        if j - i >= _BULK_RUN:
            state = _register_run(state, steps[i:j])
        else:
            for change, revision in steps[i : max(j, i + 1)]:
                state = TRANSITIONS[change.kind](state, change, revision)
        i = max(j, i + 1)
    return state


def _register_run(state: RegistryState, steps: Iterable[tuple[Change, int]]) -> RegistryState:
    """``state`` after many registrations, rebuilding each touched model once."""
    by_name: dict[str, list[ModelMetadata]] = {}
    revision = state.revision
    for change, at in steps:
        assert change.metadata is not None and change.metadata.version is not None
        by_name.setdefault(change.name, []).append(change.metadata)
        revision = max(revision, at)
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
    return RegistryState(models, revision, tuple(sorted(models)))
