"""Immutable registry snapshots, their read helpers and the checks a write must pass.

Every backend keeps one ``RegistryState`` and replaces it wholesale on each write,
so readers take no lock and never see a half-made change. Its mappings are plain
dicts that are never mutated once built and never handed out (a ``mappingproxy``
would add ~10 ns to every lookup on the read path). The checks here hold the
registry's rules (duplicates, aliases in use); ``_transitions`` derives the next
state; backends only add storage.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ._frozen import frozen_dict
from ._model import NO_ALIASES, ModelState, empty_model
from .errors import (
    AliasNotFoundError,
    DuplicateVersionError,
    MetadataError,
    PolicyError,
    VersionInUseError,
    VersionNotFoundError,
)
from .metadata import ModelMetadata
from .policies import AliasPolicy, PromotionRequest
from .records import VersionRecord
from .semver import parse_version

__all__ = ["NO_ALIASES", "NO_POLICIES", "NO_PROMOTIONS", "NO_RECORDS", "NO_TAGS", "ModelState", "RegistryState"]

NO_RECORDS: Mapping[str, VersionRecord] = {}
NO_TAGS: Mapping[str, str] = frozen_dict()
NO_POLICIES: Mapping[tuple[str, str], AliasPolicy] = {}
NO_PROMOTIONS: Mapping[int, PromotionRequest] = {}


_EMPTY_MODEL = empty_model("")


@dataclass(frozen=True, slots=True)
class RegistryState:
    """The whole registry at one revision: its models, and the alias policies and promotion requests.

    Policies are kept by (model, alias) apart from the models, so a policy outlives the
    versions it governs (it may be set before the first registration, and stays when the
    model's last version goes); requests by id, every one ever made.
    """

    models: Mapping[str, ModelState] = field(default_factory=lambda: {})
    revision: int = 0
    names: tuple[str, ...] = ()
    policies: Mapping[tuple[str, str], AliasPolicy] = field(default_factory=lambda: NO_POLICIES)
    promotions: Mapping[int, PromotionRequest] = field(default_factory=lambda: NO_PROMOTIONS)

    def model(self, name: str) -> ModelState:
        """The model's state, empty for an unknown model."""
        return self.models.get(name, _EMPTY_MODEL)

    def require(self, name: str, version: str) -> str:
        """Canonical text of a stored version, or VersionNotFoundError."""
        found = self.model(name).find(version)
        if found is None:
            raise VersionNotFoundError(f"model {name!r} has no version {version!r}", name=name, version=version)
        return found

    # -- checks: what a write may do, decided before storage is touched ----------------

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
        existing = self.model(name).canonical(parsed.identity)
        if existing is not None:
            raise DuplicateVersionError(
                f"model {name!r} already has version {existing!r}"
                + ("" if existing == canonical else f" (same precedence as {canonical!r})"),
                name=name,
                version=canonical,
            )
        return metadata.with_version(canonical)

    def check_unregister(self, name: str, version: str, force: bool) -> tuple[str, list[str]]:
        """Canonical version to remove and the aliases that go with it (VersionInUseError unless force)."""
        canonical = self.require(name, version)
        pointing = sorted(a for a, v in self.model(name).aliases.items() if v == canonical)
        self._refuse_protected(name, pointing, f"unregister {name} {canonical}")
        if pointing and not force:
            raise VersionInUseError(
                f"cannot unregister {name} {canonical}: alias(es) {', '.join(pointing)} point at it; "
                "move them first or pass force=True to remove them too",
                name=name,
                version=canonical,
                alias=pointing[0],
            )
        return canonical, pointing

    def check_delete(self, name: str, force: bool) -> ModelState:
        """The model to delete (VersionNotFoundError without versions, VersionInUseError while aliased unless force)."""
        model = self.model(name)
        if not len(model):
            raise VersionNotFoundError(f"model {name!r} has no versions, so there is nothing to delete", name=name)
        self._refuse_protected(name, sorted(model.aliases), f"delete model {name}")
        if model.aliases and not force:
            aliases = sorted(model.aliases)
            raise VersionInUseError(
                f"cannot delete model {name}: alias(es) {', '.join(aliases)} point at its versions; "
                "remove them first or pass force=True to remove them too",
                name=name,
                alias=aliases[0],
            )
        return model

    def _refuse_protected(self, name: str, aliases: list[str], what: str) -> None:
        """PolicyError, even with force, when one of ``aliases`` has a policy: it must be moved the governed way."""
        protected = [alias for alias in aliases if (name, alias) in self.policies]
        if protected:
            raise PolicyError(
                f"cannot {what}: alias(es) {', '.join(protected)} point at it and are protected by a policy, "
                "so not even force removes them; move them first (request a promotion), "
                "or have an admin remove the policy",
                name=name,
                alias=protected[0],
            )

    def check_alias(self, name: str, alias: str) -> str:
        """The version ``alias`` points at, or AliasNotFoundError."""
        target = self.model(name).aliases.get(alias)
        if target is None:
            raise AliasNotFoundError(f"model {name!r} has no alias {alias!r}", name=name, alias=alias)
        return target
