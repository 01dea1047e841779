"""Handlers of ``/api/v1/webhooks``: register, list, show, remove and test webhooks (admin role, every model).

The secret is answered once, in the 201 of the registration, and never again. Webhook
configuration is not an event: it stays out of the event log, which read tokens read.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime

from .. import _paths
from ..errors import WebhookNotFoundError
from ..webhooks import MAX_DELIVERY_LOG, Webhook, WebhookStore, new_id, new_secret, registration, valid_id
from ._delivery import PINGS, DeliverySettings, ping
from .call import Call, Reply, dumps
from .inputs import json_object
from .problems import HTTPProblem

__all__ = ["add_webhook", "get_webhook", "list_deliveries", "list_webhooks", "remove_webhook", "test_webhook"]


def _store(call: Call) -> WebhookStore:
    """The app's webhook store; 403 for a scoped token (webhooks see every model), 404 when the store keeps none."""
    if call.models is not None:
        raise HTTPProblem("forbidden", f"token {call.actor!r} is scoped to some models; webhooks see every "
                          "model's events, so only an unscoped admin token manages them")
    store = call.app.webhooks
    if store is None:
        raise HTTPProblem("not_found", "this server's registry keeps no webhooks (it is not a memory://, "
                          "sqlite:// or postgresql:// store)")
    return store


def _id(hook_id: str) -> str:
    if not valid_id(hook_id):
        raise WebhookNotFoundError(f"no webhook has id {hook_id[:40]!r} (ids look like wh_0123456789abcdef)")
    return hook_id


async def add_webhook(call: Call) -> Reply:
    """POST /api/v1/webhooks with {"url", "events", "models", "secret"}: 201 with the webhook and its secret."""
    store = _store(call)
    url, events, models, secret = registration(await json_object(call))
    log = call.app.log
    # Deliveries start after the revision this server has now: from the registration on.
    hook = Webhook(new_id(), url, events, models, datetime.now(UTC), call.actor, log.revision if log else 0)
    secret = secret or new_secret()
    await call.run(store.add, hook, secret)
    if call.app.deliveries is not None:
        call.app.deliveries.poke()
    location = call.scope.get("root_path", "") + _paths.fill(_paths.WEBHOOK, id=hook.id)
    return Reply(201, dumps({**hook.to_dict(), "secret": secret}), headers=[(b"location", location.encode())])


async def list_webhooks(call: Call) -> Reply:
    """GET /api/v1/webhooks: every webhook, oldest first, without secrets."""
    store = _store(call)
    hooks: list[Webhook] = await call.run(store.hooks)
    return Reply(200, dumps({"webhooks": [hook.to_dict() for hook in hooks]}))


async def get_webhook(call: Call, hook_id: str) -> Reply:
    """GET /api/v1/webhooks/{id}: one webhook, with its position and whether it is failing."""
    store = _store(call)
    hook: Webhook = await call.run(store.get, _id(hook_id))
    return Reply(200, dumps(hook.to_dict()))


async def remove_webhook(call: Call, hook_id: str) -> Reply:
    """DELETE /api/v1/webhooks/{id}: forget it and its deliveries."""
    store = _store(call)
    await call.run(store.remove, _id(hook_id))
    if call.app.deliveries is not None:
        call.app.deliveries.poke()
    return Reply(204)


async def list_deliveries(call: Call, hook_id: str) -> Reply:
    """GET /api/v1/webhooks/{id}/deliveries[?limit=N]: the latest attempts, newest first."""
    store = _store(call)
    text = call.query.get("limit")
    if text is not None and not (text.isascii() and text.isdigit() and 1 <= int(text[:4]) <= MAX_DELIVERY_LOG
                                 and len(text) <= 4):
        raise HTTPProblem("invalid_parameter", f"query parameter 'limit' must be a number from 1 to "
                          f"{MAX_DELIVERY_LOG}, not {text[:40]!r}")
    limit = MAX_DELIVERY_LOG if text is None else int(text)
    found = await call.run(functools.partial(store.deliveries, _id(hook_id), limit))
    return Reply(200, dumps({"webhook": hook_id, "deliveries": [delivery.to_dict() for delivery in found]}))


async def test_webhook(call: Call, hook_id: str) -> Reply:
    """POST /api/v1/webhooks/{id}/test: send a signed ``ping`` now; the attempt (status, error, time taken)."""
    store = _store(call)
    settings = call.app.deliveries.settings if call.app.deliveries is not None else DeliverySettings.from_env()
    hook_id = _id(hook_id)
    # A bound of their own: pings to a receiver that never answers must not fill the request thread pool.
    if not PINGS.acquire(blocking=False):
        raise HTTPProblem("too_many_requests", "test pings are already under way on this server (at most 3 at "
                          "once, each within the delivery timeout); try again shortly", headers={"retry-after": "5"})
    try:
        delivery = await call.run(ping, store, hook_id, settings)
    finally:
        PINGS.release()
    return Reply(200, dumps(delivery.to_dict()))
