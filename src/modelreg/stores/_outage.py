"""Waiting for the write lock within a write's ``Deadline``, and noticing (once, not per retry) when the
database stops and starts answering."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from .._deadline import Deadline
from ..errors import StoreError

__all__ = ["DEFAULT_STORE_TIMEOUT", "StoreHealth", "holding"]

DEFAULT_STORE_TIMEOUT = 5.0
"""Seconds a write may take end to end, waits included, before it fails with StoreError (HTTP 503)."""

_log = logging.getLogger("modelreg.stores")

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
