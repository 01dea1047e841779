"""MemoryWebhooks: the in-process ``WebhookStore`` of a MemoryRegistry (forgotten with the process, like its data)."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import deque
from collections.abc import Sequence

from .errors import InvalidWebhookError, WebhookNotFoundError
from .webhooks import MAX_DELIVERY_LOG, MAX_WEBHOOKS, Claim, Delivery, Progress, Webhook

__all__ = ["MemoryWebhooks"]


class MemoryWebhooks:
    """Webhooks in a dict under one lock; leases on the monotonic clock (one process only)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hooks: dict[str, Webhook] = {}
        self._secrets: dict[str, str] = {}
        self._leases: dict[str, tuple[str, float]] = {}
        self._log: dict[str, deque[Delivery]] = {}

    def add(self, hook: Webhook, secret: str) -> None:
        """Keep a new webhook."""
        with self._lock:
            if len(self._hooks) >= MAX_WEBHOOKS:
                raise InvalidWebhookError(f"this registry already has {MAX_WEBHOOKS} webhooks, the most it keeps")
            self._hooks[hook.id] = hook
            self._secrets[hook.id] = secret
            self._log[hook.id] = deque(maxlen=MAX_DELIVERY_LOG)

    def hooks(self) -> list[Webhook]:
        """Every webhook, oldest first."""
        with self._lock:
            return list(self._hooks.values())

    def get(self, hook_id: str) -> Webhook:
        """One webhook."""
        with self._lock:
            return self._found(hook_id)

    def remove(self, hook_id: str) -> None:
        """Forget a webhook and its deliveries."""
        with self._lock:
            self._found(hook_id)
            for table in (self._hooks, self._secrets, self._leases, self._log):
                table.pop(hook_id, None)

    def secret(self, hook_id: str) -> str:
        """A webhook's signing secret."""
        with self._lock:
            self._found(hook_id)
            return self._secrets[hook_id]

    def claim(self, holder: str, lease: float) -> list[Claim]:
        """Take or renew every webhook whose lease expired or is ``holder``'s."""
        with self._lock:
            return self._claim(holder, lease)

    def sync(self, holder: str, lease: float | None, progress: Sequence[Progress],
             attempts: Sequence[Delivery]) -> list[Claim]:
        """Store the progress and attempts of the webhooks ``holder`` holds, then claim (or release)."""
        with self._lock:
            for step in progress:
                hook = self._held(step.webhook, holder)
                if hook is not None:
                    self._hooks[hook.id] = dataclasses.replace(
                        hook, position=max(hook.position, step.position), failures=step.failures,
                        last_attempt_at=step.last_attempt_at, last_status=step.last_status,
                        last_error=step.last_error)
            for delivery in attempts:
                if self._held(delivery.webhook, holder) is not None:
                    self._log[delivery.webhook].appendleft(delivery)
            if lease is None:
                for hook_id in [key for key, (who, _) in self._leases.items() if who == holder]:
                    del self._leases[hook_id]
                return []
            return self._claim(holder, lease)

    def _claim(self, holder: str, lease: float) -> list[Claim]:
        now = time.monotonic()
        claimed = []
        for hook_id, hook in self._hooks.items():
            current = self._leases.get(hook_id)
            if current is None or current[0] == holder or current[1] <= now:
                self._leases[hook_id] = (holder, now + lease)
                claimed.append(Claim(hook, self._secrets[hook_id]))
        return claimed

    def advance(self, hook_id: str, holder: str, position: int) -> bool:
        """Move the position forward while ``holder`` holds the lease."""
        with self._lock:
            hook = self._held(hook_id, holder)
            if hook is None:
                return False
            self._hooks[hook_id] = dataclasses.replace(hook, position=max(hook.position, position))
            return True

    def record(self, delivery: Delivery, holder: str | None) -> bool:
        """Log one attempt; update the failure count and, on success, the position."""
        with self._lock:
            hook = self._hooks.get(delivery.webhook) if holder is None else self._held(delivery.webhook, holder)
            if hook is None:
                return False
            self._log[hook.id].appendleft(delivery)
            if delivery.revision is None:
                return True  # a test ping says nothing about the event deliveries
            position = max(hook.position, delivery.revision) if delivery.ok else hook.position
            failures = 0 if delivery.ok else hook.failures + 1
            self._hooks[hook.id] = dataclasses.replace(
                hook, position=position, failures=failures, last_attempt_at=delivery.at,
                last_status=delivery.status, last_error=delivery.error,
            )
            return True

    def deliveries(self, hook_id: str, limit: int = MAX_DELIVERY_LOG) -> list[Delivery]:
        """The latest attempts, newest first."""
        with self._lock:
            self._found(hook_id)
            return list(self._log[hook_id])[:limit]

    def _found(self, hook_id: str) -> Webhook:
        hook = self._hooks.get(hook_id)
        if hook is None:
            raise WebhookNotFoundError(f"no webhook has id {hook_id[:40]!r}")
        return hook

    def _held(self, hook_id: str, holder: str) -> Webhook | None:
        lease = self._leases.get(hook_id)
        if lease is None or lease[0] != holder:
            return None
        return self._hooks.get(hook_id)
