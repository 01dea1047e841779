"""The SQLite ``WebhookStore``: the shared SQL over a connection of its own to the registry's file."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime

from ._errors import translating
from ._sqlite_tx import transaction
from ._webhook_sql import SqlWebhooks

__all__ = ["SqliteWebhooks"]

# Unix seconds with fractions, by SQLite's clock (julianday of the Unix epoch is 2440587.5).
_NOW = "((julianday('now') - 2440587.5) * 86400.0)"


class SqliteWebhooks(SqlWebhooks):
    """Webhooks in the registry's SQLite file, each transaction on a connection of its own.

    Its own, so a delivery never waits for this process's registry writers; opened per
    transaction (tens of microseconds), so nothing is left to close with the registry.
    """

    def __init__(self, path: str, timeout: float) -> None:
        self._path = path
        self._timeout = timeout
        super().__init__(self._transaction, mark="?", now=_NOW, time_in=datetime.isoformat,
                         time_out=datetime.fromisoformat, read=self._reading)

    def _transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        return self._open(immediate=True)

    def _reading(self) -> AbstractContextManager[sqlite3.Connection]:
        # A deferred BEGIN: a read takes no write lock, so listing webhooks never queues behind writers.
        return self._open(immediate=False)

    @contextmanager
    def _open(self, *, immediate: bool) -> Iterator[sqlite3.Connection]:
        with translating(sqlite3.Error, "SQLite", self._path, "managing webhooks in", _describe):
            # isolation_level=None: transaction() issues BEGIN/COMMIT itself.
            conn = sqlite3.connect(self._path, timeout=self._timeout, isolation_level=None)
            try:
                conn.execute("PRAGMA foreign_keys = ON")  # off by default, per connection
                with transaction(conn, immediate=immediate):
                    yield conn
            finally:
                conn.close()


def _describe(exc: BaseException, doing: str) -> str:
    return str(exc)
