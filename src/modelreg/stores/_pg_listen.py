"""The LISTEN connection that wakes a PostgresRegistry's watcher when another replica commits."""

from __future__ import annotations

import os
import select
import time
from collections.abc import Callable

import psycopg
from psycopg import sql

__all__ = ["Listener"]


def _revision(payload: str) -> int | None:
    try:
        return int(payload)
    except ValueError:
        return None


class Listener:
    """A dedicated connection (not from the pool: it stays in LISTEN for its whole life).

    ``wait`` blocks on the connection's socket and on a private pipe, so ``wake``
    ends a wait at once when the registry closes, without touching the database.
    It logs nothing: a lost connection, or a failed attempt to re-open it, is a
    psycopg error for the registry's watcher, which says once that the store is down.
    """

    def __init__(self, conninfo: str, *, channel: str, connect_timeout: int) -> None:
        self._conninfo = conninfo
        self._channel = channel
        self._connect_timeout = connect_timeout
        self._conn: psycopg.Connection[tuple[object, ...]] | None = None
        self._wake_r, self._wake_w = os.pipe()
        self._closed = False
        self._woken = False

    def connect(self) -> psycopg.Connection[tuple[object, ...]]:
        """(Re)open the connection and LISTEN; psycopg errors propagate."""
        self._drop()
        conn = psycopg.connect(
            self._conninfo,
            autocommit=True,
            connect_timeout=self._connect_timeout,
            # Shown in pg_stat_activity unless the URL names the application itself.
            fallback_application_name="modelreg-listen",
        )
        try:
            conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channel)))
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        return conn

    def wait(self, timeout: float, is_news: Callable[[int | None, int], bool]) -> bool | None:
        """Wait up to ``timeout`` seconds for a notification that ``is_news`` (given its revision and sender pid).

        True: such a notification came, or the connection was re-made (so some may
        have been lost); None: the time passed (the caller polls, in case
        notifications were lost); False: ``wake`` was called. A psycopg error when
        the connection is lost, or cannot be re-made (the next call tries again).
        """
        conn = self._conn
        if conn is None or conn.closed or conn.broken:
            return self._reconnect()
        deadline = time.monotonic() + timeout
        while True:
            try:
                # A non-blocking poll; it also returns notifications psycopg already buffered.
                notes = list(conn.notifies(timeout=0))
            except psycopg.Error:
                self._drop()
                raise
            if any(is_news(_revision(note.payload), note.pid) for note in notes):
                return True  # no query for notifications of our own writes
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            ready, _, _ = select.select([conn.fileno(), self._wake_r], [], [], remaining)
            if self._wake_r in ready:
                return False
            if not ready:
                return None

    def _reconnect(self) -> bool:
        if self._woken:
            return False  # closing: no new connection
        self.connect()
        return True

    def wake(self) -> None:
        """End the current and every later ``wait`` at once (the pipe is never drained)."""
        if not self._closed:
            self._woken = True
            os.write(self._wake_w, b"x")

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def close(self) -> None:
        """Close the connection and the pipe; idempotent."""
        if self._closed:
            return
        self._closed = True
        self._drop()
        os.close(self._wake_r)
        os.close(self._wake_w)
