"""Bounding a write in time, and noticing (once, not per retry) when the database stops and starts answering.

A write gets one ``Deadline`` when it starts; every wait inside it (this
process's write lock, a pooled connection, the database's lock and statements)
gets only what is left, so a write during an outage fails within about
``store_timeout`` however many writes queue behind each other, and a write that
cannot finish in time is rolled back instead of committing after its caller
gave up.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from ..errors import StoreError

__all__ = ["DEFAULT_STORE_TIMEOUT", "Deadline", "StoreHealth", "holding", "started_at", "write_started"]

DEFAULT_STORE_TIMEOUT = 5.0
"""Seconds a write may take end to end, waits included, before it fails with StoreError (HTTP 503)."""

_log = logging.getLogger("modelreg.stores")

write_started: ContextVar[float | None] = ContextVar("modelreg_write_started", default=None)
"""When the writes made in this context began waiting (``time.monotonic()``), if earlier than the call."""


@contextmanager
def started_at(when: float) -> Iterator[None]:
    """Count ``store_timeout`` for writes made inside the block from ``when`` (a ``time.monotonic()`` value).

    The server sets it to before a write waits for a worker thread, so a write queued
    behind many others during an outage cannot start after its client gave up.
    """
    token = write_started.set(when)
    try:
        yield
    finally:
        write_started.reset(token)


class Deadline:
    """When a write must be done by; what is left of it bounds each wait on the way."""

    __slots__ = ("at", "timeout")

    def __init__(self, timeout: float, since: float | None = None) -> None:
        self.timeout = timeout
        self.at = (time.monotonic() if since is None else since) + timeout

    def remaining(self) -> float:
        """Seconds left (negative once past)."""
        return self.at - time.monotonic()

    def left(self, doing: str, where: str, waiting_for: str) -> float:
        """Seconds left; StoreError saying what the write was waiting for when none are."""
        remaining = self.remaining()
        if remaining <= 0:
            raise self.expired(doing, where, waiting_for)
        return remaining

    def expired(self, doing: str, where: str, waiting_for: str) -> StoreError:
        """The error for a write that ran out of time before it could commit."""
        return StoreError(
            f"gave up {doing} {where} after store_timeout={self.timeout:g}s waiting for {waiting_for}; "
            "nothing was written"
        )


@contextmanager
def holding(lock: threading.RLock, deadline: Deadline, doing: str, where: str) -> Iterator[None]:
    """Hold this process's write lock, waiting for it no longer than the deadline allows."""
    if not lock.acquire(timeout=max(0.0, deadline.remaining())):
        raise deadline.expired(doing, where, "this process's write lock (another write held it all along)")
    try:
        yield
    finally:
        lock.release()


class StoreHealth:
    """Whether the database answers, as the watcher last found; logs one line when that changes.

    A watcher retrying every second during an outage must not write a line (or a
    traceback) each time: operators get "store down" once and "store back" once.
    """

    def __init__(self, where: str) -> None:
        self._where = where
        self._lock = threading.Lock()
        self._down_since: float | None = None
        self._reason = ""

    @property
    def down(self) -> bool:
        """True from a failed watcher pass until a successful one."""
        return self._down_since is not None

    def failed(self, exc: StoreError) -> None:
        """The database failed to answer: log it if it was answering until now."""
        with self._lock:
            if self._down_since is not None:
                return
            self._down_since = time.monotonic()
            self._reason = str(exc)
        _log.warning(
            "store down: %s; writes fail with StoreError (HTTP 503) and reads answer from the last snapshot "
            "until it answers again",
            exc,
        )

    def answered(self) -> None:
        """The database answered: log it if it had been down."""
        with self._lock:
            since, self._down_since = self._down_since, None
        if since is not None:
            _log.warning("store back: %s answers again after %.1f s", self._where, time.monotonic() - since)

    def check(self) -> None:
        """StoreError at once while the database is known to be down (readiness need not wait to find out)."""
        since = self._down_since
        if since is not None:
            raise StoreError(f"the store has not answered for {time.monotonic() - since:.0f} s: {self._reason}")
