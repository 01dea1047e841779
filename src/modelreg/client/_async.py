"""AsyncRegistryClient: the ModelRegistry and EventLog interfaces as coroutines, over ``httpx.AsyncClient``.

For async services (FastAPI, Ray Serve, BentoML): the same methods as ``RegistryClient``,
awaited, with the same argument checks, URLs, errors, TLS options, token and timeouts —
both run the plans of ``_calls``. Changes arrive by ``async for event in client.events()``.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterable, Mapping
from datetime import datetime
from types import TracebackType
from typing import Any, TypeVar

import httpx

from .. import _paths, _retention
from .._checks import int_arg
from ..errors import RegistryError, StoreError, VersionInUseError, VersionNotFoundError
from ..events import Callback, RegistryEvent
from ..metadata import ModelMetadata
from ..policies import AliasPolicy, PromotionRequest
from ..records import ModelInfo, SearchPage, VersionRecord
from ._async_events import AsyncEvents, AsyncSubscription
from ._calls import Calls
from ._wire import Plan, error_for, failure, settings

__all__ = ["AsyncRegistryClient"]

T = TypeVar("T")
_log = logging.getLogger("modelreg.retention")


class AsyncRegistryClient:
    """A ModelRegistry on a modelreg server, whose methods are coroutines; one event loop's, reuses connections.

    Arguments as ``RegistryClient``'s: ``token``, ``timeout`` (seconds, per request, 15 by
    default), ``retries`` (of idempotent reads on connection errors), ``ca_bundle`` (PEM CAs
    to verify an https:// server by; default ``$MODELREG_CA_BUNDLE``). ``revision`` and
    ``store_id`` are coroutine methods here, not properties. ``async with`` closes it.
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
        self._http = httpx.AsyncClient(base_url=self.url, headers=given.headers, timeout=self.timeout,
                                       verify=given.verify)
        self._subscriptions: set[AsyncSubscription] = set()
        self._closed = False

    # -- plumbing ------------------------------------------------------------------

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send one request (retrying idempotent ones on connection errors); StoreError when unreachable.

        Cancelled while in flight, httpx drops that connection, so no later request reads its answer.
        """
        if self._closed:
            raise StoreError(f"this AsyncRegistryClient for {self.url} is closed")
        delay = 0.05
        attempt = 0
        while True:
            try:
                return await self._http.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                error = failure(self.url, method, path, exc, attempt, self._retries)
                if error is not None:
                    raise error from exc
            attempt += 1
            await asyncio.sleep(delay)
            delay *= 4

    async def _run(self, plan: Plan[T]) -> T:
        """Carry out a plan of ``_calls``: send each request it asks for, hand it the response."""
        try:
            step = next(plan)
            while True:
                step = plan.send(await self.request(step.method, step.path, **step.options))
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        finally:
            plan.close()

    def error_for(self, response: httpx.Response) -> RegistryError:
        """The exception a problem response stands for (the server's class, by its ``code``)."""
        return error_for(self.url, response)

    async def open_events(self, headers: dict[str, str], timeout: httpx.Timeout) -> httpx.Response:
        """Send ``GET /api/v1/events`` (its body streamed: the caller reads and closes it)."""
        if self._closed:
            raise StoreError(f"this AsyncRegistryClient for {self.url} is closed")
        request = self._http.build_request("GET", _paths.EVENTS, headers=headers, timeout=timeout)
        try:
            return await self._http.send(request, stream=True)
        except httpx.TransportError as exc:
            raise StoreError(f"cannot reach the registry server at {self.url}: {exc}") from exc

    # -- writes --------------------------------------------------------------------

    async def register_model(self, name: str, version: str, metadata: ModelMetadata) -> ModelMetadata:
        """Store a new version; return the stored metadata (canonical version filled in)."""
        return await self._run(self._calls.register_model(name, version, metadata))

    async def unregister_model(self, name: str, version: str, force: bool = False) -> None:
        """Remove a version; ``force`` also removes aliases pointing at it."""
        await self._run(self._calls.unregister_model(name, version, force))

    async def annotate(
        self, name: str, version: str, *, description: str | None = None, set_tags: Mapping[str, str] | None = None,
        remove_tags: Iterable[str] = (), add_metrics: Mapping[str, float] | None = None,
    ) -> ModelMetadata:
        """Change a version's description and tags, add metrics (never change one); return the new metadata."""
        return await self._run(self._calls.annotate(name, version, description, set_tags, remove_tags, add_metrics))

    async def annotate_model(
        self, name: str, *, description: str | None = None, set_tags: Mapping[str, str] | None = None,
        remove_tags: Iterable[str] = (),
    ) -> ModelInfo:
        """Change a model's record (description and tags); return it."""
        return await self._run(self._calls.annotate_model(name, description, set_tags, remove_tags))

    async def delete_model(self, name: str, force: bool = False) -> None:
        """Remove every version of a model in one transaction; ``force`` also removes its aliases."""
        await self._run(self._calls.delete_model(name, force))

    async def prune(self, name: str | None = None, *, keep_latest: int = 10, older_than: datetime | None = None,
                    dry_run: bool = True) -> list[tuple[str, str]]:
        """Remove (``dry_run``: only list) old versions: the core's choice over search pages, then DELETEs."""
        _retention.check_args(name, keep_latest, older_than, dry_run)
        records: list[VersionRecord] = []
        cursor: str | None = None
        while True:
            page = await self.search("", name=name, limit=_paths.PAGE_LIMIT, cursor=cursor)
            records += page.items
            if (cursor := page.next_cursor) is None:
                break
        pending = await self.list_promotions(name, state="pending") if records or name is None else []
        pairs = _retention.choose(records, pending, name, keep_latest=keep_latest, older_than=older_than).pairs
        if dry_run:
            return pairs
        removed: list[tuple[str, str]] = []
        for model, version in pairs:
            try:
                await self.unregister_model(model, version)
            except (VersionNotFoundError, VersionInUseError) as exc:
                outcome = _retention.GONE if isinstance(exc, VersionNotFoundError) else _retention.IN_USE
                _log.info("prune skipped %s %s: %s meanwhile", model, version, outcome)
            else:
                removed.append((model, version))
        return removed

    async def set_alias(self, name: str, alias: str, version: str) -> None:
        """Point ``alias`` at a version, moving it if it exists."""
        await self._run(self._calls.set_alias(name, alias, version))

    async def remove_alias(self, name: str, alias: str) -> None:
        """Delete an alias (AliasNotFoundError if it does not exist)."""
        await self._run(self._calls.remove_alias(name, alias))

    # -- governance (docs/governance.md) ---------------------------------------------

    async def set_alias_policy(self, name: str, alias: str, policy: AliasPolicy) -> None:
        """Govern moves of ``alias`` by ``policy`` from now on (an admin token's call)."""
        await self._run(self._calls.set_alias_policy(name, alias, policy))

    async def get_alias_policy(self, name: str, alias: str) -> AliasPolicy | None:
        """The policy governing ``alias``, or None."""
        return await self._run(self._calls.get_alias_policy(name, alias))

    async def remove_alias_policy(self, name: str, alias: str) -> None:
        """Stop governing ``alias`` (PolicyNotFoundError when it has no policy)."""
        await self._run(self._calls.remove_alias_policy(name, alias))

    async def request_promotion(
        self, name: str, alias: str, version: str | None, *, reason: str = ""
    ) -> PromotionRequest:
        """Ask to point ``alias`` at ``version`` (None: remove it), as this token's name."""
        return await self._run(self._calls.request_promotion(name, alias, version, reason))

    async def approve_promotion(self, number: int) -> PromotionRequest:
        """Approve request ``number`` as this token's name; the last approval moves the alias."""
        return await self._run(self._calls.approve_promotion(number))

    async def reject_promotion(self, number: int, *, reason: str = "") -> PromotionRequest:
        """Reject pending request ``number``; the alias stays as it is."""
        return await self._run(self._calls.reject_promotion(number, reason))

    async def get_promotion(self, number: int) -> PromotionRequest:
        """Request ``number`` as it stands (PromotionNotFoundError if there is none)."""
        return await self._run(self._calls.get_promotion(number))

    async def list_promotions(self, name: str | None = None, *, state: str | None = None) -> list[PromotionRequest]:
        """Promotion requests by id, of one model and in one state (pending, approved, rejected) when given."""
        return await self._run(self._calls.list_promotions(name, state))

    # -- reads ---------------------------------------------------------------------

    async def search(
        self, where: str = "", *, name: str | None = None, order_by: str = "", limit: int = 100,
        cursor: str | None = None,
    ) -> SearchPage:
        """One page of the versions matching ``where`` (the search language), in ``order_by`` order."""
        return await self._run(self._calls.search(where, name, order_by, limit, cursor))

    async def get_model(self, name: str) -> ModelInfo:
        """A model's record: description, tags, version count, latest version, aliases, when created and changed."""
        return await self._run(self._calls.get_model(name))

    async def has_version(self, name: str, version: str) -> bool:
        """Whether the model has a version of that precedence."""
        return await self._run(self._calls.has_version(name, version))

    async def get_versions(self, name: str, *, at: datetime | None = None) -> list[str]:
        """Canonical versions in ascending precedence; ``[]`` for an unknown model; as they stood at ``at``."""
        return await self._run(self._calls.get_versions(name, at))

    async def get_metadata(self, name: str, version: str) -> ModelMetadata:
        """The stored metadata of a version."""
        return await self._run(self._calls.get_metadata(name, version))

    async def get_all_model_names(self) -> list[str]:
        """Names of models with at least one version, sorted."""
        return await self._run(self._calls.get_all_model_names())

    async def version_counts(self) -> dict[str, int]:
        """Each model's number of versions, in one request."""
        return await self._run(self._calls.version_counts())

    async def resolve(self, name: str, spec: str, *, at: datetime | None = None) -> str:
        """Highest version matching a range, ``latest``, or an alias's target (as it stood at ``at``, if given)."""
        return await self._run(self._calls.resolve(name, spec, at))

    async def get_aliases(self, name: str, *, at: datetime | None = None) -> dict[str, str]:
        """Alias name to canonical version (as they stood at ``at``, if given)."""
        return await self._run(self._calls.get_aliases(name, at))

    async def history(
        self, name: str, *, version: str | None = None, kinds: Iterable[str] | None = None
    ) -> list[RegistryEvent]:
        """The changes to one model, oldest first; only ``version``'s and only these ``kinds`` when given."""
        return await self._run(self._calls.history(name, version, kinds))

    # -- changes ---------------------------------------------------------------------

    def events(self, *, since: int | None = None) -> AsyncEvents:
        """``async for event in client.events()``: each change after now (after revision ``since``, if given).

        A stream that cannot go on without skipping changes raises a RegistryError whose
        ``code`` is ``store_changed``, ``unknown_revision`` or ``events_unavailable``.
        """
        if since is not None:
            int_arg("since", since, minimum=0, expected="a revision number (an int, 0 or more)", error=ValueError)
        return AsyncEvents(self, since)

    async def subscribe(self, callback: Callback, *, since: int | None = None) -> AsyncSubscription:
        """Call ``callback`` (from a task of this loop) with each change after now, once each, in order."""
        if not callable(callback):
            raise TypeError(f"callback must be callable, not {type(callback).__name__}")
        events = self.events(since=since)
        await events.start()
        subscription = AsyncSubscription(events, callback, on_stop=self._subscriptions.discard)
        self._subscriptions.add(subscription)
        subscription.start()
        return subscription

    async def revision(self) -> int:
        """The server's revision now: that of the last change its store committed (one request)."""
        return int(await self._run(self._calls.changes("revision")))

    async def store_id(self) -> str:
        """The id of the store the server serves, told apart from a recreated or different one (one request)."""
        return str(await self._run(self._calls.changes("store")))

    async def events_after(self, revision: int, limit: int = 1000) -> list[RegistryEvent]:
        """Up to ``limit`` committed changes after ``revision``, oldest first (as ``RegistryClient.events_after``)."""
        return await self._run(self._calls.events_after(revision, limit))

    # -- lifecycle -----------------------------------------------------------------

    async def refresh(self) -> None:
        """Nothing to do: every read asks the server, which answers from its latest state."""

    async def ping(self) -> None:
        """Return if the server and its store answer now (``GET /readyz``), else StoreError."""
        await self._run(self._calls.ping())

    async def close(self) -> None:
        """End subscriptions and close connections; idempotent."""
        for subscription in list(self._subscriptions):
            await subscription.close()
        self._closed = True
        await self._http.aclose()

    aclose = close  # the name contextlib.aclosing and httpx use

    async def __aenter__(self) -> AsyncRegistryClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"<AsyncRegistryClient {self.url}>"
