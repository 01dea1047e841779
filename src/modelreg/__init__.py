"""modelreg: a registry of model versions with strict SemVer, aliases and change events."""

from ._base import acting_as
from .errors import (
    AliasNotFoundError,
    DuplicateVersionError,
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
from .registry import ModelRegistry
from .semver import SemVer, VersionRange
from .urls import open_registry

__all__ = [
    "AliasNotFoundError",
    "DuplicateVersionError",
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

__version__ = "0.1.0"
