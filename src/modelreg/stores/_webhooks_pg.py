"""The PostgreSQL ``WebhookStore``: the shared SQL over the registry's connection pool, leases by the database clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from typing import Any

import psycopg

from ._webhook_sql import SqlWebhooks

__all__ = ["PostgresWebhooks"]

_NOW = "extract(epoch FROM clock_timestamp())::float8"
_Conn = psycopg.Connection[tuple[Any, ...]]


def _utc(at: datetime) -> datetime:
    return at.astimezone(UTC)


class PostgresWebhooks(SqlWebhooks):
    """Webhooks in the registry's database; ``connection`` lends a pooled connection (errors translated)."""

    def __init__(self, connection: Callable[[], AbstractContextManager[_Conn]]) -> None:
        self._connection = connection
        super().__init__(self._transaction, mark="%s", now=_NOW, time_in=lambda at: at, time_out=_utc)

    @contextmanager
    def _transaction(self) -> Iterator[_Conn]:
        with self._connection() as conn, conn.transaction():
            yield conn
