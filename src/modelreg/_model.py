"""One model's part of the snapshot, laid out so a registration does not copy the model (docs/scale.md).

A ``ModelState`` is immutable, like the snapshot holding it. Its versions live in two
layers: the *base* (a dict, and tuples in precedence order, built at once) and the
*fresh* versions registered since the base was last rebuilt (a small dict). A
registration copies only the fresh layer; once the fresh layer would hold more than the square root of
the base's size, the registration folds it into a new base (``fresh_full``): a model of N
versions copies its base once per ~sqrt(N) registrations, and at most ~1/sqrt(N) of its
versions take the read path's second lookup. Unregistering removes the version from its
layer (``without``: no re-sort); annotating replaces its metadata in its layer. The whole-model views
(``versions``, ``ordered``, ``parsed``, ``identities``, ``records``) are built on first
use and kept: building one twice at once gives equal values, so no lock is needed.
The read path looks in ``base`` first: one dict lookup for all but the freshest versions.
"""

from __future__ import annotations

import bisect
import operator
import sys
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from .metadata import ModelMetadata
from .records import VersionRecord
from .semver import SemVer, parse_version

__all__ = ["NO_ALIASES", "Fresh", "ModelState", "Stamp", "empty_model", "fresh_full", "stamp", "unstamp"]



def fresh_full(fresh: int, base: int) -> bool:
    """Whether a fresh layer of ``fresh`` versions over a base of ``base`` is to be folded into it.

    A small model folds at every registration (its copy is cheap); a model of 10,000 versions every ~100.
    """
    return fresh * fresh > base


NO_ALIASES: Mapping[str, str] = {}
_NO_FRESH: Mapping[str, Fresh] = {}
_NO_BUILDS: Mapping[str, str] = {}
# The registration time of a version whose change carried none: only changes built by hand (tests).
NO_TIME = datetime(1970, 1, 1, tzinfo=UTC)

_KEY = operator.attrgetter("_key")  # a SemVer's precedence key
Stamp = datetime | tuple[datetime, str]  # registered_at, or (registered_at, registered_by) when it has an actor
Fresh = tuple[ModelMetadata, SemVer, Stamp]  # a fresh version's metadata, parsed version and stamp


def stamp(at: datetime | None, by: str | None) -> Stamp:
    """The compact form of a registration's time and actor (most have no actor: then just the time)."""
    when = at or NO_TIME
    return when if by is None else (when, sys.intern(by))


def unstamp(value: Stamp) -> tuple[datetime, str | None]:
    """(registered_at, registered_by) of a stamp."""
    return (value, None) if isinstance(value, datetime) else value


class ModelState:
    """One model: its versions (base and fresh layers), aliases and record; immutable once built."""

    __slots__ = (
        "_identities", "_ordered", "_parsed", "_records", "_versions",
        "aliases", "base", "base_ordered", "base_parsed", "base_stamps", "builds", "created_at",
        "description", "fresh", "name", "tags", "updated_at",
    )
    name: str
    base: Mapping[str, ModelMetadata]  # canonical text -> metadata: all but the fresh versions (the read path)
    base_ordered: tuple[str, ...]  # the base's canonical texts, ascending precedence
    base_parsed: tuple[SemVer, ...]  # the same, parsed
    base_stamps: tuple[Stamp, ...]  # the same, each one's registration
    fresh: Mapping[str, Fresh]  # canonical text -> the versions registered since the base was built
    builds: Mapping[str, str]  # identity -> canonical text, only for versions carrying build metadata
    aliases: Mapping[str, str]
    description: str  # the model record's
    tags: Mapping[str, str]  # read-only (a FrozenDict)
    created_at: datetime | None  # its first registration (None only in an empty model)
    updated_at: datetime | None  # its last change of any kind
    # The whole-model views, once built (None until then).
    _versions: Mapping[str, ModelMetadata] | None
    _ordered: tuple[str, ...] | None
    _parsed: tuple[SemVer, ...] | None
    _identities: Mapping[str, str] | None
    _records: Mapping[str, VersionRecord] | None

    def __init__(
        self,
        versions: Mapping[str, ModelMetadata],
        identities: Mapping[str, str],
        ordered: tuple[str, ...],
        parsed: tuple[SemVer, ...],
        aliases: Mapping[str, str] = NO_ALIASES,
        records: Mapping[str, VersionRecord] | None = None,
        description: str = "",
        tags: Mapping[str, str] | None = None,
        created_at: datetime | None = None,
        updated_at: datetime | None = None,
    ) -> None:
        """A model from whole-model views (a scratch copy); ``records`` give the registrations, if known."""
        from ._frozen import frozen_dict

        records = records or {}
        stamps = tuple(
            stamp(r.registered_at, r.registered_by) if (r := records.get(v)) is not None else NO_TIME
            for v in ordered
        )
        name = next((r.name for r in records.values()), "")
        builds = {identity: v for identity, v in identities.items() if identity != v}
        self._set(name, dict(versions), ordered, parsed, stamps, _NO_FRESH, builds or _NO_BUILDS, aliases,
                  description, frozen_dict() if tags is None else tags, created_at, updated_at)

    def _set(self, name: str, base: Mapping[str, ModelMetadata], ordered: tuple[str, ...],
             parsed: tuple[SemVer, ...], stamps: tuple[Stamp, ...], fresh: Mapping[str, Fresh],
             builds: Mapping[str, str], aliases: Mapping[str, str], description: str, tags: Mapping[str, str],
             created_at: datetime | None, updated_at: datetime | None) -> None:
        put = object.__setattr__
        for slot, value in (
            ("name", name), ("base", base), ("base_ordered", ordered), ("base_parsed", parsed),
            ("base_stamps", stamps), ("fresh", fresh), ("builds", builds), ("aliases", aliases),
            ("description", description), ("tags", tags), ("created_at", created_at), ("updated_at", updated_at),
            # Without fresh versions the views are the base itself (read without a property call).
            ("_versions", None if fresh else base), ("_ordered", None if fresh else ordered),
            ("_parsed", None if fresh else parsed), ("_identities", None), ("_records", None),
        ):
            put(self, slot, value)

    @classmethod
    def built(cls, name: str, base: Mapping[str, ModelMetadata], ordered: tuple[str, ...],
              parsed: tuple[SemVer, ...], stamps: tuple[Stamp, ...], builds: Mapping[str, str],
              aliases: Mapping[str, str], description: str, tags: Mapping[str, str],
              created_at: datetime | None, updated_at: datetime | None,
              fresh: Mapping[str, Fresh] = _NO_FRESH) -> ModelState:
        """A model from its layers, as the transitions and the loaders build them (nothing checked)."""
        model = object.__new__(cls)
        model._set(name, base, ordered, parsed, stamps, fresh, builds or _NO_BUILDS, aliases or NO_ALIASES,
                   description, tags, created_at, updated_at)
        return model

    def replaced(self, **fields: Any) -> ModelState:
        """This model with ``fields`` (slot names) replaced; views of unchanged versions are kept."""
        get = fields.get
        model = ModelState.built(
            get("name", self.name), get("base", self.base), get("base_ordered", self.base_ordered),
            get("base_parsed", self.base_parsed), get("base_stamps", self.base_stamps), get("builds", self.builds),
            get("aliases", self.aliases), get("description", self.description), get("tags", self.tags),
            get("created_at", self.created_at), get("updated_at", self.updated_at), get("fresh", self.fresh),
        )
        if not fields.keys() & {"base", "fresh"}:  # same versions: their views still hold
            put = object.__setattr__
            for view in ("_versions", "_ordered", "_parsed", "_identities"):
                put(model, view, getattr(self, view))
        return model

    def folded(self) -> dict[str, Any]:
        """The layer fields of this model with its fresh versions folded into the base (for ``replaced``).

        Copies the base once and inserts the few fresh versions by bisection: no sort, no per-version code.
        """
        ordered, parsed, stamps = merged(self.base_ordered, self.base_parsed, self.base_stamps, self.fresh)
        base = dict(self.base)
        base.update((text, fresh[0]) for text, fresh in self.fresh.items())
        return {"base": base, "base_ordered": ordered, "base_parsed": parsed, "base_stamps": stamps,
                "fresh": _NO_FRESH}

    def without(self, canonical: str) -> dict[str, Any]:
        """The layer fields of this model without the version ``canonical`` (for ``replaced``).

        From the fresh layer: a copy of it; from the base: one copy of the dict and tuples, no sort.
        """
        builds = self.builds
        if "+" in canonical:
            builds = {identity: text for identity, text in builds.items() if text != canonical}
        if canonical in self.fresh:
            return {"fresh": {v: f for v, f in self.fresh.items() if v != canonical}, "builds": builds}
        i = bisect.bisect_left(self.base_parsed, parse_version(canonical)._key, key=_KEY)
        base = dict(self.base)
        del base[canonical]
        return {
            "base": base, "builds": builds,
            "base_ordered": self.base_ordered[:i] + self.base_ordered[i + 1:],
            "base_parsed": self.base_parsed[:i] + self.base_parsed[i + 1:],
            "base_stamps": self.base_stamps[:i] + self.base_stamps[i + 1:],
        }

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"ModelState is immutable; cannot set {name!r}")

    # -- lookups ----------------------------------------------------------------------

    def __len__(self) -> int:
        """How many versions the model has."""
        return len(self.base) + len(self.fresh)

    def has(self, canonical: str) -> bool:
        """Whether ``canonical`` is one of the model's versions, exactly."""
        return canonical in self.base or canonical in self.fresh

    def metadata(self, canonical: str) -> ModelMetadata | None:
        """The metadata of the version with exactly this canonical text, if the model has it."""
        found = self.base.get(canonical)
        if found is None:
            fresh = self.fresh.get(canonical)
            return None if fresh is None else fresh[0]
        return found

    def canonical(self, identity: str) -> str | None:
        """Canonical text of the version with that identity (its text without build metadata), if any."""
        if identity in self.base or identity in self.fresh:
            return identity
        return self.builds.get(identity)

    def find(self, version: str) -> str | None:
        """Canonical text of the stored version equal in precedence to ``version``, if any."""
        if version in self.base or version in self.fresh:
            return version
        return self.canonical(parse_version(version).identity)

    def record(self, canonical: str) -> VersionRecord | None:
        """The search record of one version (its metadata, aliases and registration), built now."""
        fresh = self.fresh.get(canonical)
        if fresh is not None:
            meta, _, when = fresh
        else:
            meta = self.base.get(canonical)  # type: ignore[assignment]
            if meta is None:
                return None
            when = self.base_stamps[bisect.bisect_left(self.base_parsed, parse_version(canonical)._key, key=_KEY)]
        at, by = unstamp(when)
        pointing = tuple(sorted(a for a, v in self.aliases.items() if v == canonical))
        return VersionRecord(self.name, canonical, meta, pointing, at, by)

    # -- whole-model views, built on first use ------------------------------------------

    @property
    def versions(self) -> Mapping[str, ModelMetadata]:
        """Canonical text -> metadata, every version."""
        if not self.fresh:
            return self.base
        view = self._versions
        if view is None:
            built = dict(self.base)
            built.update((v, f[0]) for v, f in self.fresh.items())
            object.__setattr__(self, "_versions", built)
            view = built
        return view

    @property
    def ordered(self) -> tuple[str, ...]:
        """Canonical texts, ascending precedence."""
        if not self.fresh:
            return self.base_ordered
        if self._ordered is None:
            self._merge()
        assert self._ordered is not None
        return self._ordered

    @property
    def parsed(self) -> tuple[SemVer, ...]:
        """The same, parsed, for bisecting and ranges."""
        if not self.fresh:
            return self.base_parsed
        if self._parsed is None:
            self._merge()
        assert self._parsed is not None
        return self._parsed

    def _merge(self) -> None:
        ordered, parsed, _ = merged(self.base_ordered, self.base_parsed, self.base_stamps, self.fresh)
        object.__setattr__(self, "_parsed", parsed)
        object.__setattr__(self, "_ordered", ordered)

    @property
    def identities(self) -> Mapping[str, str]:
        """Identity (canonical text without build metadata) -> canonical text, every version."""
        view = self._identities
        if view is None:
            view = {p.identity: v for v, p in zip(self.ordered, self.parsed, strict=True)}
            object.__setattr__(self, "_identities", view)
        return view

    @property
    def records(self) -> Mapping[str, VersionRecord]:
        """Canonical text -> search record, every version (governance and tests read it; kept once built)."""
        view = self._records
        if view is None:
            built = {record.version: record for record in self.each_record()}
            object.__setattr__(self, "_records", built)
            view = built
        return view

    def each_record(self) -> Iterator[VersionRecord]:
        """Every version's search record, in precedence order, built now and not kept (search keeps its own)."""
        pointing: dict[str, list[str]] = {}
        for alias, target in sorted(self.aliases.items()):
            pointing.setdefault(target, []).append(alias)
        name, none = self.name, ()
        for v, meta, when in self.each():
            at, by = unstamp(when)
            found = pointing.get(v)
            yield VersionRecord(name, v, meta, none if found is None else tuple(found), at, by)

    def each(self) -> Iterable[tuple[str, ModelMetadata, Stamp]]:
        """(canonical text, metadata, stamp) of every version, in precedence order."""
        if not self.fresh:
            return zip(self.base_ordered, map(self.base.__getitem__, self.base_ordered), self.base_stamps,
                       strict=True)
        ordered, _, stamps = merged(self.base_ordered, self.base_parsed, self.base_stamps, self.fresh)
        versions = self.versions
        return zip(ordered, map(versions.__getitem__, ordered), stamps, strict=True)

    # -- values ------------------------------------------------------------------------

    def _compared(self) -> tuple[Any, ...]:
        return (self.name, self.versions, self.ordered, self.aliases, self.records, self.description, self.tags,
                self.created_at, self.updated_at)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ModelState):
            return NotImplemented
        return self is other or self._compared() == other._compared()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<ModelState {self.name!r}: {len(self)} versions, aliases {dict(self.aliases)}>"


def merged(
    ordered: tuple[str, ...], parsed: tuple[SemVer, ...], stamps: tuple[Stamp, ...], fresh: Mapping[str, Fresh]
) -> tuple[tuple[str, ...], tuple[SemVer, ...], tuple[Stamp, ...]]:
    """The base tuples with the fresh versions inserted in precedence order (bisect: few comparisons)."""
    texts, versions, times = list(ordered), list(parsed), list(stamps)
    for text, (_, version, when) in sorted(fresh.items(), key=lambda item: item[1][1]._key):
        i = bisect.bisect_left(versions, version._key, key=_KEY)  # tuples compared in C
        texts.insert(i, text)
        versions.insert(i, version)
        times.insert(i, when)
    return tuple(texts), tuple(versions), tuple(times)


def empty_model(name: str) -> ModelState:
    """A model without versions (what a registration into a new model starts from)."""
    from ._frozen import frozen_dict

    return ModelState.built(name, {}, (), (), (), _NO_BUILDS, NO_ALIASES, "", frozen_dict(), None, None)
