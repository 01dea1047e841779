"""RegistryMirror: a live local copy of (part of) a server's registry, read at in-process speed.

It starts from one ``GET /api/v1/snapshot`` and follows the event stream from that
revision; each change moves its ``RegistryState`` by the core's own rules
(``_transitions.advance``), and reads are ``SnapshotRegistry``'s, so they answer what the
server would have answered at ``mirror.revision``. Writes go through a
``RegistryClient`` and return once the copy holds them (read-your-writes). When the
server is unreachable, reads go on from the last state and ``lag`` grows; when it
cannot continue from the copy's revision, a new snapshot is swapped in whole.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx

from .. import _paths
from .._base import SnapshotRegistry
from .._deadline import Deadline
from .._plans import Committed, Plan
from .._snapshots import SnapshotFormatError, change_of, decode_delta, decode_snapshot, snapshot_lines
from .._state import RegistryState
from .._tokenfile import in_scope
from .._transitions import advance
from ..errors import EventsUnavailableError, InvalidNameError, RegistryError, StoreError
from ..events import RegistryEvent
from ..metadata import ModelMetadata
from ..names import validate_name
from ..policies import AliasPolicy, PromotionRequest
from ..records import ModelInfo, SearchPage
from . import RegistryClient
from ._mirror_follow import Follower

__all__ = ["RegistryMirror"]

_log = logging.getLogger("modelreg.mirror")
T = TypeVar("T")
_READS = ("has_version", "get_metadata", "get_versions", "resolve", "get_aliases", "get_model")
_INSIDE_LIMIT = 4096


class RegistryMirror(SnapshotRegistry):
    """A ModelRegistry answered from a local copy of a modelreg server's registry, kept live by its events.

    ``models`` (names or globs) limits the copy; reading a model outside it is an
    InvalidNameError. ``cache_path`` keeps the last copy in a file, so a restart while
    the server is down still answers (from that copy, and says so in the log).
    """

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        models: Iterable[str] | None = None,
        cache_path: str | os.PathLike[str] | None = None,
        timeout: float = 15.0,
        write_timeout: float = 10.0,
        ca_bundle: str | os.PathLike[str] | None = None,
    ) -> None:
        super().__init__()
        self._patterns = _patterns(models)
        self._cache = None if cache_path is None else Path(cache_path)
        self._write_timeout = float(write_timeout)
        self._client = RegistryClient(url, token=token, timeout=timeout, retries=0, ca_bundle=ca_bundle)
        self.url = self._client.url
        self._where = f"the mirror of {self.url}"
        self._changed = threading.Condition(self._write_lock)
        self._inside: set[str] = set()
        self._live = False
        self._ready = threading.Event()  # set when the event stream first gets live
        self._confirmed = time.monotonic()
        self._saved: tuple[str, int] | None = None  # (store id, revision) the cache file holds
        self._save_lock = threading.Lock()  # one writer of the cache file at a time (follower, writers, close)
        self._closed = False
        if self._patterns is None:
            # Nothing to check: the reads are SnapshotRegistry's own, without a wrapper's call on the hot path.
            for name in _READS:
                self.__dict__[name] = getattr(super(), name)
        try:
            self._bootstrap()
            cached = False
        except StoreError:
            cached = self._from_cache()
            if not cached:
                self._client.close()
                raise
        self._follower = Follower(self)
        self._follower.start()
        if not cached:
            self._ready.wait(min(timeout, 5.0))  # changes after the snapshot are followed from here on

    # -- start-up and re-bootstrap --------------------------------------------------

    def _params(self, **extra: str) -> dict[str, str]:
        params = dict(extra)
        if self._patterns is not None:
            params["models"] = ",".join(self._patterns)
        return params

    def _get_lines(self, params: dict[str, str]) -> Iterator[bytes]:
        """The NDJSON lines of one snapshot request as they arrive (decoding overlaps the download)."""
        http = self._client._http
        try:
            with http.stream("GET", _paths.SNAPSHOT, params=params, headers={"Accept-Encoding": "gzip"}) as response:
                if response.status_code >= 400:
                    response.read()
                    raise self._client.error_for(response)
                rest = b""
                for chunk in response.iter_bytes():
                    lines = (rest + chunk).split(b"\n")
                    rest = lines.pop()
                    yield from lines
                if rest:
                    yield rest
        except httpx.HTTPError as exc:
            raise StoreError(f"cannot reach the registry server at {self.url}: {exc or type(exc).__name__}") from exc

    def _bootstrap(self) -> None:
        """Take a full snapshot and swap it in whole (readers see the old state or the new, never a mix)."""
        try:
            store, _, state = decode_snapshot(self._get_lines(self._params()))
        except SnapshotFormatError as exc:
            raise StoreError(f"the snapshot from {self.url} is unreadable: {exc}") from exc
        with self._write_lock:
            if self._state.revision and (store != self._store_id or state.revision < self._state.revision):
                _log.warning("mirror of %s: the server now serves store %s at revision %d (was %s at %d): "
                             "took a new snapshot", self.url, store, state.revision,
                             getattr(self, "_store_id", "?"), self._state.revision)
            self._store_id = store
            self._state = state
            self._confirmed = time.monotonic()
            self._changed.notify_all()
        self._save()

    def _from_cache(self) -> bool:
        """Start from the cache file when there is one for these models; log that it is so."""
        if self._cache is None or not self._cache.exists():
            return False
        try:
            with self._cache.open("rb") as file:
                store, patterns, state = decode_snapshot(file)
        except (OSError, SnapshotFormatError) as exc:
            _log.error("mirror of %s: cannot read the cache %s (%s)", self.url, self._cache, exc)
            return False
        if patterns != self._patterns:
            _log.error("mirror of %s: the cache %s holds models %s, not %s", self.url, self._cache, patterns,
                       self._patterns)
            return False
        self._store_id, self._state = store, state
        self._saved = (store, state.revision)
        self._confirmed = time.monotonic() - max(0.0, time.time() - self._cache.stat().st_mtime)
        _log.warning("mirror of %s: the server is unreachable; answering from the cached copy at revision %d "
                     "in %s until it is back", self.url, state.revision, self._cache)
        return True

    def _save(self) -> None:
        """Write the copy to the cache file atomically (a temporary file renamed over it)."""
        if self._cache is None:
            return
        with self._write_lock:  # the store id and the state that go together (taken before the save lock, never after)
            store, state = self._store_id, self._state
        with self._save_lock:
            self._save_state(self._cache, store, state)

    def _save_state(self, cache: Path, store: str, state: RegistryState) -> None:
        if (store, state.revision) == self._saved:
            return
        temporary = cache.with_name(cache.name + ".tmp")
        try:
            with temporary.open("wb") as file:
                file.writelines(snapshot_lines(state, store, self._patterns))
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, cache)
            self._saved = (store, state.revision)
        except OSError as exc:
            _log.error("mirror of %s: cannot write the cache %s: %s", self.url, cache, exc)

    # -- catching up ------------------------------------------------------------------

    def _catch_up(self) -> None:
        """Apply the changes after the copy's revision in one delta (re-bootstrap when the server cannot)."""
        with self._write_lock:
            after = self._state.revision
            try:
                store, since, revision, found = decode_delta(self._get_lines(self._params(after=str(after))))
            except EventsUnavailableError:
                store = None
            except SnapshotFormatError as exc:
                raise StoreError(f"a delta from {self.url} is unreadable: {exc}") from exc
            except RegistryError as exc:
                if getattr(exc, "code", None) != "unknown_revision":
                    raise
                store = None
            if store is None or store != self._store_id or since != after:
                self._bootstrap()
                return
            steps = [(change, event.revision) for event, change in found
                     if change.kind != "registered" or change.metadata is not None]
            self._advance(steps, [event for event, _ in found], revision)

    def _advance(self, steps: list[Any], events: list[RegistryEvent], revision: int) -> None:
        """Move the copy past ``steps`` to ``revision`` and tell subscribers (hold the write lock)."""
        state = advance(self._state, steps) if steps else self._state
        if revision > state.revision:
            state = RegistryState(state.models, revision, state.names, state.policies, state.promotions)
        self._state = state
        self._hub.enqueue(events)
        self._changed.notify_all()

    # -- what the follower calls (its thread) ---------------------------------------------

    def _stream(self, headers: dict[str, str], timeout: httpx.Timeout) -> httpx.Response:
        http = self._client._http
        return http.send(http.build_request("GET", _paths.EVENTS, headers=headers, timeout=timeout), stream=True)

    def _follow_revision(self) -> int:
        return self._state.revision

    def _on_hello(self, store: str, revision: int) -> bool:
        if store == self._store_id and revision >= self._state.revision:
            return True
        _log.warning("mirror of %s: the server serves store %s at revision %d, not store %s past revision %d; "
                     "taking a new snapshot", self.url, store, revision, self._store_id, self._state.revision)
        self._bootstrap()
        return False

    def _on_ready(self, revision: int) -> None:
        with self._write_lock:
            if revision > self._state.revision:
                self._advance([], [], revision)  # every visible change up to it has come
            self._live = True
        self._ready.set()
        self._save()

    def _on_event(self, event: RegistryEvent) -> None:
        with self._write_lock:
            if event.revision <= self._state.revision:
                return  # a delta fetched it already
            if self._patterns is not None and not in_scope(self._patterns, event.name):
                self._advance([], [], event.revision)
            elif event.kind == "registered":
                self._catch_up()  # its metadata is not in the event: one delta brings it and anything after
            else:
                self._advance([(change_of(event), event.revision)], [event], event.revision)
            self._confirmed = time.monotonic()

    def _on_break(self, reason: str) -> None:
        if self._live:
            _log.warning("mirror of %s: the event stream broke (%s); answering from revision %d, reconnecting",
                         self.url, reason, self._state.revision)
            self._confirmed = time.monotonic()
        self._live = False
        self._save()

    def _on_gone(self, response: httpx.Response) -> None:
        _log.warning("mirror of %s: the server cannot resume after revision %d (HTTP 410); taking a new snapshot",
                     self.url, self._state.revision)
        self._bootstrap()

    # -- freshness ----------------------------------------------------------------------

    @property
    def lag(self) -> float:
        """Seconds since the copy was last confirmed up to date: 0.0 while the event stream is live."""
        return 0.0 if self._live else max(0.0, time.monotonic() - self._confirmed)

    def wait_for(self, revision: int, timeout: float = 5.0) -> None:
        """Return once the copy has applied ``revision``; StoreError after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._state.revision < revision:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise StoreError(f"the mirror of {self.url} did not reach revision {revision} within "
                                     f"{timeout:g} s (it is at {self._state.revision}, lag {self.lag:.1f} s)")
                self._changed.wait(min(left, 0.5))

    def refresh(self) -> None:
        """Apply now what the server committed since the copy's revision (one request)."""
        self._catch_up()

    # -- reads outside the copy ---------------------------------------------------------

    def _check(self, name: str) -> None:
        """InvalidNameError when ``name`` is outside the mirrored models (not a silent miss)."""
        if self._patterns is None or name in self._inside:
            return
        validate_name(name)
        if not in_scope(self._patterns, name):
            raise InvalidNameError(
                f"model {name!r} is not mirrored here: this mirror of {self.url} holds only models "
                f"{', '.join(self._patterns)}; read it through a RegistryClient, or mirror it too",
                name=name,
            )
        if len(self._inside) >= _INSIDE_LIMIT:
            self._inside.clear()
        self._inside.add(name)

    def has_version(self, name: str, version: str) -> bool:
        """Whether the model has a version of that precedence."""
        self._check(name)
        return super().has_version(name, version)

    def get_metadata(self, name: str, version: str) -> ModelMetadata:
        """The stored metadata of a version."""
        self._check(name)
        return super().get_metadata(name, version)

    def get_versions(self, name: str, *, at: datetime | None = None) -> list[str]:
        """Canonical versions in ascending precedence (``at``: from the server's history)."""
        self._check(name)
        return super().get_versions(name, at=at)

    def resolve(self, name: str, spec: str, *, at: datetime | None = None) -> str:
        """Highest version matching a range, ``latest``, or an alias's target."""
        self._check(name)
        return super().resolve(name, spec, at=at)

    def get_aliases(self, name: str, *, at: datetime | None = None) -> dict[str, str]:
        """Alias name to canonical version."""
        self._check(name)
        return super().get_aliases(name, at=at)

    def get_model(self, name: str) -> ModelInfo:
        """The model's record."""
        self._check(name)
        return super().get_model(name)

    def search(self, where: str = "", *, name: str | None = None, order_by: str = "", limit: int = 100,
               cursor: str | None = None, models: Callable[[str], bool] | None = None) -> SearchPage:
        """Versions of the mirrored models matching ``where``, from the local copy."""
        if name is not None:
            self._check(name)
        return super().search(where, name=name, order_by=order_by, limit=limit, cursor=cursor, models=models)

    def get_alias_policy(self, name: str, alias: str) -> AliasPolicy | None:
        """The policy governing ``alias``, or None."""
        self._check(name)
        return super().get_alias_policy(name, alias)

    def list_promotions(self, name: str | None = None, *, state: str | None = None) -> list[PromotionRequest]:
        """Promotion requests of the mirrored models, by id."""
        if name is not None:
            self._check(name)
        return super().list_promotions(name, state=state)

    def history(self, name: str, *, version: str | None = None, kinds: Iterable[str] | None = None
                ) -> list[RegistryEvent]:
        """The model's changes, from the server (the copy keeps no history)."""
        self._check(name)
        return self._client.history(name, version=version, kinds=kinds)

    def events_after(self, revision: int, limit: int = 1000) -> list[RegistryEvent]:
        """The server's changes after ``revision``."""
        return self._client.events_after(revision, limit)

    # -- writes: through the server, then wait for the copy -----------------------------

    def _commit(self, plan: Plan, deadline: Deadline) -> Committed:
        raise StoreError("a RegistryMirror writes through its server, not through plans")  # every write is overridden

    def _through(self, name: str | None, call: Callable[[], T]) -> T:
        """Run a write on the server, then bring the copy up to it: what it returns, the copy holds."""
        if name is not None:
            self._check(name)
        result = call()
        try:
            self._catch_up()
        except StoreError as exc:
            raise StoreError(f"the write was made on {self.url}, but the mirror could not catch up: {exc}") from exc
        return result

    def register_model(self, name: str, version: str, metadata: ModelMetadata) -> ModelMetadata:
        """Register on the server; return once the copy holds it."""
        return self._through(name, lambda: self._client.register_model(name, version, metadata))

    def unregister_model(self, name: str, version: str, force: bool = False) -> None:
        """Unregister on the server; return once the copy has it gone."""
        self._through(name, lambda: self._client.unregister_model(name, version, force))

    def set_alias(self, name: str, alias: str, version: str) -> None:
        """Point ``alias`` at a version on the server."""
        self._through(name, lambda: self._client.set_alias(name, alias, version))

    def remove_alias(self, name: str, alias: str) -> None:
        """Delete an alias on the server."""
        self._through(name, lambda: self._client.remove_alias(name, alias))

    def annotate(self, name: str, version: str, *, description: str | None = None,
                 set_tags: Mapping[str, str] | None = None, remove_tags: Iterable[str] = (),
                 add_metrics: Mapping[str, float] | None = None) -> ModelMetadata:
        """Annotate a version on the server."""
        return self._through(name, lambda: self._client.annotate(
            name, version, description=description, set_tags=set_tags, remove_tags=remove_tags,
            add_metrics=add_metrics))

    def annotate_model(self, name: str, *, description: str | None = None, set_tags: Mapping[str, str] | None = None,
                       remove_tags: Iterable[str] = ()) -> ModelInfo:
        """Annotate a model's record on the server."""
        return self._through(name, lambda: self._client.annotate_model(
            name, description=description, set_tags=set_tags, remove_tags=remove_tags))

    def delete_model(self, name: str, force: bool = False) -> None:
        """Delete a model on the server."""
        self._through(name, lambda: self._client.delete_model(name, force))

    def set_alias_policy(self, name: str, alias: str, policy: AliasPolicy) -> None:
        """Set an alias policy on the server."""
        self._through(name, lambda: self._client.set_alias_policy(name, alias, policy))

    def remove_alias_policy(self, name: str, alias: str) -> None:
        """Remove an alias policy on the server."""
        self._through(name, lambda: self._client.remove_alias_policy(name, alias))

    def request_promotion(self, name: str, alias: str, version: str | None, *, reason: str = "") -> PromotionRequest:
        """Request a promotion on the server."""
        return self._through(name, lambda: self._client.request_promotion(name, alias, version, reason=reason))

    def approve_promotion(self, number: int) -> PromotionRequest:
        """Approve a promotion on the server."""
        return self._through(None, lambda: self._client.approve_promotion(number))

    def reject_promotion(self, number: int, *, reason: str = "") -> PromotionRequest:
        """Reject a promotion on the server."""
        return self._through(None, lambda: self._client.reject_promotion(number, reason=reason))

    # -- lifecycle ------------------------------------------------------------------------

    def ping(self) -> None:
        """Return if the server answers now, else StoreError."""
        self._client.ping()

    def close(self) -> None:
        """Stop following, save the cache, close the connections; the copy stays readable."""
        if self._closed:
            return
        self._closed = True
        self._follower.stop(timeout=5.0)
        self._save()
        self._client.close()
        self._hub.close()

    def __repr__(self) -> str:
        return f"<RegistryMirror {self.url} models={len(self._state.names)} revision={self._state.revision}>"


def _patterns(models: Iterable[str] | None) -> tuple[str, ...] | None:
    """``models`` as a tuple of names or globs (None: every model); TypeError / ValueError naming a bad one."""
    if models is None:
        return None
    if isinstance(models, str):
        raise TypeError("models must be a list of model names or globs, not one string")
    patterns = tuple(models)
    if not patterns:
        raise ValueError("models must name at least one model or glob (leave it out to mirror every model)")
    for pattern in patterns:
        if not isinstance(pattern, str):
            raise TypeError(f"models must hold strings, not {type(pattern).__name__}")
        if "," in pattern or not pattern or len(pattern) > 128:
            raise ValueError(f"model pattern {pattern[:80]!r} is not a model name or glob")
        if not any(c in "*?[" for c in pattern):
            validate_name(pattern)
    return patterns
