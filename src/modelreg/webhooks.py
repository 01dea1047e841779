"""Signed webhooks: the registration and delivery values, signing, and the storage interface the stores implement.

A webhook asks the server to POST each matching event to a URL, signed with a shared
secret the Stripe / GitHub way: ``sha256=HMAC(secret, timestamp + "." + body)``. The
configuration is kept beside the event log, never in it (read tokens read the log; the
secret must not reach them). Standard library only: receivers verify with ``hmac`` too.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets as _secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

from ._tokenfile import in_scope, model_patterns
from .errors import InvalidWebhookError
from .events import EVENT_KINDS, RegistryEvent

__all__ = [
    "FAILING_AFTER",
    "MAX_DELIVERY_LOG",
    "MAX_SECRET_CHARS",
    "MAX_URL_CHARS",
    "MAX_WEBHOOKS",
    "MIN_SECRET_CHARS",
    "SIGNATURE_TOLERANCE",
    "Claim",
    "Delivery",
    "Progress",
    "Webhook",
    "WebhookHost",
    "WebhookStore",
    "delivery_id",
    "new_id",
    "new_secret",
    "registration",
    "sign",
    "valid_id",
    "verify_signature",
]

MAX_URL_CHARS = 2048
MAX_SECRET_CHARS = 256
MIN_SECRET_CHARS = 16
MAX_WEBHOOKS = 100
"""Most webhooks one registry keeps (each costs a delivery loop)."""
MAX_DELIVERY_LOG = 100
"""Delivery attempts kept per webhook, newest first; older ones are dropped as new ones are recorded."""
FAILING_AFTER = 5
"""Consecutive failed attempts after which a webhook is shown as failing (it keeps being tried)."""
SIGNATURE_TOLERANCE = 300
"""Seconds a signed timestamp may differ from the receiver's clock (``verify_signature``): replays are refused."""
_ID = re.compile(r"wh_[0-9a-f]{16}")


@dataclass(frozen=True, slots=True)
class Webhook:
    """A registered webhook as anyone may see it: never its secret.

    ``events`` and ``models`` (globs) select what is delivered (None: every kind, every model);
    ``position`` is the revision up to which events have been delivered (or passed over as not
    matching); ``failures`` counts consecutive failed attempts, ``failing`` once it reaches
    ``FAILING_AFTER``.
    """

    id: str
    url: str
    events: tuple[str, ...] | None
    models: tuple[str, ...] | None
    created_at: datetime
    created_by: str | None = None
    position: int = 0
    failures: int = 0
    last_attempt_at: datetime | None = None
    last_status: int | None = None
    last_error: str | None = None

    @property
    def failing(self) -> bool:
        """Whether the receiver has failed ``FAILING_AFTER`` attempts in a row (it is still tried, at the bound)."""
        return self.failures >= FAILING_AFTER

    def matches(self, event: RegistryEvent) -> bool:
        """Whether ``event`` is one this webhook delivers."""
        return (self.events is None or event.kind in self.events) and in_scope(self.models, event.name)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (times as ISO 8601), with ``failing``; no secret."""
        return {
            "id": self.id, "url": self.url,
            "events": None if self.events is None else list(self.events),
            "models": None if self.models is None else list(self.models),
            "created_at": self.created_at.isoformat(), "created_by": self.created_by,
            "position": self.position, "failing": self.failing, "failures": self.failures,
            "last_attempt_at": None if self.last_attempt_at is None else self.last_attempt_at.isoformat(),
            "last_status": self.last_status, "last_error": self.last_error,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Webhook:
        """Inverse of ``to_dict``."""
        last = data.get("last_attempt_at")
        return cls(
            id=data["id"], url=data["url"],
            events=None if data.get("events") is None else tuple(data["events"]),
            models=None if data.get("models") is None else tuple(data["models"]),
            created_at=datetime.fromisoformat(data["created_at"]), created_by=data.get("created_by"),
            position=int(data.get("position", 0)), failures=int(data.get("failures", 0)),
            last_attempt_at=None if last is None else datetime.fromisoformat(last),
            last_status=data.get("last_status"), last_error=data.get("last_error"),
        )


@dataclass(frozen=True, slots=True)
class Delivery:
    """One delivery attempt: which event (``revision`` None for a test ping), when, and how the receiver answered.

    ``status`` is the HTTP status (None when there was no answer: ``error`` says why);
    ``ok`` when it was 2xx. ``id`` is the same for every attempt of one event.
    """

    id: str
    webhook: str
    revision: int | None
    kind: str
    attempt: int
    at: datetime
    status: int | None
    error: str | None
    duration_ms: float

    @property
    def ok(self) -> bool:
        """Whether the receiver answered 2xx."""
        return self.status is not None and 200 <= self.status < 300

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict, with ``ok``."""
        return {
            "id": self.id, "webhook": self.webhook, "revision": self.revision, "kind": self.kind,
            "attempt": self.attempt, "at": self.at.isoformat(), "status": self.status, "error": self.error,
            "duration_ms": round(self.duration_ms, 3), "ok": self.ok,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Delivery:
        """Inverse of ``to_dict``."""
        return cls(
            id=data["id"], webhook=data["webhook"], revision=data.get("revision"), kind=data["kind"],
            attempt=int(data["attempt"]), at=datetime.fromisoformat(data["at"]), status=data.get("status"),
            error=data.get("error"), duration_ms=float(data["duration_ms"]),
        )


@dataclass(frozen=True, slots=True)
class Claim:
    """A webhook this process holds the lease of, with the secret it signs with."""

    webhook: Webhook
    secret: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class Progress:
    """Where a holder's deliveries of one webhook stand: position, consecutive failures and the last attempt."""

    webhook: str
    position: int
    failures: int
    last_attempt_at: datetime | None
    last_status: int | None
    last_error: str | None


def delivery_id(webhook: str, revision: int, body: bytes) -> str:
    """The id of every attempt to deliver one event to ``webhook``: what a receiver de-duplicates by.

    ``body`` is the event's JSON: a store restored from a backup reuses revisions for other
    events, and their digest tells them apart (the same event keeps its id on every retry).
    """
    return f"{webhook}-{revision}-{hashlib.sha256(body).hexdigest()[:12]}"


def new_secret() -> str:
    """A fresh random signing secret (32 bytes, URL-safe text)."""
    return "whsec_" + _secrets.token_urlsafe(32)


def new_id() -> str:
    """A fresh webhook id (``wh_`` and 16 hex digits)."""
    return "wh_" + _secrets.token_hex(8)


def valid_id(text: str) -> bool:
    """Whether ``text`` has the shape of a webhook id (anything else cannot name one)."""
    return _ID.fullmatch(text) is not None


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """The signature header's value: ``sha256=`` and the hex HMAC-SHA256 of ``timestamp.body`` under ``secret``."""
    message = str(timestamp).encode("ascii") + b"." + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify_signature(
    secret: str, timestamp: str, body: bytes, signature: str, *, tolerance: float = SIGNATURE_TOLERANCE,
    now: float | None = None,
) -> bool:
    """Whether ``signature`` signs ``body`` at ``timestamp`` (Unix seconds) under ``secret``, within ``tolerance``.

    Compared in constant time; a timestamp further than ``tolerance`` seconds from ``now`` fails (replay).
    Malformed input of any kind (a non-ASCII header, a wrong type, a 5,000-digit timestamp) is False, never an error.
    """
    if not (isinstance(secret, str) and isinstance(timestamp, str) and isinstance(signature, str)
            and isinstance(body, bytes | bytearray | memoryview)):
        return False
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 20):
        return False
    if abs((time.time() if now is None else now) - int(timestamp)) > tolerance:
        return False
    expected = sign(secret, timestamp, bytes(body)).encode("ascii")
    return hmac.compare_digest(expected, signature.encode("utf-8", "replace"))


def registration(data: Mapping[str, Any]) -> tuple[str, tuple[str, ...] | None, tuple[str, ...] | None, str | None]:
    """A registration body's ``url``, ``events``, ``models`` and ``secret``, checked.

    InvalidWebhookError naming the field at fault and what would be right.
    """
    unknown = sorted(set(data) - {"url", "events", "models", "secret"})
    if unknown:
        raise InvalidWebhookError(f"unknown field(s) {', '.join(map(repr, unknown))}; "
                                  "allowed: 'url', 'events', 'models', 'secret'")
    return _url(data.get("url")), _kinds(data.get("events")), _models(data.get("models")), _secret(data.get("secret"))


def _url(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidWebhookError("field 'url' must be an http:// or https:// URL such as https://ci.example/hook")
    if len(value) > MAX_URL_CHARS or not value.isascii() or not value.isprintable() or " " in value:
        raise InvalidWebhookError(f"field 'url' must be at most {MAX_URL_CHARS} printable ASCII characters "
                                  "without spaces (percent-encode the rest)")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as exc:
        raise InvalidWebhookError(f"field 'url' {value[:80]!r} is not a URL: {exc}") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise InvalidWebhookError(f"field 'url' {value[:80]!r} must use http or https, not {parts.scheme or 'none'!r}")
    if not parts.hostname:
        raise InvalidWebhookError(f"field 'url' {value[:80]!r} names no host")
    if parts.username or parts.password:
        raise InvalidWebhookError("field 'url' may not carry a user or password; the signature authenticates us")
    if parts.fragment:
        raise InvalidWebhookError(f"field 'url' {value[:80]!r} may not have a fragment ('#...')")
    return value


def _kinds(value: object) -> tuple[str, ...] | None:
    if value is None:
        return None
    valid = ", ".join(EVENT_KINDS)
    if not isinstance(value, list) or not value or len(value) > len(EVENT_KINDS):
        raise InvalidWebhookError(f"field 'events' must be a non-empty list of event kinds ({valid}), "
                                  "or left out for every kind")
    for kind in value:
        if kind not in EVENT_KINDS:
            shown = repr(kind[:40]) if isinstance(kind, str) else type(kind).__name__
            raise InvalidWebhookError(f"field 'events' holds {shown}, which is no event kind; valid kinds: {valid}")
    return tuple(dict.fromkeys(value))


def _models(value: object) -> tuple[str, ...] | None:
    if value is None:
        return None
    try:
        return model_patterns(value, "field 'models'")
    except ValueError as exc:
        raise InvalidWebhookError(str(exc)) from None


def _secret(value: object) -> str | None:
    if value is None:
        return None
    if (not isinstance(value, str) or not MIN_SECRET_CHARS <= len(value) <= MAX_SECRET_CHARS
            or not value.isascii() or not value.isprintable()):
        raise InvalidWebhookError(f"field 'secret' must be {MIN_SECRET_CHARS} to {MAX_SECRET_CHARS} printable ASCII "
                                  "characters, or left out to have one made (and shown once)")
    return value


class WebhookStore(Protocol):
    """Where a registry keeps its webhooks, their delivered positions and leases, and a bounded delivery log.

    Several processes may share one store: each webhook is delivered by the one holding its
    lease (``claim``, renewed by ``sync``), and ``advance`` / ``record`` / ``sync`` change nothing
    for a holder that lost it. The delivery threads write through ``sync`` only: one transaction
    for every webhook's progress and attempts, whatever their number.
    """

    def add(self, hook: Webhook, secret: str) -> None:
        """Keep a new webhook (InvalidWebhookError past ``MAX_WEBHOOKS``)."""

    def hooks(self) -> list[Webhook]:
        """Every webhook, oldest first."""

    def get(self, hook_id: str) -> Webhook:
        """One webhook (WebhookNotFoundError when there is none)."""

    def remove(self, hook_id: str) -> None:
        """Forget a webhook and its deliveries (WebhookNotFoundError when there is none)."""

    def secret(self, hook_id: str) -> str:
        """The secret a webhook's deliveries are signed with (WebhookNotFoundError when there is none)."""

    def claim(self, holder: str, lease: float) -> list[Claim]:
        """Take (or renew) for ``lease`` seconds every webhook whose lease has expired or is ``holder``'s."""

    def advance(self, hook_id: str, holder: str, position: int) -> bool:
        """Move the delivered position forward to ``position``; False if ``holder`` no longer holds the lease."""

    def record(self, delivery: Delivery, holder: str | None) -> bool:
        """Log one attempt and update the webhook's failure count (and, when it succeeded, its position).

        With a ``holder`` only while it holds the lease (False otherwise); None records a test ping,
        which is only logged: the webhook's delivery state stays as the deliveries left it.
        """

    def sync(self, holder: str, lease: float | None, progress: Sequence[Progress],
             attempts: Sequence[Delivery]) -> list[Claim]:
        """In one transaction: store ``progress`` and log ``attempts`` of the webhooks ``holder`` still holds,
        then claim (take or renew) for ``lease`` seconds as ``claim`` does; ``lease`` None releases
        every lease of ``holder`` instead (a stopping server), and answers no claims."""

    def deliveries(self, hook_id: str, limit: int = MAX_DELIVERY_LOG) -> list[Delivery]:
        """The latest attempts, newest first (WebhookNotFoundError when there is no such webhook)."""


@runtime_checkable
class WebhookHost(Protocol):
    """A registry that keeps webhooks beside its event log (the server decides once, in ``create_app``)."""

    def webhooks(self) -> WebhookStore:
        """This registry's webhook store."""
