"""The interfaces: ``ModelRegistry`` (every backend and the HTTP client) and ``EventLog`` (a readable change log)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self, runtime_checkable

from .events import Callback, RegistryEvent, Subscription
from .metadata import ModelMetadata
from .policies import AliasPolicy, PromotionRequest
from .records import ModelInfo, SearchPage

__all__ = ["EventLog", "ModelRegistry"]


@runtime_checkable
class ModelRegistry(Protocol):
    """A registry of model versions; code written against it runs on any backend."""

    def register_model(self, name: str, version: str, metadata: ModelMetadata) -> ModelMetadata:
        """Store a new version; return the stored metadata (canonical version filled in)."""
        ...

    def unregister_model(self, name: str, version: str, force: bool = False) -> None:
        """Remove a version; ``force`` also removes aliases pointing at it."""
        ...

    def has_version(self, name: str, version: str) -> bool:
        """Whether the model has a version of that precedence."""
        ...

    def get_versions(self, name: str, *, at: datetime | None = None) -> list[str]:
        """Canonical versions in ascending precedence; ``[]`` for an unknown model.

        With ``at`` (an aware datetime, not in the future), the versions as they stood then.
        """
        ...

    def get_metadata(self, name: str, version: str) -> ModelMetadata:
        """The stored metadata of a version."""
        ...

    def get_all_model_names(self) -> list[str]:
        """Names of models with at least one version, sorted."""
        ...

    def resolve(self, name: str, spec: str, *, at: datetime | None = None) -> str:
        """Highest version matching a range, ``latest``, or an alias's target (at time ``at``, if given)."""
        ...

    def set_alias(self, name: str, alias: str, version: str) -> None:
        """Point ``alias`` (e.g. ``production``) at a version, moving it if it exists."""
        ...

    def remove_alias(self, name: str, alias: str) -> None:
        """Delete an alias."""
        ...

    def get_aliases(self, name: str, *, at: datetime | None = None) -> dict[str, str]:
        """Alias name to canonical version (as they stood at time ``at``, if given)."""
        ...

    def version_counts(self) -> dict[str, int]:
        """Model name to its number of versions, for every model (one call, not one per model)."""
        ...

    def subscribe(self, callback: Callback) -> Subscription:
        """Call ``callback`` with each committed change, in revision order."""
        ...

    def history(
        self, name: str, *, version: str | None = None, kinds: Iterable[str] | None = None
    ) -> list[RegistryEvent]:
        """The changes to one model, oldest first; only ``version``'s and only these ``kinds`` when given."""
        ...

    def search(
        self,
        where: str = "",
        *,
        name: str | None = None,
        order_by: str = "",
        limit: int = 100,
        cursor: str | None = None,
    ) -> SearchPage:
        """Versions matching ``where`` (docs/search.md), ordered, one page at a time (``cursor`` from the last page)."""
        ...

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
        """Change a version's description and tags, add metrics (never change one); return the new metadata."""
        ...

    def get_model(self, name: str) -> ModelInfo:
        """The model's record: description, tags, version count, latest version, aliases, times."""
        ...

    def annotate_model(
        self,
        name: str,
        *,
        description: str | None = None,
        set_tags: Mapping[str, str] | None = None,
        remove_tags: Iterable[str] = (),
    ) -> ModelInfo:
        """Change the model record's description and tags; return the new record."""
        ...

    def delete_model(self, name: str, force: bool = False) -> None:
        """Remove every version of the model in one transaction (VersionInUseError while aliases exist unless force)."""
        ...

    def prune(
        self,
        name: str | None = None,
        *,
        keep_latest: int = 10,
        older_than: datetime | None = None,
        dry_run: bool = True,
    ) -> list[tuple[str, str]]:
        """Remove (or with ``dry_run``, the default, only list) versions beyond each model's newest ``keep_latest``.

        Only those registered before ``older_than`` when given; never an aliased one. Returns
        ``(name, version)`` pairs by name then precedence (docs/governance.md, Retention).
        """
        ...

    def set_alias_policy(self, name: str, alias: str, policy: AliasPolicy) -> None:
        """Govern moves of ``alias`` by ``policy`` (docs/governance.md), replacing its policy if it has one."""
        ...

    def get_alias_policy(self, name: str, alias: str) -> AliasPolicy | None:
        """The policy governing ``alias``, or None."""
        ...

    def remove_alias_policy(self, name: str, alias: str) -> None:
        """Stop governing ``alias`` (PolicyNotFoundError if it has no policy)."""
        ...

    def request_promotion(self, name: str, alias: str, version: str | None, *, reason: str = "") -> PromotionRequest:
        """Ask to point ``alias`` at ``version`` (None: remove it); moves at once when no approvals are needed.

        PolicyError, and nothing recorded, when the target fails the policy's checks.
        """
        ...

    def approve_promotion(self, number: int) -> PromotionRequest:
        """Approve a pending request as the current actor (not its requester); the last approval moves the alias."""
        ...

    def reject_promotion(self, number: int, *, reason: str = "") -> PromotionRequest:
        """Reject a pending request; the alias stays as it is."""
        ...

    def get_promotion(self, number: int) -> PromotionRequest:
        """One promotion request as it stands (PromotionNotFoundError if there is none)."""
        ...

    def list_promotions(self, name: str | None = None, *, state: str | None = None) -> list[PromotionRequest]:
        """Promotion requests by id; of one model, in one state (pending, approved, rejected) when given."""
        ...

    def ping(self) -> None:
        """Return if the storage answers now, else StoreError (what a readiness check asks)."""
        ...

    def close(self) -> None:
        """Release threads and connections; idempotent. Reads of an in-process snapshot may go on."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...


@runtime_checkable
class EventLog(Protocol):
    """A registry whose committed changes can be read back by revision (what event streams resume from).

    Every backend and the HTTP client implement it: the durable stores from their
    events table, ``MemoryRegistry`` from its bounded buffer, the client from its server.
    """

    @property
    def revision(self) -> int:
        """Revision of the last change applied (0 for an empty registry)."""
        ...

    @property
    def store_id(self) -> str:
        """A random id made with the store, so a recreated or different store is told from this one."""
        ...

    def refresh(self) -> None:
        """Apply now what other processes committed, instead of waiting to notice it (a no-op where reads are live)."""
        ...

    def events_after(self, revision: int, limit: int = 1000) -> list[RegistryEvent]:
        """Up to ``limit`` committed changes after ``revision``, oldest first, starting at ``revision + 1``.

        EventsUnavailableError when the log no longer holds the event right after
        ``revision``; ``[]`` when nothing came after it.
        """
        ...
