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
    RegistryError,
    StoreError,
    VersionInUseError,
    VersionNotFoundError,
)
from .events import RegistryEvent, Subscription
from .memory import MemoryRegistry
from .metadata import ModelMetadata
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
    "ModelMetadata",
    "ModelRegistry",
    "RegistryError",
    "RegistryEvent",
    "SemVer",
    "StoreError",
    "Subscription",
    "VersionInUseError",
    "VersionNotFoundError",
    "VersionRange",
    "acting_as",
    "open_registry",
]
