"""RegistryClient: the ModelRegistry and EventLog interfaces over HTTP, against a ``modelreg serve`` server.

Needs the ``modelreg[client]`` extra (httpx). Inputs are checked locally with the
core's own validators (same errors, no round trip); the server stays the authority.
Problem responses become the same exception classes the server raised. URLs are
filled from the path table the server routes by (``modelreg._paths``). What each method
sends and how it reads the answer lives in ``_calls`` (shared with ``AsyncRegistryClient``);
this module runs those plans over a blocking ``httpx.Client``.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager
from datetime import datetime
from types import TracebackType
from typing import Any, TypeVar

import httpx

from .. import _paths, _retention
from .._checks import int_arg
from ..errors import RegistryError, StoreError
from ..events import Callback, RegistryEvent, Subscription
from ..metadata import ModelMetadata
from ..policies import AliasPolicy, PromotionRequest
from ..records import ModelInfo, SearchPage
from ._async import AsyncRegistryClient
from ._async_events import AsyncEvents, AsyncSubscription
from ._calls import Calls
from ._events import EventStream
from ._webhooks import WebhookMethods
from ._wire import CA_BUNDLE_ENV, Plan, error_for, failure, settings

__all__ = ["CA_BUNDLE_ENV", "AsyncEvents", "AsyncRegistryClient", "AsyncSubscription", "RegistryClient"]

T = TypeVar("T")


class RegistryClient(WebhookMethods):
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
        given = settings(url, token, timeout, retries, ca_bundle)
        self.url = given.url
        self.timeout = given.timeout
        self._retries = given.retries
        self._calls = Calls(self.url)
        self._http = httpx.Client(base_url=self.url, headers=given.headers, timeout=self.timeout,
                                  verify=given.verify)
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
            except httpx.TransportError as exc:
                error = failure(self.url, method, path, exc, attempt, self._retries)
                if error is not None:
                    raise error from exc
            attempt += 1
            time.sleep(delay)
            delay *= 4

    def _run(self, plan: Plan[T]) -> T:
        """Carry out a plan of ``_calls``: send each request it asks for, hand it the response."""
        try:
            step = next(plan)
            while True:
                step = plan.send(self.request(step.method, step.path, **step.options))
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        finally:
            plan.close()

    def error_for(self, response: httpx.Response) -> RegistryError:
        """The exception a problem response stands for (the server's class, by its ``code``)."""
        return error_for(self.url, response)

    def stream_events(self, headers: dict[str, str], timeout: httpx.Timeout) -> AbstractContextManager[httpx.Response]:
        """Open the server's event stream (subscriptions read it in their own thread)."""
        return self._http.stream("GET", _paths.EVENTS, headers=headers, timeout=timeout)

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self._run(self._calls.call(method, path, **kwargs))

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._run(self._calls.json(method, path, **kwargs))

    # -- writes --------------------------------------------------------------------

    def register_model(self, name: str, version: str, metadata: ModelMetadata) -> ModelMetadata:
        """Store a new version; return the stored metadata (canonical version filled in)."""
        return self._run(self._calls.register_model(name, version, metadata))

    def unregister_model(self, name: str, version: str, force: bool = False) -> None:
        """Remove a version; ``force`` also removes aliases pointing at it."""
        self._run(self._calls.unregister_model(name, version, force))

    def annotate(
        self, name: str, version: str, *, description: str | None = None, set_tags: Mapping[str, str] | None = None,
        remove_tags: Iterable[str] = (), add_metrics: Mapping[str, float] | None = None,
    ) -> ModelMetadata:
        """Change a version's description and tags, add metrics (never change one); return the new metadata."""
        return self._run(self._calls.annotate(name, version, description, set_tags, remove_tags, add_metrics))

    def annotate_model(
        self, name: str, *, description: str | None = None, set_tags: Mapping[str, str] | None = None,
        remove_tags: Iterable[str] = (),
    ) -> ModelInfo:
        """Change a model's record (description and tags); return it."""
        return self._run(self._calls.annotate_model(name, description, set_tags, remove_tags))

    def delete_model(self, name: str, force: bool = False) -> None:
        """Remove every version of a model in one transaction; ``force`` also removes its aliases."""
        self._run(self._calls.delete_model(name, force))

    def prune(self, name: str | None = None, *, keep_latest: int = 10, older_than: datetime | None = None,
              dry_run: bool = True) -> list[tuple[str, str]]:
        """Remove (``dry_run``: only list) old versions: the core's algorithm over search pages and DELETEs."""
        return _retention.prune(self, name, keep_latest=keep_latest, older_than=older_than, dry_run=dry_run)

    def set_alias(self, name: str, alias: str, version: str) -> None:
        """Point ``alias`` at a version, moving it if it exists."""
        self._run(self._calls.set_alias(name, alias, version))

    def remove_alias(self, name: str, alias: str) -> None:
        """Delete an alias (AliasNotFoundError if it does not exist)."""
        self._run(self._calls.remove_alias(name, alias))

    # -- governance (docs/governance.md) ---------------------------------------------

    def set_alias_policy(self, name: str, alias: str, policy: AliasPolicy) -> None:
        """Govern moves of ``alias`` by ``policy`` from now on (an admin token's call)."""
        self._run(self._calls.set_alias_policy(name, alias, policy))

    def get_alias_policy(self, name: str, alias: str) -> AliasPolicy | None:
        """The policy governing ``alias``, or None."""
        return self._run(self._calls.get_alias_policy(name, alias))

    def remove_alias_policy(self, name: str, alias: str) -> None:
        """Stop governing ``alias`` (PolicyNotFoundError when it has no policy)."""
        self._run(self._calls.remove_alias_policy(name, alias))

    def request_promotion(self, name: str, alias: str, version: str | None, *, reason: str = "") -> PromotionRequest:
        """Ask to point ``alias`` at ``version`` (None: remove it), as this token's name."""
        return self._run(self._calls.request_promotion(name, alias, version, reason))

    def approve_promotion(self, number: int) -> PromotionRequest:
        """Approve request ``number`` as this token's name; the last approval moves the alias."""
        return self._run(self._calls.approve_promotion(number))

    def reject_promotion(self, number: int, *, reason: str = "") -> PromotionRequest:
        """Reject pending request ``number``; the alias stays as it is."""
        return self._run(self._calls.reject_promotion(number, reason))

    def get_promotion(self, number: int) -> PromotionRequest:
        """Request ``number`` as it stands (PromotionNotFoundError if there is none)."""
        return self._run(self._calls.get_promotion(number))

    def list_promotions(self, name: str | None = None, *, state: str | None = None) -> list[PromotionRequest]:
        """Promotion requests by id, of one model and in one state (pending, approved, rejected) when given."""
        return self._run(self._calls.list_promotions(name, state))

    # -- reads ---------------------------------------------------------------------

    def search(
        self, where: str = "", *, name: str | None = None, order_by: str = "", limit: int = 100,
        cursor: str | None = None,
    ) -> SearchPage:
        """One page of the versions matching ``where`` (the search language), in ``order_by`` order."""
        return self._run(self._calls.search(where, name, order_by, limit, cursor))

    def get_model(self, name: str) -> ModelInfo:
        """A model's record: description, tags, version count, latest version, aliases, when created and changed."""
        return self._run(self._calls.get_model(name))

    def has_version(self, name: str, version: str) -> bool:
        """Whether the model has a version of that precedence."""
        return self._run(self._calls.has_version(name, version))

    def get_versions(self, name: str, *, at: datetime | None = None) -> list[str]:
        """Canonical versions in ascending precedence; ``[]`` for an unknown model; as they stood at ``at``."""
        return self._run(self._calls.get_versions(name, at))

    def get_metadata(self, name: str, version: str) -> ModelMetadata:
        """The stored metadata of a version."""
        return self._run(self._calls.get_metadata(name, version))

    def get_all_model_names(self) -> list[str]:
        """Names of models with at least one version, sorted."""
        return self._run(self._calls.get_all_model_names())

    def version_counts(self) -> dict[str, int]:
        """Each model's number of versions, in one request (``get_versions`` per model takes one each)."""
        return self._run(self._calls.version_counts())

    def resolve(self, name: str, spec: str, *, at: datetime | None = None) -> str:
        """Highest version matching a range, ``latest``, or an alias's target (as it stood at ``at``, if given)."""
        return self._run(self._calls.resolve(name, spec, at))

    def get_aliases(self, name: str, *, at: datetime | None = None) -> dict[str, str]:
        """Alias name to canonical version (as they stood at ``at``, if given)."""
        return self._run(self._calls.get_aliases(name, at))

    def history(
        self, name: str, *, version: str | None = None, kinds: Iterable[str] | None = None
    ) -> list[RegistryEvent]:
        """The changes to one model, oldest first; only ``version``'s and only these ``kinds`` when given.

        The server filters, so only the events asked for cross the network.
        """
        return self._run(self._calls.history(name, version, kinds))

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
        return int(self._run(self._calls.changes("revision")))

    @property
    def store_id(self) -> str:
        """The id of the store the server serves, told apart from a recreated or different one (one request)."""
        return str(self._run(self._calls.changes("store")))

    def events_after(self, revision: int, limit: int = 1000) -> list[RegistryEvent]:
        """Up to ``limit`` committed changes after ``revision``, oldest first, from the server's event log.

        EventsUnavailableError when the server no longer holds the event right after
        ``revision``; ``[]`` when nothing came after it, also for a revision its store has
        not reached (as every backend answers; compare with ``revision`` to tell). Pages of
        ``CHANGES_LIMIT`` events, one request each.
        """
        return self._run(self._calls.events_after(revision, limit))

    # -- lifecycle -----------------------------------------------------------------

    def refresh(self) -> None:
        """Nothing to do: every read asks the server, which answers from its latest state."""

    def ping(self) -> None:
        """Return if the server and its store answer now (``GET /readyz``), else StoreError."""
        self._run(self._calls.ping())

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
