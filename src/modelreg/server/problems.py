"""RFC 9457 problem details: the body of every error response the server sends.

Registry errors map to a status by the nearest class of their MRO in one table
(``errors.nearest``), so a new subclass of (say) ``LookupError`` is a 404 without touching it. Problems that exist
only at the HTTP layer (bad JSON, auth, size limits) carry their own codes.
"""

from __future__ import annotations

import json
from typing import Any

from ..errors import (
    DuplicateVersionError,
    EventsUnavailableError,
    PolicyError,
    QueryError,
    RegistryError,
    StoreError,
    VersionInUseError,
    nearest,
)

__all__ = [
    "HTTP_CODES",
    "PROBLEM_TYPE_PREFIX",
    "HTTPProblem",
    "problem_body",
    "problem_for_error",
    "status_for",
]

PROBLEM_TYPE_PREFIX = "urn:modelreg:problem:"
"""``type`` of every problem is this prefix plus the stable ``code``."""

# Most specific first is not needed: the MRO walk finds the nearest class.
_STATUS_BY_CLASS: dict[type[BaseException], int] = {
    DuplicateVersionError: 409,
    VersionInUseError: 409,
    PolicyError: 409,
    EventsUnavailableError: 410,
    QueryError: 400,
    StoreError: 503,
    LookupError: 404,  # VersionNotFoundError, AliasNotFoundError
    ValueError: 422,  # InvalidVersionError, InvalidNameError, MetadataError
}

HTTP_CODES: dict[str, tuple[int, str]] = {
    "invalid_json": (400, "Request body is not valid JSON"),
    "invalid_parameter": (400, "Invalid request parameter"),
    "unauthorized": (401, "Authentication required"),
    "forbidden": (403, "Permission denied"),
    "not_found": (404, "No such resource"),
    "method_not_allowed": (405, "Method not allowed"),
    "events_unavailable": (410, "Events no longer available"),
    "unknown_revision": (410, "Revision not reached by this store"),
    "payload_too_large": (413, "Request body too large"),
    "misdirected_request": (421, "Misdirected request"),
    "unsupported_media_type": (415, "Unsupported media type"),
    "invalid_body": (422, "Invalid request body"),
    "too_many_requests": (429, "Too many requests"),
    "internal_error": (500, "Internal server error"),
}
"""Codes that exist only at the HTTP layer: code -> (status, title)."""


class HTTPProblem(Exception):
    """An HTTP-layer failure to report as a problem response."""

    def __init__(
        self, code: str, detail: str, *, headers: dict[str, str] | None = None, extra: dict[str, Any] | None = None
    ) -> None:
        super().__init__(detail)
        self.status, self.title = HTTP_CODES[code]
        self.code = code
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra or {}  # RFC 9457 extension members


def status_for(error: RegistryError) -> int:
    """HTTP status for a registry error: the entry of the nearest class in its MRO (else 400)."""
    return nearest(_STATUS_BY_CLASS, error, 400)


def _title(code: str) -> str:
    return code.replace("_", " ").capitalize()


def problem_body(status: int, code: str, title: str, detail: str, **extra: Any) -> bytes:
    """Serialized problem JSON (``type``, ``title``, ``status``, ``detail``, ``code`` and extras)."""
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_PREFIX + code,
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    body.update({k: v for k, v in extra.items() if v is not None})
    # ASCII escapes keep the body valid even if the input echoed back holds lone surrogates.
    return json.dumps(body, ensure_ascii=True, separators=(",", ":")).encode()


def problem_for_error(error: RegistryError) -> tuple[int, bytes]:
    """Status and problem body for a registry error, carrying its name/version/alias when set."""
    status = status_for(error)
    body = problem_body(
        status,
        error.code,
        _title(error.code),
        error.message,
        name=error.name,
        version=error.version,
        alias=error.alias,
        position=error.position if isinstance(error, QueryError) else None,  # an RFC 9457 extension member
    )
    return status, body
