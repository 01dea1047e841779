"""RegistryClient: the ModelRegistry and EventLog interfaces over HTTP, against a ``modelreg serve`` server.

Needs the ``modelreg[client]`` extra (httpx). Inputs are checked locally with the
core's own validators (same errors, no round trip); the server stays the authority.
Problem responses become the same exception classes the server raised. URLs are
filled from the path table the server routes by (``modelreg._paths``).
"""

from __future__ import annotations

import json
import logging
import os
import ssl
import threading
import time
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager
from datetime import datetime
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import httpx

from .. import __version__, _paths, _retention
from .._checks import int_arg, metadata_arg, number_option, str_arg
from .._config import check_token
from .._history import history_filter
from ..errors import QueryError, RegistryError, StoreError, error_class
from ..events import Callback, RegistryEvent, Subscription
from ..metadata import ModelMetadata
from ..names import validate_name
from ..records import ModelInfo, SearchPage
from ..semver import parse_version
from ._events import EventStream
from ._governance import GovernanceMethods  # alias moves and the policies and promotions that govern them
from ._records import annotation_body, at_param, model_info, search_page, search_params

__all__ = ["CA_BUNDLE_ENV", "RegistryClient"]

CA_BUNDLE_ENV = "MODELREG_CA_BUNDLE"
"""A PEM file (or directory) of CA certificates to verify an https:// server by, when ``ca_bundle`` is not given."""

_log = logging.getLogger("modelreg.client")
_IDEMPOTENT = frozenset({"GET", "HEAD"})


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _problem_code(response: httpx.Response) -> object:
    try:
        problem = response.json()
    except ValueError:
        return None
    return problem.get("code") if isinstance(problem, dict) else None


def _reason(exc: httpx.HTTPError) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def _verify(ca_bundle: str | os.PathLike[str] | None) -> ssl.SSLContext | bool:
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
        reason = getattr(exc, "strerror", None) or getattr(exc, "reason", None) or exc
        raise ValueError(f"cannot read CA certificates from ca_bundle {path!r}: {reason}; "
                         "expected a PEM file (or directory) of CA certificates") from None


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


class RegistryClient(GovernanceMethods):
    """A ModelRegistry whose registry lives on a modelreg server; reuses connections, thread-safe.

    ``url`` is the server's base URL (a path prefix is allowed, e.g. behind a proxy);
    ``token`` a bearer token when the server needs one. Idempotent reads are retried
    ``retries`` times on connection errors; an unreachable server raises StoreError.
    ``timeout`` (seconds, per request) defaults to 15: longer than the server's store
    timeout (5 s by default), so a write is answered, 201 or 503, before the client
    gives up; keep it longer if the server's ``--store-timeout`` is raised.
    An https:// server's certificate is always verified: by ``ca_bundle`` (a PEM file of
    private CAs; default ``$MODELREG_CA_BUNDLE``), else the system's ``$SSL_CERT_FILE`` or certifi.
    """

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        timeout: float = 15.0,
        retries: int = 2,
        ca_bundle: str | os.PathLike[str] | None = None,
    ) -> None:
        if not isinstance(url, str):
            raise TypeError(f"url must be a str, not {type(url).__name__}")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
            raise ValueError(f"invalid server URL {url[:80]!r}: expected http(s)://host:port[/prefix]")
        if token is not None:
            check_token(token)  # the server's own rule: a token it could never accept fails here, clearly
        timeout = number_option("timeout", timeout, minimum=0.001, unit=" of seconds")
        retries = int(number_option("retries", retries, minimum=0, integer=True))
        verify = _verify(ca_bundle) if parts.scheme == "https" else True
        self.url = url.rstrip("/")
        self.timeout = float(timeout)
        self._retries = retries
        headers = {"User-Agent": f"modelreg/{__version__}", "Accept": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=self.timeout, verify=verify)
        self._streams: set[EventStream] = set()
        self._lock = threading.Lock()
        self._closed = False

    # -- plumbing ------------------------------------------------------------------

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send one request (retrying idempotent ones on connection errors); StoreError when unreachable."""
        if self._closed:
            raise StoreError(f"this RegistryClient for {self.url} is closed")
        delay = 0.05
        attempt = 0
        while True:
            try:
                return self._http.request(method, path, **kwargs)
            except httpx.LocalProtocolError as exc:  # nothing was sent: the request itself is malformed
                raise RegistryError(f"cannot send {method} {path} to {self.url}: {_reason(exc)}") from exc
            except httpx.TransportError as exc:
                tls = _tls_failure(self.url, exc)
                if tls is not None:  # retrying cannot make a certificate verifiable
                    raise tls from exc
                # A refused connection sent nothing, so even a write may be retried; a read may always be.
                retry = isinstance(exc, httpx.ConnectError) or (
                    method in _IDEMPOTENT and isinstance(exc, (httpx.NetworkError, httpx.RemoteProtocolError))
                )
                if not retry or attempt >= self._retries:
                    raise StoreError(f"cannot reach the registry server at {self.url}: {_reason(exc)}") from exc
            attempt += 1
            time.sleep(delay)
            delay *= 4

    def error_for(self, response: httpx.Response) -> RegistryError:
        """The exception a problem response stands for (the server's class, by its ``code``)."""
        try:
            problem = response.json()
        except ValueError:
            problem = None
        if not isinstance(problem, dict):
            problem = {}
        code = problem.get("code")
        detail = problem.get("detail")
        if not isinstance(detail, str) or not detail:
            detail = f"HTTP {response.status_code} {response.reason_phrase} from {self.url}"
        fields = {key: _text(problem.get(key)) for key in ("name", "version", "alias")}
        cls = error_class(code) if isinstance(code, str) else None
        if cls is None and not code and response.status_code == 404:
            return StoreError(f"{self.url} answered 404 without a problem body: is it a modelreg server?")
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

    def stream_events(self, headers: dict[str, str], timeout: httpx.Timeout) -> AbstractContextManager[httpx.Response]:
        """Open the server's event stream (subscriptions read it in their own thread)."""
        return self._http.stream("GET", _paths.EVENTS, headers=headers, timeout=timeout)

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = self.request(method, path, **kwargs)
        if response.status_code >= 400:
            raise self.error_for(response)
        return response

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._call(method, path, **kwargs)
        try:
            return response.json()
        except ValueError:
            raise StoreError(f"the server at {self.url} answered {method} {path} with non-JSON content") from None

    def _member(self, data: Any, key: str, kind: type) -> Any:
        """``data[key]`` of the expected JSON type, or StoreError: the server is not speaking our API."""
        value = data.get(key) if isinstance(data, dict) else None
        if not isinstance(value, kind):
            raise StoreError(f"the server at {self.url} sent an answer without {kind.__name__} {key!r}")
        return value

    def _metadata(self, data: Any) -> ModelMetadata:
        try:
            return ModelMetadata.from_dict(data)
        except RegistryError as exc:
            raise StoreError(f"the server at {self.url} sent metadata this client cannot read: {exc}") from exc

    @staticmethod
    def _version_path(name: str, version: str) -> str:
        return _paths.fill(_paths.VERSION, name=name, version=version)

    def _events(self, data: Any) -> list[RegistryEvent]:
        events = self._member(data, "events", list)
        try:
            return [RegistryEvent.from_dict(event) for event in events]
        except (KeyError, TypeError, ValueError) as exc:
            raise StoreError(f"the server at {self.url} sent an event this client cannot read: {exc}") from exc

    # -- writes --------------------------------------------------------------------

    def register_model(self, name: str, version: str, metadata: ModelMetadata) -> ModelMetadata:
        """Store a new version; return the stored metadata (canonical version filled in)."""
        validate_name(name)
        parse_version(str_arg("version", version))
        # UTF-8, not to_json()'s ASCII escapes: those triple non-ASCII text and could pass the body limit.
        body = json.dumps(
            metadata_arg(metadata).to_dict(), ensure_ascii=False, separators=(",", ":"), allow_nan=False
        ).encode()
        data = self._json("PUT", self._version_path(name, version), content=body,
                          headers={"Content-Type": "application/json"})
        return self._metadata(data)

    def unregister_model(self, name: str, version: str, force: bool = False) -> None:
        """Remove a version; ``force`` also removes aliases pointing at it."""
        validate_name(name)
        parse_version(str_arg("version", version))
        params = {"force": "true"} if force else None
        self._call("DELETE", self._version_path(name, version), params=params)

    def annotate(
        self, name: str, version: str, *, description: str | None = None, set_tags: Mapping[str, str] | None = None,
        remove_tags: Iterable[str] = (), add_metrics: Mapping[str, float] | None = None,
    ) -> ModelMetadata:
        """Change a version's description and tags, add metrics (never change one); return the new metadata."""
        validate_name(name)
        parse_version(str_arg("version", version))
        body = annotation_body(description, set_tags, remove_tags, add_metrics)
        return self._metadata(self._send_json("PATCH", self._version_path(name, version), body))

    def annotate_model(
        self, name: str, *, description: str | None = None, set_tags: Mapping[str, str] | None = None,
        remove_tags: Iterable[str] = (),
    ) -> ModelInfo:
        """Change a model's record (description and tags); return it."""
        validate_name(name)
        body = annotation_body(description, set_tags, remove_tags, metrics=False)
        return self._model_info(self._send_json("PATCH", _paths.fill(_paths.MODEL, name=name), body))

    def delete_model(self, name: str, force: bool = False) -> None:
        """Remove every version of a model in one transaction; ``force`` also removes its aliases."""
        validate_name(name)
        if not isinstance(force, bool):
            raise TypeError(f"force must be a bool, not {type(force).__name__}")
        self._call("DELETE", _paths.fill(_paths.MODEL, name=name), params={"force": "true"} if force else None)

    def prune(self, name: str | None = None, *, keep_latest: int = 10, older_than: datetime | None = None,
              dry_run: bool = True) -> list[tuple[str, str]]:
        """Remove (``dry_run``: only list) old versions: the core's algorithm over search pages and DELETEs."""
        return _retention.prune(self, name, keep_latest=keep_latest, older_than=older_than, dry_run=dry_run)

    def _send_json(self, method: str, path: str, body: dict[str, Any]) -> Any:
        content = json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
        return self._json(method, path, content=content, headers={"Content-Type": "application/json"})

    def _model_info(self, data: Any) -> ModelInfo:
        try:
            return model_info(data)
        except ValueError as exc:
            raise StoreError(f"the server at {self.url} sent a model record this client cannot read: {exc}") from exc

    # -- reads ---------------------------------------------------------------------

    def search(
        self, where: str = "", *, name: str | None = None, order_by: str = "", limit: int = 100,
        cursor: str | None = None,
    ) -> SearchPage:
        """One page of the versions matching ``where`` (the search language), in ``order_by`` order."""
        data = self._json("GET", _paths.SEARCH, params=search_params(where, name, order_by, limit, cursor))
        try:
            return search_page(data)
        except (ValueError, RegistryError) as exc:
            raise StoreError(f"the server at {self.url} sent a search page this client cannot read: {exc}") from exc

    def get_model(self, name: str) -> ModelInfo:
        """A model's record: description, tags, version count, latest version, aliases, when created and changed."""
        validate_name(name)
        return self._model_info(self._json("GET", _paths.fill(_paths.MODEL, name=name)))

    def has_version(self, name: str, version: str) -> bool:
        """Whether the model has a version of that precedence."""
        validate_name(name)
        parse_version(str_arg("version", version))
        path = self._version_path(name, version)
        response = self.request("HEAD", path)
        if response.status_code == 200:
            return True
        if response.status_code != 404:
            # A HEAD answer has no body to name the error: ask again with GET to read the problem.
            response = self.request("GET", path)
            if response.status_code == 200:
                return True
            if response.status_code != 404:
                raise self.error_for(response)
        if not response.headers.get("content-type", "").startswith("application/problem+json"):
            raise self.error_for(response)  # not our 404: the URL does not point at a modelreg server
        return False

    def get_versions(self, name: str, *, at: datetime | None = None) -> list[str]:
        """Canonical versions in ascending precedence; ``[]`` for an unknown model; as they stood at ``at``."""
        validate_name(name)
        data = self._json("GET", _paths.fill(_paths.VERSIONS, name=name), params=at_param(at))
        return list(self._member(data, "versions", list))

    def get_metadata(self, name: str, version: str) -> ModelMetadata:
        """The stored metadata of a version."""
        validate_name(name)
        parse_version(str_arg("version", version))
        return self._metadata(self._json("GET", self._version_path(name, version)))

    def get_all_model_names(self) -> list[str]:
        """Names of models with at least one version, sorted."""
        models = self._member(self._json("GET", _paths.MODELS), "models", list)
        return [self._member(model, "name", str) for model in models]

    def version_counts(self) -> dict[str, int]:
        """Each model's number of versions, in one request (``get_versions`` per model takes one each)."""
        models = self._member(self._json("GET", _paths.MODELS), "models", list)
        return {self._member(model, "name", str): self._member(model, "versions", int) for model in models}

    def resolve(self, name: str, spec: str, *, at: datetime | None = None) -> str:
        """Highest version matching a range, ``latest``, or an alias's target (as it stood at ``at``, if given)."""
        validate_name(name)
        str_arg("spec", spec)
        params = {"spec": spec, **(at_param(at) or {})}
        data = self._json("GET", _paths.fill(_paths.RESOLVE, name=name), params=params)
        if at is not None:  # the version may be unregistered since: then only its name comes back
            return str(self._member(data, "version", str))
        return str(self._metadata(data).version)

    def get_aliases(self, name: str, *, at: datetime | None = None) -> dict[str, str]:
        """Alias name to canonical version (as they stood at ``at``, if given)."""
        validate_name(name)
        data = self._json("GET", _paths.fill(_paths.ALIASES, name=name), params=at_param(at))
        return dict(self._member(data, "aliases", dict))

    def history(
        self, name: str, *, version: str | None = None, kinds: Iterable[str] | None = None
    ) -> list[RegistryEvent]:
        """The changes to one model, oldest first; only ``version``'s and only these ``kinds`` when given.

        The server filters, so only the events asked for cross the network.
        """
        validate_name(name)
        chosen = history_filter(version, kinds)  # refused here as in-process, before any request
        params: dict[str, str] = {}
        if version is not None:
            params["version"] = version
        if chosen.kinds is not None:
            params["kinds"] = ",".join(sorted(chosen.kinds))
        return self._events(self._json("GET", _paths.fill(_paths.HISTORY, name=name), params=params))

    def subscribe(self, callback: Callback, *, since: int | None = None) -> Subscription:
        """Call ``callback`` (in a background thread) with each change after now, once each, in order.

        With ``since``, first every change after that revision, replayed from the server's event
        log (a server that no longer has them raises a RegistryError with code ``events_unavailable``).
        """
        if not callable(callback):
            raise TypeError(f"callback must be callable, not {type(callback).__name__}")
        if since is not None:
            int_arg("since", since, minimum=0, expected="a revision number (an int, 0 or more)", error=ValueError)
        stream = EventStream(self, callback, on_stop=self._forget, since=since)
        with self._lock:
            self._streams.add(stream)
        try:
            stream.start()
        except BaseException:
            self._forget(stream)
            raise
        return stream.subscription

    def _forget(self, stream: EventStream) -> None:
        with self._lock:
            self._streams.discard(stream)

    # -- the event log (EventLog) ----------------------------------------------------

    @property
    def revision(self) -> int:
        """The server's revision now: that of the last change its store committed (one request)."""
        return int(self._member(self._json("GET", _paths.CHANGES), "revision", int))

    @property
    def store_id(self) -> str:
        """The id of the store the server serves, told apart from a recreated or different one (one request)."""
        return str(self._member(self._json("GET", _paths.CHANGES), "store", str))

    def events_after(self, revision: int, limit: int = 1000) -> list[RegistryEvent]:
        """Up to ``limit`` committed changes after ``revision``, oldest first, from the server's event log.

        EventsUnavailableError when the server no longer holds the event right after
        ``revision``; ``[]`` when nothing came after it, also for a revision its store has
        not reached (as every backend answers; compare with ``revision`` to tell). Pages of
        ``CHANGES_LIMIT`` events, one request each.
        """
        int_arg("revision", revision, minimum=0)
        int_arg("limit", limit, minimum=1)
        found: list[RegistryEvent] = []
        while len(found) < limit:
            page = min(limit - len(found), _paths.CHANGES_LIMIT)
            response = self.request("GET", _paths.CHANGES, params={"after": str(revision), "limit": str(page)})
            if response.status_code == 410 and _problem_code(response) == "unknown_revision":
                break  # the store has not reached that revision: nothing came after it, as every backend says
            if response.status_code >= 400:
                raise self.error_for(response)
            try:
                data = response.json()
            except ValueError:
                raise StoreError(f"the server at {self.url} answered GET {_paths.CHANGES} with non-JSON") from None
            batch = self._events(data)
            found += batch
            if len(batch) < page:
                break
            revision = batch[-1].revision
        return found

    # -- lifecycle -----------------------------------------------------------------

    def refresh(self) -> None:
        """Nothing to do: every read asks the server, which answers from its latest state."""

    def ping(self) -> None:
        """Return if the server and its store answer now (``GET /readyz``), else StoreError."""
        self._call("GET", _paths.READYZ)

    def close(self) -> None:
        """End subscriptions and close connections; idempotent."""
        with self._lock:
            streams = list(self._streams)
        for stream in streams:
            stream.subscription.close()
        self._closed = True
        self._http.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<RegistryClient {self.url}>"
