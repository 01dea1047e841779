"""The client's webhook methods (admin token): register, list, show, remove, test, and read the delivery log.

A mixin of ``RegistryClient``, over its ``_json`` and ``_call``. Registration bodies are
checked by the server (one place for the rules); ids are checked here, so a malformed
one is a WebhookNotFoundError without a round trip.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import httpx

from .. import _paths
from ..errors import StoreError, WebhookNotFoundError
from ..webhooks import Delivery, Webhook, valid_id

__all__ = ["WebhookMethods"]


class WebhookMethods:
    """Mixin of ``RegistryClient``: it provides ``url``, ``_json`` and ``_call``."""

    url: str

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        raise NotImplementedError  # RegistryClient's

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        raise NotImplementedError  # RegistryClient's

    def _webhook(self, data: Any) -> Webhook:
        try:
            return Webhook.from_dict(data)
        except (KeyError, TypeError, ValueError) as exc:
            raise self._unreadable("webhook", exc) from exc

    def _delivery(self, data: Any) -> Delivery:
        try:
            return Delivery.from_dict(data)
        except (KeyError, TypeError, ValueError) as exc:
            raise self._unreadable("delivery", exc) from exc

    def _unreadable(self, what: str, exc: Exception) -> StoreError:
        reason = f"{type(exc).__name__}: {exc}"
        return StoreError(f"the server at {self.url} sent a {what} this client cannot read: {reason}")

    def add_webhook(
        self, url: str, *, events: Iterable[str] | None = None, models: Iterable[str] | None = None,
        secret: str | None = None,
    ) -> tuple[Webhook, str]:
        """Register a webhook; it and its signing secret (the one given, or one the server made: shown only now)."""
        body: dict[str, Any] = {"url": url}
        if events is not None:
            body["events"] = list(events)
        if models is not None:
            body["models"] = list(models)
        if secret is not None:
            body["secret"] = secret
        data = self._json("POST", _paths.WEBHOOKS, json=body)
        return self._webhook(data), str(data.get("secret", "")) if isinstance(data, dict) else ""

    def list_webhooks(self) -> list[Webhook]:
        """Every webhook, oldest first (never their secrets)."""
        data = self._json("GET", _paths.WEBHOOKS)
        return [self._webhook(item) for item in data.get("webhooks", [])]

    def get_webhook(self, hook_id: str) -> Webhook:
        """One webhook: its position, failure count and last attempt."""
        return self._webhook(self._json("GET", _paths.fill(_paths.WEBHOOK, id=_checked(hook_id))))

    def remove_webhook(self, hook_id: str) -> None:
        """Remove a webhook and its delivery log."""
        self._call("DELETE", _paths.fill(_paths.WEBHOOK, id=_checked(hook_id)))

    def webhook_deliveries(self, hook_id: str, *, limit: int = 100) -> list[Delivery]:
        """The latest delivery attempts of a webhook, newest first."""
        path = _paths.fill(_paths.WEBHOOK_DELIVERIES, id=_checked(hook_id))
        data = self._json("GET", path, params={"limit": str(limit)})
        return [self._delivery(item) for item in data.get("deliveries", [])]

    def test_webhook(self, hook_id: str) -> Delivery:
        """Send a signed test delivery (kind ``ping``) now; how it went."""
        return self._delivery(self._json("POST", _paths.fill(_paths.WEBHOOK_TEST, id=_checked(hook_id))))


def _checked(hook_id: str) -> str:
    if not isinstance(hook_id, str):
        raise TypeError(f"hook_id must be a str, not {type(hook_id).__name__}")
    if not valid_id(hook_id):
        raise WebhookNotFoundError(f"no webhook has id {hook_id[:40]!r} (ids look like wh_0123456789abcdef)")
    return hook_id
