"""Webhook delivery: threads of their own that POST each matching event, signed, in revision order per webhook.

A dispatcher thread claims webhooks in the store (a lease, so of several replicas over one
database exactly one delivers each), wakes on every committed event, and starts a delivery
thread for each webhook with work, at most one per webhook so its events go out in order
(daemon threads: a receiver that never answers cannot hold up the server's exit).
Events come from the registry's event log (``events_after``), never from a copy. A failed
attempt is retried with exponential backoff up to ``max_backoff``, for ever; nothing a
receiver does reaches the request path, so a slow or dead one never slows reads or writes.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import socket
import ssl
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from .. import __version__
from .._checks import number_option
from ..errors import EventsUnavailableError, RegistryError
from ..events import RegistryEvent, Subscription
from ..registry import EventLog, ModelRegistry
from ..webhooks import Claim, Delivery, Webhook, WebhookStore, delivery_id, sign

__all__ = ["SETTINGS_ENV", "Deliveries", "DeliverySettings", "post"]

_log = logging.getLogger("modelreg.webhooks")
_RESPONSE_BYTES = 4096  # of a receiver's answer, read and dropped: nothing else of it matters
_BATCH = 100  # events read from the log per step
SETTINGS_ENV = {
    "timeout": "MODELREG_WEBHOOK_TIMEOUT",
    "first_backoff": "MODELREG_WEBHOOK_BACKOFF",
    "max_backoff": "MODELREG_WEBHOOK_MAX_BACKOFF",
    "lease": "MODELREG_WEBHOOK_LEASE",
}
"""The environment variables that set ``DeliverySettings``'s fields (seconds)."""


def dumps(value: object) -> bytes:
    """Compact JSON bytes: the body that is signed and sent."""
    return json.dumps(value, ensure_ascii=True, separators=(",", ":"), allow_nan=False).encode()


@dataclass(frozen=True, slots=True)
class DeliverySettings:
    """Seconds: per-delivery ``timeout`` (connect, and each read), the first retry's delay doubled up to
    ``max_backoff``, and the ``lease`` a replica holds a webhook for (renewed every third of it)."""

    timeout: float = 10.0
    first_backoff: float = 1.0
    max_backoff: float = 300.0
    lease: float = 30.0

    @classmethod
    def from_env(cls) -> DeliverySettings:
        """The defaults, with any of ``SETTINGS_ENV`` that is set; ValueError naming a bad one."""
        values = {}
        for key, env in SETTINGS_ENV.items():
            text = os.environ.get(env)
            if text:
                try:
                    values[key] = number_option(env, float(text), minimum=0.01, unit=" of seconds")
                except (ValueError, RegistryError) as exc:
                    raise ValueError(f"${env} must be a number of seconds (0.01 or more), not {text[:40]!r}") from exc
        return cls(**values)

    def backoff(self, failures: int) -> float:
        """The delay before the next attempt after ``failures`` failed ones in a row."""
        return min(self.max_backoff, self.first_backoff * 2.0 ** min(failures - 1, 60))


def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> tuple[int | None, str | None]:
    """POST ``body`` to ``url``: the status (None when no answer) and what went wrong, if anything.

    No redirect is followed (a 3xx is a failure); at most a few KiB of the answer are read.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    conn: http.client.HTTPConnection
    if parts.scheme.lower() == "https":
        conn = http.client.HTTPSConnection(host, parts.port, timeout=timeout, context=ssl.create_default_context())
    else:
        conn = http.client.HTTPConnection(host, parts.port, timeout=timeout)
    try:
        conn.request("POST", target, body, headers)
        response = conn.getresponse()
        response.read(_RESPONSE_BYTES)
        status = response.status
        if 300 <= status < 400:
            return status, f"answered {status} (redirects are not followed)"
        return status, None if 200 <= status < 300 else f"answered {status}"
    except TimeoutError:
        return None, f"no answer within {timeout:g} s"
    except (OSError, http.client.HTTPException) as exc:
        return None, f"{type(exc).__name__}: {exc}"[:300]
    finally:
        conn.close()


def signed_post(hook: Webhook, secret: str, ident: str, kind: str, body: bytes, timeout: float
                ) -> tuple[int | None, str | None, float]:
    """Sign and send one delivery: status, error and how long it took (ms)."""
    stamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": f"modelreg-webhooks/{__version__}",
        "X-Modelreg-Delivery": ident,
        "X-Modelreg-Event": kind,
        "X-Modelreg-Timestamp": stamp,
        "X-Modelreg-Signature": sign(secret, stamp, body),
    }
    started = time.perf_counter()
    status, error = post(hook.url, body, headers, timeout)
    return status, error, (time.perf_counter() - started) * 1000


def ping(store: WebhookStore, hook_id: str, settings: DeliverySettings) -> Delivery:
    """Send a test delivery (kind ``ping``, no event) to a webhook now, and record it."""
    hook = store.get(hook_id)
    ident = f"{hook.id}-ping-{uuid.uuid4().hex[:8]}"
    body = dumps({"delivery": ident, "webhook": hook.id, "kind": "ping", "event": None})
    status, error, took = signed_post(hook, store.secret(hook_id), ident, "ping", body, settings.timeout)
    delivery = Delivery(ident, hook.id, None, "ping", 1, datetime.now(UTC), status, error, took)
    store.record(delivery, None)
    return delivery


class _Hook:
    """What this process knows of one claimed webhook: its claim, position, backoff and the attempt number."""

    __slots__ = ("attempt", "claim", "due", "failures", "position", "running")

    def __init__(self, claim: Claim) -> None:
        self.claim = claim
        self.position = claim.webhook.position
        self.failures = claim.webhook.failures
        self.due = 0.0  # monotonic time of the next attempt
        self.attempt = 0  # attempts at the event after position
        self.running = False


class Deliveries:
    """The delivery threads of one app: ``start()`` at the app's startup, ``stop()`` at its shutdown."""

    def __init__(self, store: WebhookStore, log: EventLog, registry: ModelRegistry,
                 settings: DeliverySettings | None = None) -> None:
        self.store = store
        self.settings = settings or DeliverySettings.from_env()
        self._log = log
        self._registry = registry
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._hooks: dict[str, _Hook] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._claim_now = True
        self._thread: threading.Thread | None = None
        self._subscription: Subscription | None = None

    def start(self) -> None:
        """Start the dispatcher thread (idempotent)."""
        if self._thread is not None:
            return
        self._subscription = self._registry.subscribe(lambda _event: self._wake.set())
        self._thread = threading.Thread(target=self._run, name="modelreg-webhooks", daemon=True)
        self._thread.start()

    def poke(self) -> None:
        """Claim again at once (a webhook was added or removed)."""
        self._claim_now = True
        self._wake.set()

    def stop(self) -> None:
        """Stop the dispatcher (idempotent); a delivery under way ends within its timeout and is still recorded."""
        self._stopping.set()
        self._wake.set()
        if self._subscription is not None:
            self._subscription.close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        last_claim = 0.0
        while not self._stopping.is_set():
            now = time.monotonic()
            if self._claim_now or now - last_claim >= self.settings.lease / 3:
                self._claim_now = False
                last_claim = now
                self._claim()
            wait = self._dispatch(time.monotonic())
            self._wake.wait(min(wait, self.settings.lease / 3, 1.0))
            self._wake.clear()

    def _claim(self) -> None:
        try:
            claims = self.store.claim(self.holder, self.settings.lease)
        except RegistryError as exc:
            _log.warning("cannot claim webhooks: %s", exc)
            return
        with self._lock:
            held = {claim.webhook.id: claim for claim in claims}
            for hook_id in list(self._hooks):
                if hook_id not in held and not self._hooks[hook_id].running:
                    del self._hooks[hook_id]
            for hook_id, claim in held.items():
                known = self._hooks.get(hook_id)
                if known is None:
                    self._hooks[hook_id] = _Hook(claim)
                else:
                    known.claim = claim
                    known.position = max(known.position, claim.webhook.position)

    def _dispatch(self, now: float) -> float:
        """Start a delivery thread for each idle webhook with work that is due; seconds until the next is due."""
        revision = self._log.revision
        soonest = 60.0
        with self._lock:
            for hook in self._hooks.values():
                if hook.running or hook.position >= revision:
                    continue
                if hook.due > now:
                    soonest = min(soonest, hook.due - now)
                    continue
                hook.running = True
                name = f"modelreg-webhook-{hook.claim.webhook.id}"
                threading.Thread(target=self._deliver, args=(hook,), name=name, daemon=True).start()
        return soonest

    def _deliver(self, hook: _Hook) -> None:
        try:
            self._step(hook)
        except RegistryError as exc:
            hook.due = time.monotonic() + self.settings.first_backoff
            _log.warning("webhook %s: %s", hook.claim.webhook.id, exc)
        except Exception:
            hook.due = time.monotonic() + self.settings.first_backoff
            _log.exception("webhook %s: unexpected error", hook.claim.webhook.id)
        finally:
            hook.running = False
            self._wake.set()

    def _events(self, hook: _Hook) -> list[RegistryEvent]:
        try:
            return self._log.events_after(hook.position, _BATCH)
        except EventsUnavailableError as exc:
            # Only an in-memory registry drops events; there is nothing to deliver them from.
            _log.warning("webhook %s skips to revision %d: %s", hook.claim.webhook.id, self._log.revision, exc)
            if self.store.advance(hook.claim.webhook.id, self.holder, self._log.revision):
                hook.position = self._log.revision
            return []

    def _step(self, hook: _Hook) -> None:
        """Deliver the events after the hook's position in order, until one fails or none is left."""
        webhook, secret = hook.claim.webhook, hook.claim.secret
        passed = hook.position  # non-matching events are passed over; stored with the next record or advance
        while not self._stopping.is_set():
            events = self._events(hook)
            if not events:
                break
            for event in events:
                if not webhook.matches(event):
                    passed = event.revision
                    continue
                if not self._attempt(hook, event, secret):
                    if passed > hook.position and self.store.advance(webhook.id, self.holder, passed):
                        hook.position = passed
                    return
                passed = hook.position
            if len(events) < _BATCH:
                break
        if passed > hook.position and self.store.advance(webhook.id, self.holder, passed):
            hook.position = passed

    def _attempt(self, hook: _Hook, event: RegistryEvent, secret: str) -> bool:
        """One attempt at ``event``; True when delivered (the position moved), False to retry later."""
        webhook = hook.claim.webhook
        ident = delivery_id(webhook.id, event.revision)
        body = dumps({"delivery": ident, "webhook": webhook.id, "kind": event.kind, "event": event.to_dict()})
        hook.attempt += 1
        status, error, took = signed_post(webhook, secret, ident, event.kind, body, self.settings.timeout)
        delivery = Delivery(ident, webhook.id, event.revision, event.kind, hook.attempt, datetime.now(UTC),
                            status, error, took)
        if not self.store.record(delivery, self.holder):
            self._lost(webhook.id)
            return False
        if delivery.ok:
            hook.position, hook.failures, hook.attempt = event.revision, 0, 0
            return True
        hook.failures += 1
        hook.due = time.monotonic() + self.settings.backoff(hook.failures)
        return False

    def _lost(self, hook_id: str) -> None:
        """Another replica holds the webhook now (our lease ran out): stop delivering it."""
        _log.warning("webhook %s: lease lost to another replica; it delivers from here", hook_id)
        with self._lock:
            self._hooks.pop(hook_id, None)
