"""The HTTP API's paths: one table of templates that the server routes, documents and links by, and the client fills.

Each ``{parameter}`` is one path segment, percent-encoded whole by ``fill`` (a ``/``
in a name stays inside its segment). Standard library only: the client and the
server both import it, and neither imports the other.
"""

from __future__ import annotations

from urllib.parse import quote

__all__ = [
    "ALIAS",
    "ALIASES",
    "CHANGES",
    "CHANGES_LIMIT",
    "DOCS",
    "EVENTS",
    "HEALTHZ",
    "HISTORY",
    "METRICS",
    "MODEL",
    "MODELS",
    "OPENAPI",
    "PAGE_LIMIT",
    "POLICY",
    "PROMOTION",
    "PROMOTIONS",
    "PROMOTION_APPROVE",
    "PROMOTION_REJECT",
    "READYZ",
    "RESOLVE",
    "SEARCH",
    "SNAPSHOT",
    "VERSION",
    "VERSIONS",
    "WEBHOOK",
    "WEBHOOKS",
    "WEBHOOK_DELIVERIES",
    "WEBHOOK_TEST",
    "fill",
    "segment",
]

MODELS = "/api/v1/models"
MODEL = "/api/v1/models/{name}"
SEARCH = "/api/v1/search"
PAGE_LIMIT = 1000
"""Most items one page of a list route or of search returns (their ``limit`` parameter's maximum)."""
VERSIONS = "/api/v1/models/{name}/versions"
VERSION = "/api/v1/models/{name}/versions/{version}"
RESOLVE = "/api/v1/models/{name}/resolve"
ALIASES = "/api/v1/models/{name}/aliases"
ALIAS = "/api/v1/models/{name}/aliases/{alias}"
POLICY = "/api/v1/models/{name}/aliases/{alias}/policy"
PROMOTIONS = "/api/v1/promotions"
PROMOTION = "/api/v1/promotions/{id}"
PROMOTION_APPROVE = "/api/v1/promotions/{id}/approve"
PROMOTION_REJECT = "/api/v1/promotions/{id}/reject"
HISTORY = "/api/v1/models/{name}/history"
EVENTS = "/api/v1/events"
CHANGES = "/api/v1/changes"
CHANGES_LIMIT = 1000
"""Most events one ``GET /api/v1/changes`` returns (its ``limit`` parameter's maximum and default)."""
SNAPSHOT = "/api/v1/snapshot"
WEBHOOKS = "/api/v1/webhooks"
WEBHOOK = "/api/v1/webhooks/{id}"
WEBHOOK_DELIVERIES = "/api/v1/webhooks/{id}/deliveries"
WEBHOOK_TEST = "/api/v1/webhooks/{id}/test"
HEALTHZ = "/healthz"
READYZ = "/readyz"
METRICS = "/metrics"
OPENAPI = "/openapi.json"
DOCS = "/docs"


def segment(text: str) -> str:
    """``text`` percent-encoded as one path segment (``/`` included)."""
    return quote(text, safe="")


def fill(template: str, **values: str) -> str:
    """``template`` with each ``{parameter}`` replaced by its value as one encoded segment."""
    return template.format_map({key: segment(value) for key, value in values.items()})
