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
    └── StoreError                                   code "store_unavailable"

Every class carries a stable machine-readable ``code`` that the HTTP layer sends
and the client maps back, so a remote caller catches the same class.
"""

from __future__ import annotations

__all__ = [
    "AliasNotFoundError",
    "DuplicateVersionError",
    "EventsUnavailableError",
    "InvalidNameError",
    "InvalidVersionError",
    "MetadataError",
    "RegistryError",
    "StoreError",
    "VersionInUseError",
    "VersionNotFoundError",
]


class RegistryError(Exception):
    """Root of every error the registry raises on purpose."""

    code: str = "registry_error"

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


class StoreError(RegistryError):
    """The storage behind the registry failed or is unreachable; the cause is chained."""

    code = "store_unavailable"


ERROR_CLASSES: tuple[type[RegistryError], ...] = (
    RegistryError,
    InvalidVersionError,
    InvalidNameError,
    MetadataError,
    DuplicateVersionError,
    VersionNotFoundError,
    AliasNotFoundError,
    VersionInUseError,
    EventsUnavailableError,
    StoreError,
)
