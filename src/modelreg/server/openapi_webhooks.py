"""The OpenAPI description of the webhook routes (``server/webhooks.py``), merged by ``openapi.py``."""

from __future__ import annotations

from typing import Any

from .. import _paths
from ..events import EVENT_KINDS
from ..webhooks import MAX_DELIVERY_LOG, MAX_SECRET_CHARS, MAX_URL_CHARS, MIN_SECRET_CHARS
from .openapi_governance import Kit

__all__ = ["operations", "schemas"]

_TIME = {"type": "string", "format": "date-time"}
_NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}
_NULLABLE_STR = {"type": ["string", "null"]}
_NULLABLE_INT = {"type": ["integer", "null"]}
_LIST = {"type": ["array", "null"], "items": {"type": "string"}}


def schemas(kit: Kit) -> dict[str, Any]:
    """The webhook bodies: registration, webhook, list, delivery, deliveries."""
    webhook = {
        "id": {"type": "string", "pattern": "^wh_[0-9a-f]{16}$"}, "url": {"type": "string"},
        "events": _LIST, "models": _LIST, "created_at": _TIME, "created_by": _NULLABLE_STR,
        "position": {"type": "integer", "description": "Events up to this revision are delivered or passed over."},
        "failing": {"type": "boolean"}, "failures": {"type": "integer"},
        "last_attempt_at": _NULLABLE_TIME, "last_status": _NULLABLE_INT, "last_error": _NULLABLE_STR,
    }
    delivery = {
        "id": {"type": "string"}, "webhook": {"type": "string"}, "revision": _NULLABLE_INT,
        "kind": {"type": "string"}, "attempt": {"type": "integer"}, "at": _TIME, "status": _NULLABLE_INT,
        "error": _NULLABLE_STR, "duration_ms": {"type": "number"}, "ok": {"type": "boolean"},
    }
    return {
        "WebhookCreate": {"type": "object", "additionalProperties": False, "required": ["url"], "properties": {
            "url": {"type": "string", "maxLength": MAX_URL_CHARS, "pattern": "^[hH][tT][tT][pP][sS]?://"},
            "events": {"type": "array", "minItems": 1, "items": {"enum": list(EVENT_KINDS)}},
            "models": {"type": "array", "minItems": 1, "items": {"type": "string", "maxLength": 128}},
            "secret": {"type": "string", "minLength": MIN_SECRET_CHARS, "maxLength": MAX_SECRET_CHARS},
        }},
        "Webhook": {"type": "object", "properties": webhook, "required": list(webhook)},
        "WebhookCreated": {"type": "object", "properties": {**webhook, "secret": {"type": "string"}},
                           "required": [*webhook, "secret"]},
        "WebhookList": {"type": "object", "properties": {"webhooks": {"type": "array", "items": kit.ref("Webhook")}}},
        "Delivery": {"type": "object", "properties": delivery, "required": list(delivery)},
        "DeliveryList": {"type": "object", "properties": {
            "webhook": {"type": "string"}, "deliveries": {"type": "array", "items": kit.ref("Delivery")}}},
    }


def operations(kit: Kit) -> dict[str, dict[str, Any]]:
    """What each webhook route's methods do (admin role, an unscoped token), keyed by path template."""
    p_id = kit.param("id", "path", {"type": "string", "pattern": "^wh_[0-9a-f]{16}$"}, "A webhook's id.")
    errors = (*kit.api_errors, "404", "503")
    limit = kit.param("limit", "query", {"type": "string", "pattern": "^[0-9]{1,4}$"},
                      f"At most this many attempts (1-{MAX_DELIVERY_LOG}, the default).", required=False)
    return {
        _paths.WEBHOOKS: {
            "get": kit.op("Every webhook, oldest first, without secrets (admin role)", [],
                          {"200": kit.ok("The webhooks", "WebhookList")}, errors),
            "post": kit.op("Register a webhook (admin role); the secret, made when not given, is answered only here",
                           [], {"201": kit.ok("The webhook and its secret (Location: its URL)", "WebhookCreated")},
                           (*errors, "415"), body="WebhookCreate"),
        },
        _paths.WEBHOOK: {
            "get": kit.op("One webhook, with its position and whether it is failing (admin role)", [p_id],
                          {"200": kit.ok("The webhook", "Webhook")}, errors),
            "delete": kit.op("Remove a webhook and its delivery log (admin role)", [p_id],
                             {"204": kit.ok("Removed")}, errors),
        },
        _paths.WEBHOOK_DELIVERIES: {"get": kit.op(
            "The latest delivery attempts, newest first: status codes, errors and times (admin role)", [p_id, limit],
            {"200": kit.ok("The attempts", "DeliveryList")}, errors)},
        _paths.WEBHOOK_TEST: {"post": kit.op(
            "Send a signed test delivery (kind ping) now and answer how it went (admin role)", [p_id],
            {"200": kit.ok("The attempt", "Delivery")}, errors)},
    }
