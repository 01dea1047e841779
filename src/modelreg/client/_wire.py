"""What both clients share below their I/O: settings, a request as a value, retries, and problem answers as errors.

A client method is a *plan*: a generator that yields ``Request`` values and is sent back
each ``httpx.Response``, then returns the method's answer. ``RegistryClient`` runs plans
with a blocking ``httpx.Client``, ``AsyncRegistryClient`` with an ``httpx.AsyncClient``;
the argument checks, URLs, decoding and error mapping are written once, here and in
``_calls``, so the two cannot drift apart.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx

from .. import __version__
from .._checks import number_option
from .._config import check_token
from ..errors import QueryError, RegistryError, StoreError, error_class

__all__ = [
    "CA_BUNDLE_ENV",
    "IDEMPOTENT",
    "Plan",
    "Request",
    "Settings",
    "call",
    "error_for",
    "failure",
    "json_answer",
    "problem_body",
    "problem_code",
    "reason",
    "settings",
]

CA_BUNDLE_ENV = "MODELREG_CA_BUNDLE"
"""A PEM file (or directory) of CA certificates to verify an https:// server by, when ``ca_bundle`` is not given."""

IDEMPOTENT = frozenset({"GET", "HEAD"})
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Request:
    """One HTTP request a plan asks for; ``options`` are httpx's (params, content, json, headers)."""

    method: str
    path: str
    options: dict[str, Any]


Plan = Generator[Request, httpx.Response, T]
"""A client method's logic: yields requests, is sent their responses, returns the answer."""


@dataclass(frozen=True, slots=True)
class Settings:
    """A client's checked constructor arguments, as both httpx clients take them."""

    url: str
    timeout: float
    retries: int
    headers: dict[str, str]
    verify: ssl.SSLContext | bool


def settings(
    url: object, token: object, timeout: object, retries: object, ca_bundle: object
) -> Settings:
    """Check a client's arguments (TypeError or ValueError naming the bad one) and derive its settings."""
    if not isinstance(url, str):
        raise TypeError(f"url must be a str, not {type(url).__name__}")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ValueError(f"invalid server URL {url[:80]!r}: expected http(s)://host:port[/prefix]")
    if token is not None:
        check_token(token)  # the server's own rule: a token it could never accept fails here, clearly
    seconds = number_option("timeout", timeout, minimum=0.001, unit=" of seconds")
    tries = int(number_option("retries", retries, minimum=0, integer=True))
    verify = _verify(ca_bundle) if parts.scheme == "https" else True
    headers = {"User-Agent": f"modelreg/{__version__}", "Accept": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return Settings(url.rstrip("/"), float(seconds), tries, headers, verify)


def _verify(ca_bundle: object) -> ssl.SSLContext | bool:
    """How to verify an https:// server: a private CA bundle, or (True) httpx's default trust store.

    httpx's default honours ``$SSL_CERT_FILE`` and ``$SSL_CERT_DIR``, else uses certifi's CAs.
    """
    if ca_bundle is None:
        ca_bundle = os.environ.get(CA_BUNDLE_ENV) or None
        if ca_bundle is None:
            return True
    if not isinstance(ca_bundle, (str, os.PathLike)):
        raise TypeError(f"ca_bundle must be a path (str or os.PathLike), not {type(ca_bundle).__name__}")
    path = os.fspath(ca_bundle)
    try:
        if os.path.isdir(path):
            return ssl.create_default_context(capath=path)
        return ssl.create_default_context(cafile=path)
    except (OSError, ssl.SSLError) as exc:
        why = getattr(exc, "strerror", None) or getattr(exc, "reason", None) or exc
        raise ValueError(f"cannot read CA certificates from ca_bundle {path!r}: {why}; "
                         "expected a PEM file (or directory) of CA certificates") from None


def reason(exc: httpx.HTTPError) -> str:
    """``exc`` as a short phrase for an error message."""
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def _tls_failure(url: str, exc: BaseException) -> StoreError | None:
    """A clear StoreError when ``exc`` was caused by TLS (an unverifiable certificate above all), else None."""
    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, ssl.SSLError):
        cause = cause.__cause__ or cause.__context__
    if isinstance(cause, ssl.SSLCertVerificationError):
        return StoreError(
            f"cannot verify the TLS certificate of {url}: {cause.verify_message or cause.reason}. If a private CA "
            f"signed it, pass its certificate as ca_bundle= (CLI: --ca-bundle or ${CA_BUNDLE_ENV})"
        )
    if cause is not None:
        return StoreError(f"the TLS handshake with {url} failed ({cause.reason or cause}): is it serving HTTPS?")
    return None


def failure(
    url: str, method: str, path: str, exc: httpx.TransportError, attempt: int, retries: int
) -> RegistryError | None:
    """The error to raise for a failed send, or None when the request may be sent again (attempt ``attempt``)."""
    if isinstance(exc, httpx.LocalProtocolError):  # nothing was sent: the request itself is malformed
        return RegistryError(f"cannot send {method} {path} to {url}: {reason(exc)}")
    tls = _tls_failure(url, exc)
    if tls is not None:  # retrying cannot make a certificate verifiable
        return tls
    # A refused connection sent nothing, so even a write may be retried; a read may always be.
    retry = isinstance(exc, httpx.ConnectError) or (
        method in IDEMPOTENT and isinstance(exc, (httpx.NetworkError, httpx.RemoteProtocolError))
    )
    if not retry or attempt >= retries:
        return StoreError(f"cannot reach the registry server at {url}: {reason(exc)}")
    return None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def problem_body(response: httpx.Response) -> dict[str, Any]:
    """A problem answer's JSON object, or ``{}`` when the body is not one (a proxy's HTML page, say)."""
    try:
        problem = response.json()
    except ValueError:
        return {}
    return problem if isinstance(problem, dict) else {}


def problem_code(response: httpx.Response) -> object:
    """The ``code`` of a problem answer, or None."""
    return problem_body(response).get("code")


def error_for(url: str, response: httpx.Response) -> RegistryError:
    """The exception a problem response stands for (the server's class, by its ``code``)."""
    problem = problem_body(response)
    code = problem.get("code")
    detail = problem.get("detail")
    if not isinstance(detail, str) or not detail:
        detail = f"HTTP {response.status_code} {response.reason_phrase} from {url}"
    fields = {key: _text(problem.get(key)) for key in ("name", "version", "alias")}
    cls = error_class(code) if isinstance(code, str) else None
    if cls is None and not code and response.status_code == 404:
        return StoreError(f"{url} answered 404 without a problem body: is it a modelreg server?")
    if cls is None:
        cls = StoreError if response.status_code >= 500 else RegistryError
        error = cls(detail, **fields)
        if isinstance(code, str) and code:
            error.code = code  # an HTTP-layer code (unauthorized, payload_too_large, ...)
        return error
    if issubclass(cls, QueryError):
        position = problem.get("position")
        return cls(detail, position=position if type(position) is int else None, **fields)
    return cls(detail, **fields)


def call(url: str, method: str, path: str, **options: Any) -> Plan[httpx.Response]:
    """Send one request; its response, or the error its problem answer stands for."""
    response = yield Request(method, path, options)
    if response.status_code >= 400:
        raise error_for(url, response)
    return response


def json_answer(url: str, method: str, path: str, **options: Any) -> Plan[Any]:
    """Send one request; its JSON answer (StoreError when the server sent something else)."""
    response = yield from call(url, method, path, **options)
    try:
        return response.json()
    except ValueError:
        raise StoreError(f"the server at {url} answered {method} {path} with non-JSON content") from None
