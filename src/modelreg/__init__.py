"""modelreg: a registry of model versions with strict SemVer, aliases and change events."""

__version__ = "0.1.0"  # first, so every module (the client, the server) may import it


from ._plans import acting_as
from .errors import (
    AliasNotFoundError,
    DuplicateVersionError,
    EventsUnavailableError,
    InvalidNameError,
    InvalidPolicyError,
    InvalidVersionError,
    InvalidWebhookError,
    MetadataError,
    PolicyError,
    PolicyNotFoundError,
    PromotionNotFoundError,
    QueryError,
    RegistryError,
    StoreError,
    VersionInUseError,
    VersionNotFoundError,
    WebhookNotFoundError,
)
from .events import RegistryEvent, Subscription
from .importing import import_mlflow
from .memory import MemoryRegistry
from .metadata import ModelMetadata
from .policies import AliasPolicy, PromotionRequest
from .records import ModelInfo, SearchPage, VersionRecord
from .registry import EventLog, ModelRegistry
from .semver import SemVer, VersionRange
from .urls import open_registry
from .webhooks import Delivery, Webhook, WebhookHost, WebhookStore, sign, verify_signature

__all__ = [
    "AliasNotFoundError",
    "AliasPolicy",
    "Delivery",
    "DuplicateVersionError",
    "EventLog",
    "EventsUnavailableError",
    "InvalidNameError",
    "InvalidPolicyError",
    "InvalidVersionError",
    "InvalidWebhookError",
    "MemoryRegistry",
    "MetadataError",
    "ModelInfo",
    "ModelMetadata",
    "ModelRegistry",
    "PolicyError",
    "PolicyNotFoundError",
    "PromotionNotFoundError",
    "PromotionRequest",
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
    "Webhook",
    "WebhookHost",
    "WebhookNotFoundError",
    "WebhookStore",
    "acting_as",
    "import_mlflow",
    "open_registry",
    "sign",
    "verify_signature",
]
