"""modelreg: a registry of model versions with strict SemVer, aliases and change events."""

__version__ = "0.1.0"  # first, so every module (the client, the server) may import it


from ._base import acting_as
from .errors import (
    AliasNotFoundError,
    DuplicateVersionError,
    EventsUnavailableError,
    InvalidNameError,
    InvalidVersionError,
    MetadataError,
    QueryError,
    RegistryError,
    StoreError,
    VersionInUseError,
    VersionNotFoundError,
)
from .events import RegistryEvent, Subscription
from .memory import MemoryRegistry
from .metadata import ModelMetadata
from .records import ModelInfo, SearchPage, VersionRecord
from .registry import EventLog, ModelRegistry
from .semver import SemVer, VersionRange
from .urls import open_registry

__all__ = [
    "AliasNotFoundError",
    "DuplicateVersionError",
    "EventLog",
    "EventsUnavailableError",
    "InvalidNameError",
    "InvalidVersionError",
    "MemoryRegistry",
    "MetadataError",
    "ModelInfo",
    "ModelMetadata",
    "ModelRegistry",
    "QueryError",
    "RegistryError",
    "RegistryEvent",
    "SearchPage",
    "SemVer",
    "StoreError",
    "Subscription",
    "VersionInUseError",
    "VersionNotFoundError",
    "VersionRange",
    "VersionRecord",
    "acting_as",
    "open_registry",
]
