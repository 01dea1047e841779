"""The one exception tree of modelreg.

    RegistryError
    ├── InvalidVersionError      (also ValueError)   code "invalid_version"
    ├── InvalidNameError         (also ValueError)   code "invalid_name"
    ├── MetadataError            (also ValueError)   code "invalid_metadata"
    ├── DuplicateVersionError    (also ValueError)   code "duplicate_version"
    ├── VersionNotFoundError     (also LookupError)  code "version_not_found"
    ├── AliasNotFoundError       (also LookupError)  code "alias_not_found"
    ├── VersionInUseError                            code "version_in_use"
    ├── EventsUnavailableError   (also LookupError)  code "events_unavailable"
    ├── QueryError               (also ValueError)   code "invalid_query"
    ├── InvalidPolicyError       (also ValueError)   code "invalid_policy"
    ├── PolicyError                                  code "policy_violation"
    ├── PolicyNotFoundError      (also LookupError)  code "policy_not_found"
    ├── PromotionNotFoundError   (also LookupError)  code "promotion_not_found"
    ├── InvalidWebhookError      (also ValueError)   code "invalid_webhook"
    ├── WebhookNotFoundError     (also LookupError)  code "webhook_not_found"
    └── StoreError                                   code "store_unavailable"

Every class carries a stable machine-readable ``code`` that the HTTP layer sends
and the client maps back (``error_class``), so a remote caller catches the same
class. A class that sets its own ``code`` is recorded as it is defined, so none can
be left out of the table; ``nearest`` finds the entry for an error in any table keyed
by class (the server's statuses, the CLI's exit codes).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

__all__ = [
    "ERROR_CLASSES",
    "AliasNotFoundError",
    "DuplicateVersionError",
    "EventsUnavailableError",
    "InvalidNameError",
    "InvalidPolicyError",
    "InvalidVersionError",
    "InvalidWebhookError",
    "MetadataError",
    "PolicyError",
    "PolicyNotFoundError",
    "PromotionNotFoundError",
    "QueryError",
    "RegistryError",
    "StoreError",
    "VersionInUseError",
    "VersionNotFoundError",
    "WebhookNotFoundError",
    "error_class",
    "nearest",
]

T = TypeVar("T")
_BY_CODE: dict[str, type[RegistryError]] = {}


class RegistryError(Exception):
    """Root of every error the registry raises on purpose."""

    code: str = "registry_error"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Record a class that declares its own ``code``; two classes may not share one."""
        super().__init_subclass__(**kwargs)
        if "code" in cls.__dict__:
            taken = _BY_CODE.setdefault(cls.code, cls)
            if taken is not cls:
                raise TypeError(f"{cls.__qualname__}.code {cls.code!r} is already {taken.__qualname__}'s")

    def __init__(
        self,
        message: str,
        *,
        name: str | None = None,
        version: str | None = None,
        alias: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.name = name
        self.version = version
        self.alias = alias

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only arguments need help to survive pickling (multiprocessing).
        return (_rebuild, (type(self), self.message, self.name, self.version, self.alias))


def _rebuild(
    cls: type[RegistryError], message: str, name: str | None, version: str | None, alias: str | None
) -> RegistryError:
    return cls(message, name=name, version=version, alias=alias)


class InvalidVersionError(RegistryError, ValueError):
    """Text that is not a SemVer 2.0.0 version (or not a valid range)."""

    code = "invalid_version"


class InvalidNameError(RegistryError, ValueError):
    """A model or alias name that breaks the naming rule."""

    code = "invalid_name"


class MetadataError(RegistryError, ValueError):
    """Metadata that cannot be stored exactly (wrong type, non-finite, too large)."""

    code = "invalid_metadata"


class DuplicateVersionError(RegistryError, ValueError):
    """The model already has a version of the same precedence."""

    code = "duplicate_version"


class VersionNotFoundError(RegistryError, LookupError):
    """No such version (or nothing matches a range or alias)."""

    code = "version_not_found"


class AliasNotFoundError(RegistryError, LookupError):
    """The model has no alias of that name."""

    code = "alias_not_found"


class VersionInUseError(RegistryError):
    """An alias still points at the version being unregistered."""

    code = "version_in_use"


class EventsUnavailableError(RegistryError, LookupError):
    """The event log no longer holds (or never held) the events after the revision asked for."""

    code = "events_unavailable"


class QueryError(RegistryError, ValueError):
    """A search query, order or cursor that cannot be read; ``position`` is the 1-based column, if known."""

    code = "invalid_query"

    def __init__(self, message: str, *, position: int | None = None, **fields: str | None) -> None:
        super().__init__(message, **fields)
        self.position = position

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_query, (self.message, self.position))


def _rebuild_query(message: str, position: int | None) -> QueryError:
    return QueryError(message, position=position)


class InvalidPolicyError(RegistryError, ValueError):
    """An alias policy that cannot be evaluated: a ``require`` item that is no ``where`` expression, and the like."""

    code = "invalid_policy"


class PolicyError(RegistryError):
    """A change an alias policy forbids: a failed requirement or regression, a missing approval, a closed request."""

    code = "policy_violation"


class PolicyNotFoundError(RegistryError, LookupError):
    """The alias has no policy."""

    code = "policy_not_found"


class PromotionNotFoundError(RegistryError, LookupError):
    """No promotion request has that id."""

    code = "promotion_not_found"


class InvalidWebhookError(RegistryError, ValueError):
    """A webhook registration that cannot be kept: a URL that is not http(s), an unknown event kind, a bad glob."""

    code = "invalid_webhook"


class WebhookNotFoundError(RegistryError, LookupError):
    """No webhook has that id."""

    code = "webhook_not_found"


class StoreError(RegistryError):
    """The storage behind the registry failed or is unreachable; the cause is chained."""

    code = "store_unavailable"


ERROR_CLASSES: tuple[type[RegistryError], ...] = (RegistryError, *_BY_CODE.values())
"""Every error class of this module, the root first, then in the order they are defined (recorded, not listed)."""
_BY_CODE[RegistryError.code] = RegistryError


def error_class(code: str) -> type[RegistryError] | None:
    """The class whose ``code`` this is (any class that declares one, wherever defined), or None."""
    return _BY_CODE.get(code)


def nearest(table: Mapping[Any, T], error: BaseException, default: T) -> T:
    """The entry of the nearest class in ``error``'s MRO that ``table`` lists, else ``default``.

    So a new subclass of (say) ``LookupError`` takes its base's entry without touching the table.
    """
    for cls in type(error).__mro__:
        found = table.get(cls)
        if found is not None:
            return found
    return default
