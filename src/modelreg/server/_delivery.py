"""Webhook delivery: threads of their own that POST each matching event, signed, in revision order per webhook.

A dispatcher thread claims webhooks in the store (a lease, so of several replicas over one
database exactly one delivers each), wakes on every committed event, and starts a delivery
thread for each webhook with work, at most one per webhook so its events go out in order
(daemon threads: a receiver that never answers cannot hold up the server's exit).
Events come from the registry's event log (``events_after``), never from a copy. A failed
attempt is retried with exponential backoff up to ``max_backoff``, for ever; nothing a
receiver does reaches the request path, so a slow or dead one never slows reads or writes.

Deliveries move positions and buffer their attempts in memory; the dispatcher stores them
all, with the lease renewal, in one ``WebhookStore.sync`` transaction at most every
``_SYNC_EVERY`` seconds (and at stop, which then releases the leases): the registry's write
load is one small transaction per half second however many webhooks and events there are.
A crash loses at most that last half second of progress, which is then delivered again.
"""

from __future__ import annotations

import contextlib
import functools
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
from ..webhooks import Claim, Delivery, Progress, Webhook, WebhookStore, delivery_id, sign

__all__ = ["PINGS", "PING_DEADLINE", "SETTINGS_ENV", "Deliveries", "DeliverySettings", "ping", "post"]

_log = logging.getLogger("modelreg.webhooks")
_RESPONSE_BYTES = 4096  # of a receiver's answer, read and dropped: nothing else of it matters
_BATCH = 100  # events read from the log per step
_SYNC_EVERY = 0.5  # seconds between the dispatcher's store writes while there is progress: at most 2 a second
_BUFFERED = 10_000  # attempts kept for the next sync while the store cannot be written (oldest dropped)
PINGS = threading.BoundedSemaphore(3)
"""Test pings sent at once, process-wide: more are refused (429), so pings never fill the request thread pool."""
PING_DEADLINE = 10.0
"""Seconds a test ping may take at most (less when the delivery timeout is shorter)."""
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
    """Seconds: per-delivery ``timeout`` (connect, send and answer together), the first retry's delay doubled up to
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


@functools.cache
def _tls() -> ssl.SSLContext:
    """The one TLS context of every HTTPS delivery (loading the CA store is the costly part)."""
    return ssl.create_default_context()


def _cut(conn: http.client.HTTPConnection, fired: threading.Event) -> None:
    """The deadline passed: shut the socket, so a receiver trickling its answer cannot hold the attempt."""
    fired.set()
    sock = conn.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)  # the plain socket's, for a TLS one too


def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> tuple[int | None, str | None]:
    """POST ``body`` to ``url`` within ``timeout`` seconds in all: the status (None when no answer) and any error.

    No redirect is followed (a 3xx is a failure); at most a few KiB of the answer are read.
    """
    parts = urlsplit(url)
    https = parts.scheme.lower() == "https"
    host = parts.hostname or ""  # an IPv6 literal without its brackets; http.client adds them to Host
    port = parts.port or (443 if https else 80)  # never None: http.client would read "::1"'s last group as one
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    conn: http.client.HTTPConnection
    if https:
        conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=_tls())
    else:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
    fired = threading.Event()
    timer = threading.Timer(timeout, _cut, (conn, fired))
    timer.daemon = True
    timer.start()
    try:
        conn.connect()  # bounded by the socket timeout; the timer bounds everything after it
        if fired.is_set():
            raise TimeoutError
        conn.request("POST", target, body, headers)
        response = conn.getresponse()
        response.read(_RESPONSE_BYTES)
        if fired.is_set():
            raise TimeoutError  # cut: what was read may end early, as if the answer were complete
        status = response.status
        if 300 <= status < 400:
            return status, f"answered {status} (redirects are not followed)"
        return status, None if 200 <= status < 300 else f"answered {status}"
    except (OSError, http.client.HTTPException) as exc:
        if fired.is_set() or isinstance(exc, TimeoutError):
            return None, f"no answer within {timeout:g} s"
        return None, f"{type(exc).__name__}: {exc}"[:300]
    finally:
        timer.cancel()
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
    """Send a test delivery (kind ``ping``, no event) to a webhook now, and log it (the delivery state stays)."""
    hook = store.get(hook_id)
    ident = f"{hook.id}-ping-{uuid.uuid4().hex[:8]}"
    body = dumps({"delivery": ident, "webhook": hook.id, "kind": "ping", "event": None})
    timeout = min(settings.timeout, PING_DEADLINE)
    status, error, took = signed_post(hook, store.secret(hook_id), ident, "ping", body, timeout)
    delivery = Delivery(ident, hook.id, None, "ping", 1, datetime.now(UTC), status, error, took)
    store.record(delivery, None)
    return delivery


class _Hook:
    """What this process knows of one claimed webhook: claim, lease, progress (``stored``: as last synced), backoff."""

    __slots__ = ("attempt", "claim", "due", "failures", "last", "lease_until", "position", "running", "stored")

    def __init__(self, claim: Claim, lease_until: float) -> None:
        hook = claim.webhook
        self.claim = claim
        self.lease_until = lease_until  # monotonic; no attempt starts after it until a sync renews it
        self.position = hook.position
        self.failures = hook.failures
        self.last = (hook.last_attempt_at, hook.last_status, hook.last_error)
        self.stored = self.progress()
        self.due = 0.0  # monotonic time of the next attempt
        self.attempt = 0  # attempts at the event after position
        self.running = False

    def progress(self) -> Progress:
        """Where this webhook's deliveries stand, as ``sync`` stores it."""
        return Progress(self.claim.webhook.id, self.position, self.failures, *self.last)


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
        self._attempts: list[Delivery] = []  # logged at the next sync
        self._lock = threading.Lock()  # guards _hooks, every _Hook's fields and _attempts
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
        """Stop (idempotent): deliveries under way end within their timeout, then progress is stored, leases released.

        Released, so another replica or the next process takes the webhooks over at once, not a lease later.
        """
        self._stopping.set()
        self._wake.set()
        if self._subscription is not None:
            self._subscription.close()
        if self._thread is not None:
            self._thread.join(timeout=self._drain_for() + 10)

    def _drain_for(self) -> float:
        return min(self.settings.timeout, 10.0) + 0.5

    def _run(self) -> None:
        last_sync = 0.0
        while not self._stopping.is_set():
            now = time.monotonic()
            renew = now - last_sync >= self.settings.lease / 3
            if self._claim_now or renew or (now - last_sync >= _SYNC_EVERY and self._dirty()):
                self._claim_now = False
                last_sync = now
                self._sync(self.settings.lease)
            wait = min(self._dispatch(time.monotonic()), self.settings.lease / 3, 1.0)
            if self._dirty():
                wait = min(wait, max(0.01, last_sync + _SYNC_EVERY - time.monotonic()))
            self._wake.wait(wait)
            self._wake.clear()
        self._drain()
        self._sync(None)

    def _drain(self) -> None:
        """Wait (bounded) for the deliveries under way, so their outcome is stored before the leases go."""
        deadline = time.monotonic() + self._drain_for()
        while time.monotonic() < deadline:
            with self._lock:
                if not any(hook.running for hook in self._hooks.values()):
                    return
            time.sleep(0.01)

    def _dirty(self) -> bool:
        with self._lock:
            return bool(self._attempts) or any(h.progress() != h.stored for h in self._hooks.values())

    def _sync(self, lease: float | None) -> None:
        """Store every webhook's progress and the buffered attempts, renew (or release) the leases: one transaction."""
        started = time.monotonic()
        with self._lock:
            progress = [step for step in (h.progress() for h in self._hooks.values())
                        if step != self._hooks[step.webhook].stored]
            attempts, self._attempts = self._attempts, []
        try:
            claims = self.store.sync(self.holder, lease, progress, attempts)
        except RegistryError as exc:
            _log.warning("cannot store webhook progress and leases: %s", exc)
            with self._lock:
                self._attempts = (attempts + self._attempts)[-_BUFFERED:]
            return
        with self._lock:
            for step in progress:
                if step.webhook in self._hooks:
                    self._hooks[step.webhook].stored = step
            if lease is not None:
                self._held(claims, started + lease)

    def _held(self, claims: list[Claim], lease_until: float) -> None:
        """Track the webhooks claimed (under the lock); forget the others once idle."""
        held = {claim.webhook.id: claim for claim in claims}
        for hook_id, hook in list(self._hooks.items()):
            if hook_id not in held:
                hook.lease_until = 0.0  # lost: a delivery under way sends nothing more
                if not hook.running:
                    del self._hooks[hook_id]
        for hook_id, claim in held.items():
            known = self._hooks.get(hook_id)
            if known is None:
                self._hooks[hook_id] = _Hook(claim, lease_until)
            else:
                known.claim = claim
                known.lease_until = lease_until
                known.position = max(known.position, claim.webhook.position)

    def _dispatch(self, now: float) -> float:
        """Start a delivery thread for each idle webhook with work that is due; seconds until the next is due."""
        revision = self._log.revision
        soonest = 60.0
        with self._lock:
            for hook in self._hooks.values():
                if hook.running or hook.position >= revision or hook.lease_until <= now:
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
            with self._lock:
                hook.running = False
            self._wake.set()

    def _events(self, hook: _Hook) -> list[RegistryEvent]:
        with self._lock:
            position = hook.position
        try:
            return self._log.events_after(position, _BATCH)
        except EventsUnavailableError as exc:
            # Only an in-memory registry drops events; there is nothing to deliver them from.
            _log.warning("webhook %s skips to revision %d: %s", hook.claim.webhook.id, self._log.revision, exc)
            with self._lock:
                hook.position = max(hook.position, self._log.revision)
            return []

    def _step(self, hook: _Hook) -> None:
        """Deliver the events after the hook's position in order, until one fails or none is left."""
        webhook, secret = hook.claim.webhook, hook.claim.secret
        while not self._stopping.is_set():
            events = self._events(hook)
            for event in events:
                if not webhook.matches(event):
                    with self._lock:  # passed over: the position moves on, stored with the next sync
                        hook.position = max(hook.position, event.revision)
                    continue
                if not self._attempt(hook, event, secret):
                    return
            if len(events) < _BATCH:
                return

    def _attempt(self, hook: _Hook, event: RegistryEvent, secret: str) -> bool:
        """One attempt at ``event``; True when delivered (the position moved), False to stop for now."""
        webhook = hook.claim.webhook
        with self._lock:
            if self._stopping.is_set() or time.monotonic() >= hook.lease_until:
                return False  # the lease may have passed to another replica: only a sync tells
            hook.attempt += 1
            attempt = hook.attempt
        payload = dumps(event.to_dict())
        ident = delivery_id(webhook.id, event.revision, payload)
        body = dumps({"delivery": ident, "webhook": webhook.id, "kind": event.kind, "event": event.to_dict()})
        status, error, took = signed_post(webhook, secret, ident, event.kind, body, self.settings.timeout)
        delivery = Delivery(ident, webhook.id, event.revision, event.kind, attempt, datetime.now(UTC),
                            status, error, took)
        with self._lock:
            self._attempts.append(delivery)
            hook.last = (delivery.at, status, error)
            if delivery.ok:
                hook.position, hook.failures, hook.attempt = max(hook.position, event.revision), 0, 0
                return True
            hook.failures += 1
            hook.due = time.monotonic() + self.settings.backoff(hook.failures)
            return False
