"""The SQL ``WebhookStore`` both database stores share; each gives its connection, placeholder and clock.

Leases are Unix seconds computed by the database's own clock (``now``), so replicas on
machines whose clocks disagree still agree on who holds a webhook. A claim is one
``UPDATE ... WHERE lease expired OR holder = me RETURNING``: of two replicas claiming at
once, the database lets one through per webhook. ``advance``, ``record`` and ``sync`` carry
``holder = me`` in their ``WHERE``, so a replica whose lease ran out changes nothing. ``sync``
is the delivery threads' one write: every webhook's progress, its attempts and the lease
renewal in one transaction. Reads take no write lock (``read``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from ..errors import InvalidWebhookError, WebhookNotFoundError
from ..webhooks import MAX_DELIVERY_LOG, MAX_WEBHOOKS, Claim, Delivery, Progress, Webhook

__all__ = ["SqlWebhooks"]

_HOOK_COLUMNS = ("id, url, events, models, created_at, created_by, position, failures, last_attempt_at, "
                 "last_status, last_error")
_DELIVERY_COLUMNS = "delivery_id, webhook_id, revision, kind, attempt, at, status, error, duration_ms"
Transaction = Callable[[], AbstractContextManager[Any]]
"""Opens one transaction and gives something with ``execute(query, params)`` returning a cursor, and ``cursor()``."""


def _list(value: tuple[str, ...] | None) -> str | None:
    return None if value is None else json.dumps(list(value))


def _tuple(text: str | None) -> tuple[str, ...] | None:
    return None if text is None else tuple(json.loads(text))


class SqlWebhooks:
    """A ``WebhookStore`` over the ``webhooks`` and ``webhook_deliveries`` tables (migration 6)."""

    def __init__(
        self, transaction: Transaction, *, mark: str, now: str, time_in: Callable[[datetime], Any],
        time_out: Callable[[Any], datetime], read: Transaction | None = None,
    ) -> None:
        self._tx = transaction
        self._read = read or transaction
        self._now = now
        self._time_in = time_in
        self._time_out = time_out
        self._mark = mark

    def _q(self, query: str) -> str:
        return query.replace("?", self._mark)

    def _hook(self, row: Sequence[Any]) -> Webhook:
        hook_id, url, events, models, created, by, position, failures, last_at, status, error = row
        return Webhook(hook_id, url, _tuple(events), _tuple(models), self._time_out(created), by, int(position),
                       int(failures), None if last_at is None else self._time_out(last_at), status, error)

    def add(self, hook: Webhook, secret: str) -> None:
        """Keep a new webhook."""
        with self._tx() as conn:
            count = conn.execute("SELECT count(*) FROM webhooks").fetchone()[0]
            if count >= MAX_WEBHOOKS:
                raise InvalidWebhookError(f"this registry already has {MAX_WEBHOOKS} webhooks, the most it keeps")
            conn.execute(self._q(
                "INSERT INTO webhooks (id, url, events, models, secret, created_at, created_by, position) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"),
                (hook.id, hook.url, _list(hook.events), _list(hook.models), secret, self._time_in(hook.created_at),
                 hook.created_by, hook.position))

    def hooks(self) -> list[Webhook]:
        """Every webhook, oldest first."""
        with self._read() as conn:
            rows = conn.execute(f"SELECT {_HOOK_COLUMNS} FROM webhooks ORDER BY created_at, id").fetchall()
        return [self._hook(row) for row in rows]

    def get(self, hook_id: str) -> Webhook:
        """One webhook."""
        with self._read() as conn:
            row = conn.execute(self._q(f"SELECT {_HOOK_COLUMNS} FROM webhooks WHERE id = ?"), (hook_id,)).fetchone()
        if row is None:
            raise _missing(hook_id)
        return self._hook(row)

    def remove(self, hook_id: str) -> None:
        """Forget a webhook and its deliveries."""
        with self._tx() as conn:
            conn.execute(self._q("DELETE FROM webhook_deliveries WHERE webhook_id = ?"), (hook_id,))
            if conn.execute(self._q("DELETE FROM webhooks WHERE id = ?"), (hook_id,)).rowcount == 0:
                raise _missing(hook_id)

    def secret(self, hook_id: str) -> str:
        """A webhook's signing secret."""
        with self._read() as conn:
            row = conn.execute(self._q("SELECT secret FROM webhooks WHERE id = ?"), (hook_id,)).fetchone()
        if row is None:
            raise _missing(hook_id)
        return str(row[0])

    def claim(self, holder: str, lease: float) -> list[Claim]:
        """Take or renew every webhook whose lease expired or is ``holder``'s, in one statement."""
        with self._tx() as conn:
            return self._claim(conn, holder, lease)

    def _claim(self, conn: Any, holder: str, lease: float) -> list[Claim]:
        rows = conn.execute(self._q(
            f"UPDATE webhooks SET holder = ?, lease_until = {self._now} + ? "
            f"WHERE lease_until <= {self._now} OR holder = ? RETURNING {_HOOK_COLUMNS}, secret"),
            (holder, lease, holder)).fetchall()
        return sorted((Claim(self._hook(row[:-1]), row[-1]) for row in rows), key=lambda c: c.webhook.created_at)

    def sync(self, holder: str, lease: float | None, progress: Sequence[Progress],
             attempts: Sequence[Delivery]) -> list[Claim]:
        """Store progress and attempts of the webhooks ``holder`` holds, then claim or release: one transaction."""
        with self._tx() as conn:
            held = set()
            for step in progress:
                cursor = conn.execute(self._q(
                    "UPDATE webhooks SET position = CASE WHEN position < ? THEN ? ELSE position END, failures = ?, "
                    "last_attempt_at = ?, last_status = ?, last_error = ? WHERE id = ? AND holder = ?"),
                    (step.position, step.position, step.failures,
                     None if step.last_attempt_at is None else self._time_in(step.last_attempt_at),
                     step.last_status, step.last_error, step.webhook, holder))
                if cursor.rowcount:
                    held.add(step.webhook)
            logged = [d for d in attempts if d.webhook in held]
            if logged:
                conn.cursor().executemany(self._q(f"INSERT INTO webhook_deliveries ({_DELIVERY_COLUMNS}) "
                                         "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"), [self._row(d) for d in logged])
            for hook_id in {d.webhook for d in logged}:
                self._trim(conn, hook_id)
            if lease is None:
                conn.execute(self._q("UPDATE webhooks SET holder = NULL, lease_until = 0 WHERE holder = ?"), (holder,))
                return []
            return self._claim(conn, holder, lease)

    def _row(self, delivery: Delivery) -> tuple[Any, ...]:
        return (delivery.id, delivery.webhook, delivery.revision, delivery.kind, delivery.attempt,
                self._time_in(delivery.at), delivery.status, delivery.error, delivery.duration_ms)

    def _trim(self, conn: Any, hook_id: str) -> None:
        # Bounded: keep the newest MAX_DELIVERY_LOG attempts of this webhook.
        conn.execute(self._q(
            "DELETE FROM webhook_deliveries WHERE webhook_id = ? AND seq <= (SELECT seq FROM webhook_deliveries "
            f"WHERE webhook_id = ? ORDER BY seq DESC LIMIT 1 OFFSET {MAX_DELIVERY_LOG})"),
            (hook_id, hook_id))

    def advance(self, hook_id: str, holder: str, position: int) -> bool:
        """Move the position forward while ``holder`` holds the lease."""
        with self._tx() as conn:
            cursor = conn.execute(self._q(
                "UPDATE webhooks SET position = ? WHERE id = ? AND holder = ? AND position < ?"),
                (position, hook_id, holder, position))
            if cursor.rowcount:
                return True
            row = conn.execute(self._q("SELECT 1 FROM webhooks WHERE id = ? AND holder = ?"),
                               (hook_id, holder)).fetchone()
            return row is not None

    def record(self, delivery: Delivery, holder: str | None) -> bool:
        """Log one attempt; update the failure count and, on success, the position (one transaction)."""
        with self._tx() as conn:
            if delivery.revision is None:  # a test ping is only logged: the delivery state stays
                found = conn.execute(self._q("SELECT 1 FROM webhooks WHERE id = ?"), (delivery.webhook,)).fetchone()
                if found is None:
                    return False
            else:
                if delivery.ok:
                    change = "failures = 0, position = CASE WHEN position < ? THEN ? ELSE position END"
                    values: tuple[Any, ...] = (delivery.revision, delivery.revision)
                else:
                    change, values = "failures = failures + 1", ()
                cursor = conn.execute(self._q(
                    f"UPDATE webhooks SET {change}, last_attempt_at = ?, last_status = ?, last_error = ? "
                    "WHERE id = ? AND holder = ?"),
                    (*values, self._time_in(delivery.at), delivery.status, delivery.error, delivery.webhook,
                     holder))
                if cursor.rowcount == 0:
                    return False
            conn.execute(self._q(f"INSERT INTO webhook_deliveries ({_DELIVERY_COLUMNS}) "
                                 "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"), self._row(delivery))
            self._trim(conn, delivery.webhook)
        return True

    def deliveries(self, hook_id: str, limit: int = MAX_DELIVERY_LOG) -> list[Delivery]:
        """The latest attempts, newest first."""
        with self._read() as conn:
            if conn.execute(self._q("SELECT 1 FROM webhooks WHERE id = ?"), (hook_id,)).fetchone() is None:
                raise _missing(hook_id)
            rows = conn.execute(self._q(f"SELECT {_DELIVERY_COLUMNS} FROM webhook_deliveries WHERE webhook_id = ? "
                                        "ORDER BY seq DESC LIMIT ?"), (hook_id, limit)).fetchall()
        return [Delivery(d_id, hook, revision, kind, int(attempt), self._time_out(at), status, error, float(ms))
                for d_id, hook, revision, kind, attempt, at, status, error, ms in rows]


def _missing(hook_id: str) -> WebhookNotFoundError:
    return WebhookNotFoundError(f"no webhook has id {hook_id[:40]!r}")
