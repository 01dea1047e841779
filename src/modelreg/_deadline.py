"""How long a write may take: one ``Deadline`` per write, and when the caller began waiting.

A write gets one ``Deadline`` when it starts; every wait inside it (this
process's write lock, a pooled connection, the database's lock and statements)
gets only what is left, so a write during an outage fails within about
``store_timeout`` however many writes queue behind each other, and a write that
cannot finish in time is rolled back instead of committing after its caller
gave up.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from .errors import StoreError

__all__ = ["Deadline", "started_at", "write_started"]

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
