"""Immutable registry snapshots and the pure functions that derive the next one.

Every backend keeps one ``RegistryState`` and replaces it wholesale on each write,
so readers take no lock and never see a half-made change. Its mappings are plain
dicts that are never mutated once built and never handed out (a ``mappingproxy``
would add ~10 ns to every lookup on the read path). The functions here hold
the registry's rules (duplicates, aliases in use); backends only add storage.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from dataclasses import dataclass, field

from .errors import (
    AliasNotFoundError,
    DuplicateVersionError,
    MetadataError,
    VersionInUseError,
    VersionNotFoundError,
)
from .metadata import ModelMetadata
from .semver import SemVer, parse_version

__all__ = ["ModelState", "RegistryState"]

_NO_ALIASES: Mapping[str, str] = {}


@dataclass(frozen=True, slots=True)
class ModelState:
    """One model: its versions by canonical text and by identity, in order, and its aliases."""

    versions: Mapping[str, ModelMetadata]  # canonical text -> metadata
    identities: Mapping[str, str]  # canonical text without build metadata -> canonical text
    ordered: tuple[str, ...]  # canonical texts, ascending precedence
    parsed: tuple[SemVer, ...]  # the same, parsed, for bisecting and ranges
    aliases: Mapping[str, str] = field(default_factory=lambda: _NO_ALIASES)

    def find(self, version: str) -> str | None:
        """Canonical text of the stored version equal in precedence to ``version``, if any."""
        if version in self.versions:
            return version
        return self.identities.get(parse_version(version).identity)


_EMPTY_MODEL = ModelState({}, {}, (), ())


@dataclass(frozen=True, slots=True)
class RegistryState:
    """The whole registry at one revision."""

    models: Mapping[str, ModelState] = field(default_factory=lambda: {})
    revision: int = 0
    names: tuple[str, ...] = ()

    def model(self, name: str) -> ModelState:
        """The model's state, empty for an unknown model."""
        return self.models.get(name, _EMPTY_MODEL)

    def require(self, name: str, version: str) -> str:
        """Canonical text of a stored version, or VersionNotFoundError."""
        found = self.model(name).find(version)
        if found is None:
            raise VersionNotFoundError(f"model {name!r} has no version {version!r}", name=name, version=version)
        return found

    # -- derivations: each returns a new state and leaves this one untouched --------

    def _with_model(self, name: str, model: ModelState | None, revision: int) -> RegistryState:
        models = dict(self.models)
        names = self.names
        if model is None or not model.versions:
            models.pop(name, None)
            names = tuple(n for n in names if n != name)
        else:
            if name not in models:
                i = bisect.bisect_left(names, name)
                names = names[:i] + (name,) + names[i:]
            models[name] = model
        return RegistryState(models, max(revision, self.revision), names)

    def check_register(self, name: str, version: str, metadata: ModelMetadata) -> ModelMetadata:
        """Validate a registration against this state; return the metadata to store."""
        parsed = parse_version(version)
        canonical = str(parsed)
        # Exact canonical text, not precedence: "5.0.0+b" registered as "5.0.0" would silently drop the "+b".
        if metadata.version is not None and metadata.version != canonical:
            raise MetadataError(
                f"metadata.version {metadata.version!r} does not match the version being registered {canonical!r}; "
                "leave it out (null) or make it the same, build metadata included",
                name=name,
                version=canonical,
            )
        existing = self.model(name).identities.get(parsed.identity)
        if existing is not None:
            raise DuplicateVersionError(
                f"model {name!r} already has version {existing!r}"
                + ("" if existing == canonical else f" (same precedence as {canonical!r})"),
                name=name,
                version=canonical,
            )
        return metadata.with_version(canonical)

    def registered(self, name: str, metadata: ModelMetadata, revision: int) -> RegistryState:
        """State with ``metadata`` (checked, canonical version set) added."""
        assert metadata.version is not None
        parsed = parse_version(metadata.version)
        model = self.model(name)
        if parsed.identity in model.identities:  # replayed event: already applied
            return self._with_model(name, model, revision)
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
        return self._with_model(name, new, revision)

    def check_unregister(self, name: str, version: str, force: bool) -> tuple[str, list[str]]:
        """Canonical version to remove and the aliases that go with it (VersionInUseError unless force)."""
        canonical = self.require(name, version)
        pointing = sorted(a for a, v in self.model(name).aliases.items() if v == canonical)
        if pointing and not force:
            raise VersionInUseError(
                f"cannot unregister {name} {canonical}: alias(es) {', '.join(pointing)} point at it; "
                "move them first or pass force=True to remove them too",
                name=name,
                version=canonical,
                alias=pointing[0],
            )
        return canonical, pointing

    def unregistered(self, name: str, canonical: str, revision: int) -> RegistryState:
        """State without that version (and without aliases pointing at it)."""
        model = self.model(name)
        if canonical not in model.versions:
            return self._with_model(name, model, revision)
        i = model.ordered.index(canonical)
        versions = dict(model.versions)
        del versions[canonical]
        identities = dict(model.identities)
        del identities[model.parsed[i].identity]
        aliases = {a: v for a, v in model.aliases.items() if v != canonical}
        new = ModelState(
            versions,
            identities,
            model.ordered[:i] + model.ordered[i + 1 :],
            model.parsed[:i] + model.parsed[i + 1 :],
            aliases if aliases else _NO_ALIASES,
        )
        return self._with_model(name, new, revision)

    def alias_set(self, name: str, alias: str, canonical: str, revision: int) -> RegistryState:
        """State with ``alias`` pointing at ``canonical``."""
        model = self.model(name)
        if canonical not in model.versions:
            return self._with_model(name, model, revision)
        aliases = dict(model.aliases)
        aliases[alias] = canonical
        new = ModelState(model.versions, model.identities, model.ordered, model.parsed, aliases)
        return self._with_model(name, new, revision)

    def check_alias(self, name: str, alias: str) -> str:
        """The version ``alias`` points at, or AliasNotFoundError."""
        target = self.model(name).aliases.get(alias)
        if target is None:
            raise AliasNotFoundError(f"model {name!r} has no alias {alias!r}", name=name, alias=alias)
        return target

    def alias_removed(self, name: str, alias: str, revision: int) -> RegistryState:
        """State without ``alias``."""
        model = self.model(name)
        if alias not in model.aliases:
            return self._with_model(name, model, revision)
        aliases = {a: v for a, v in model.aliases.items() if a != alias}
        new = ModelState(
            model.versions,
            model.identities,
            model.ordered,
            model.parsed,
            aliases if aliases else _NO_ALIASES,
        )
        return self._with_model(name, new, revision)
