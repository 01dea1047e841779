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
import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ._annotations import annotated_metadata, annotated_record
from ._frozen import frozen_dict
from ._model import NO_TIME as _NO_TIME
from ._model import ModelState, Stamp, empty_model, fresh_full, stamp
from ._state import NO_ALIASES, RegistryState
from .events import EVENT_KINDS, EventKind
from .metadata import ModelMetadata
from .policies import AliasPolicy, PromotionRequest
from .semver import SemVer, parse_version

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
    metadata: ModelMetadata | None = None  # registered: the version's; annotated: the new metadata, if known
    detail: Mapping[str, Any] | None = None  # annotated / model_annotated: what changes
    at: datetime | None = None  # when its event was committed, and by whom (set once it has an event)
    actor: str | None = None

    def stamped(self, at: datetime, actor: str | None) -> Change:
        """This change carrying its event's time and actor (what the records and model times take)."""
        return Change(self.kind, self.name, self.version, self.alias, self.metadata, self.detail, at, actor)


Transition = Callable[[RegistryState, Change, int], RegistryState]


def _with_model(state: RegistryState, name: str, model: ModelState | None, revision: int) -> RegistryState:
    """``state`` with ``name``'s model replaced (dropped when it has no versions left)."""
    models = dict(state.models)
    names = state.names
    if model is None or not len(model):
        models.pop(name, None)
        names = tuple(n for n in names if n != name)
    else:
        if name not in models:
            i = bisect.bisect_left(names, name)
            names = names[:i] + (name,) + names[i:]
        models[name] = model
    return RegistryState(models, max(revision, state.revision), names, state.policies, state.promotions)


def _aliases(aliases: Mapping[str, str]) -> Mapping[str, str]:
    return aliases if aliases else NO_ALIASES


def _touched(model: ModelState, change: Change, **fields: Any) -> ModelState:
    """``model`` with ``fields`` replaced and ``updated_at`` moved to the change's time (when it has one)."""
    return model.replaced(updated_at=change.at or model.updated_at, **fields)


def _model(state: RegistryState, name: str) -> ModelState:
    found = state.models.get(name)
    return empty_model(name) if found is None else found


def _rebuilt(model: ModelState, versions: Mapping[str, ModelMetadata], stamps: Mapping[str, Stamp],
             pairs: list[tuple[SemVer, str]]) -> dict[str, Any]:
    """The layer fields of a model holding exactly ``versions``: one base, no fresh layer."""
    pairs.sort(key=lambda pair: pair[0]._key)
    ordered = tuple(text for _, text in pairs)
    builds = {p.identity: text for p, text in pairs if p.build}
    return {
        "base": {text: versions[text] for text in ordered}, "base_ordered": ordered,
        "base_parsed": tuple(p for p, _ in pairs), "base_stamps": tuple(stamps[text] for text in ordered),
        "fresh": {}, "builds": builds,
    }


def _flat(model: ModelState) -> tuple[dict[str, ModelMetadata], dict[str, Stamp], list[tuple[SemVer, str]]]:
    """A model's versions as plain, changeable collections (to rebuild its base from)."""
    versions = dict(model.versions)
    stamps = dict(zip(model.base_ordered, model.base_stamps, strict=True))
    stamps.update((text, fresh[2]) for text, fresh in model.fresh.items())
    pairs = list(zip(model.parsed, model.ordered, strict=True))
    return versions, stamps, pairs


def registered(state: RegistryState, change: Change, revision: int) -> RegistryState:
    """``state`` with the change's metadata (checked, canonical version set) added.

    Copies only the model's fresh layer (docs/scale.md), folding it into the base once it is full.
    """
    metadata = change.metadata
    assert metadata is not None and metadata.version is not None
    parsed = parse_version(metadata.version)
    model = _model(state, change.name)
    if model.canonical(parsed.identity) is not None:  # replayed event: already applied
        return _with_model(state, change.name, model, revision)
    text = metadata.version
    when = stamp(change.at, change.actor)
    created = model.created_at or change.at
    fresh = dict(model.fresh)
    fresh[text] = (metadata, parsed, when)
    builds = model.builds
    if parsed.build:
        builds = {**builds, parsed.identity: text}
    new = _touched(model, change, fresh=fresh, builds=builds, created_at=created)
    if fresh_full(len(fresh), len(model.base)):
        new = new.replaced(**new.folded())
    return _with_model(state, change.name, new, revision)


def unregistered(state: RegistryState, change: Change, revision: int) -> RegistryState:
    """``state`` without that version (and without aliases pointing at it)."""
    canonical = change.version
    assert canonical is not None
    model = _model(state, change.name)
    if not model.has(canonical):
        return _with_model(state, change.name, model, revision)
    aliases = _aliases({a: v for a, v in model.aliases.items() if v != canonical})
    new = _touched(model, change, aliases=aliases, **model.without(canonical))
    return _with_model(state, change.name, new, revision)


def alias_set(state: RegistryState, change: Change, revision: int) -> RegistryState:
    """``state`` with the alias pointing at the change's (canonical) version (the versions are untouched)."""
    assert change.alias is not None and change.version is not None
    model = _model(state, change.name)
    if not model.has(change.version):
        return _with_model(state, change.name, model, revision)
    aliases = dict(model.aliases)
    aliases[change.alias] = change.version
    return _with_model(state, change.name, _touched(model, change, aliases=aliases), revision)


def alias_removed(state: RegistryState, change: Change, revision: int) -> RegistryState:
    """``state`` without the alias."""
    assert change.alias is not None
    model = _model(state, change.name)
    if change.alias not in model.aliases:
        return _with_model(state, change.name, model, revision)
    aliases = _aliases({a: v for a, v in model.aliases.items() if a != change.alias})
    return _with_model(state, change.name, _touched(model, change, aliases=aliases), revision)


def annotated(state: RegistryState, change: Change, revision: int) -> RegistryState:
    """``state`` with the version's metadata annotated (its description, tags, added metrics)."""
    assert change.version is not None and change.detail is not None
    model = _model(state, change.name)
    old = model.metadata(change.version)
    if old is None:
        return _with_model(state, change.name, model, revision)
    # Applying a detail twice gives the same metadata, so a replayed annotation changes nothing.
    meta = change.metadata if change.metadata is not None else annotated_metadata(old, change.detail)
    if change.version in model.fresh:
        fresh = dict(model.fresh)
        _, parsed, when = fresh[change.version]
        fresh[change.version] = (meta, parsed, when)
        new = _touched(model, change, fresh=fresh)
    else:
        base = dict(model.base)
        base[change.version] = meta
        new = _touched(model, change, base=base)
    return _with_model(state, change.name, new, revision)


def model_annotated(state: RegistryState, change: Change, revision: int) -> RegistryState:
    """``state`` with the model record's description and tags annotated."""
    assert change.detail is not None
    model = _model(state, change.name)
    if not len(model):
        return _with_model(state, change.name, model, revision)
    description, tags = annotated_record(model.description, model.tags, change.detail)
    new = _touched(model, change, description=description, tags=frozen_dict(tags))
    return _with_model(state, change.name, new, revision)


# -- governance: alias policies and promotion requests, kept apart from the models ----------------------------


def _governed(
    state: RegistryState,
    revision: int,
    policies: Mapping[tuple[str, str], AliasPolicy] | None = None,
    promotions: Mapping[int, PromotionRequest] | None = None,
) -> RegistryState:
    return RegistryState(
        state.models,
        max(revision, state.revision),
        state.names,
        state.policies if policies is None else policies,
        state.promotions if promotions is None else promotions,
    )


def policy_set(state: RegistryState, change: Change, revision: int) -> RegistryState:
    """``state`` with the alias's policy replaced by the change's (its detail is the policy's dict)."""
    assert change.alias is not None and change.detail is not None
    policies = dict(state.policies)
    policies[(change.name, change.alias)] = AliasPolicy.from_dict(change.detail)
    return _governed(state, revision, policies=policies)


def policy_removed(state: RegistryState, change: Change, revision: int) -> RegistryState:
    """``state`` without the alias's policy."""
    assert change.alias is not None
    policies = {key: policy for key, policy in state.policies.items() if key != (change.name, change.alias)}
    return _governed(state, revision, policies=policies)


def _with_request(state: RegistryState, request: PromotionRequest, revision: int) -> RegistryState:
    promotions = dict(state.promotions)
    promotions[request.id] = request
    return _governed(state, revision, promotions=promotions)


def promotion_requested(state: RegistryState, change: Change, revision: int) -> RegistryState:
    """``state`` with a new request: pending, or approved at once when its detail says ``final``."""
    assert change.alias is not None and change.detail is not None
    number = int(change.detail["id"])
    if number in state.promotions:  # replayed event: already applied
        return _governed(state, revision)
    at = change.at or _NO_TIME
    final = bool(change.detail.get("final"))
    request = PromotionRequest(
        number, change.name, change.alias, change.version, "approved" if final else "pending",
        change.actor, at, str(change.detail.get("reason", "")),
        decided_by=change.actor if final else None, decided_at=at if final else None,
        target_registered_at=_registered(change.detail.get("registered_at")),
    )
    return _with_request(state, request, revision)


def _registered(text: object) -> datetime | None:
    return datetime.fromisoformat(text) if isinstance(text, str) else None


def promotion_approved(state: RegistryState, change: Change, revision: int) -> RegistryState:
    """``state`` with the approval added to its request (which is approved if it was the ``final`` one)."""
    assert change.detail is not None
    request = state.promotions.get(int(change.detail["id"]))
    repeated = change.actor is not None and request is not None and change.actor in request.approvals
    if request is None or request.state != "pending" or repeated:
        return _governed(state, revision)  # replayed event: already applied
    approvals = request.approvals + ((change.actor,) if change.actor is not None else ())
    if change.detail.get("final"):
        request = dataclasses.replace(
            request, approvals=approvals, state="approved", decided_by=change.actor, decided_at=change.at or _NO_TIME
        )
    else:
        request = dataclasses.replace(request, approvals=approvals)
    return _with_request(state, request, revision)


def promotion_rejected(state: RegistryState, change: Change, revision: int) -> RegistryState:
    """``state`` with the request rejected."""
    assert change.detail is not None
    request = state.promotions.get(int(change.detail["id"]))
    if request is None or request.state != "pending":
        return _governed(state, revision)  # replayed event: already applied
    request = dataclasses.replace(
        request, state="rejected", decided_by=change.actor, decided_at=change.at or _NO_TIME,
        decision_reason=str(change.detail.get("reason", "")),
    )
    return _with_request(state, request, revision)


TRANSITIONS: Mapping[str, Transition] = {
    "registered": registered,
    "unregistered": unregistered,
    "alias_set": alias_set,
    "alias_removed": alias_removed,
    "annotated": annotated,
    "model_annotated": model_annotated,
    "policy_set": policy_set,
    "policy_removed": policy_removed,
    "promotion_requested": promotion_requested,
    "promotion_approved": promotion_approved,
    "promotion_rejected": promotion_rejected,
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
    by_name: dict[str, list[Change]] = {}
    revision = state.revision
    for change, at in steps:
        assert change.metadata is not None and change.metadata.version is not None
        by_name.setdefault(change.name, []).append(change)
        revision = max(revision, at)
    models = dict(state.models)
    for name, added in by_name.items():
        model = _model(state, name)
        versions, stamps, pairs = _flat(model)
        identities = {p.identity for p, _ in pairs}
        created, updated = model.created_at, model.updated_at
        for change in added:
            meta = change.metadata
            assert meta is not None and meta.version is not None
            parsed = parse_version(meta.version)
            if parsed.identity in identities:  # replayed event: already applied
                continue
            identities.add(parsed.identity)
            versions[meta.version], stamps[meta.version] = meta, stamp(change.at, change.actor)
            created, updated = created or change.at, change.at or updated
            pairs.append((parsed, meta.version))
        models[name] = model.replaced(created_at=created, updated_at=updated,
                                      **_rebuilt(model, versions, stamps, pairs))
    return RegistryState(models, revision, tuple(sorted(models)), state.policies, state.promotions)
