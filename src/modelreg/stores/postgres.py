"""PostgresRegistry: the centralized backend; many processes and server replicas share one database."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from datetime import UTC, datetime
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

import psycopg
import psycopg.errors
from psycopg.conninfo import conninfo_to_dict
from psycopg.pq import TransactionStatus
from psycopg_pool import ConnectionPool, PoolTimeout

from .._checks import number_option
from .._deadline import Deadline
from .._history import HistoryFilter
from .._plans import Committed, Plan
from .._state import RegistryState
from .._transitions import Change
from .._travel import TRAVEL_KINDS, Step
from ..errors import DuplicateVersionError, RegistryError, StoreError
from ..webhooks import WebhookStore
from ._durable import DurableRegistry
from ._errors import duplicate_version, translating
from ._outage import DEFAULT_STORE_TIMEOUT, holding
from ._pg_listen import Listener
from ._pg_schema import CHANNEL, VERSIONS_KEY, WRITE_LOCK, migrate, store_id
from ._pg_sql import Script, event_rows_for
from ._policy_rows import POLICY_ROWS, PROMOTION_ROWS
from ._rows import ALIAS_ROWS, EventRow, history_condition, state_from_rows
from ._webhooks_pg import PostgresWebhooks

__all__ = ["DEFAULT_CONNECT_TIMEOUT", "DEFAULT_POLL_INTERVAL", "DEFAULT_STORE_TIMEOUT", "PostgresRegistry"]

DEFAULT_POLL_INTERVAL = 1.0
DEFAULT_CONNECT_TIMEOUT = 10
_CHECK_IF_IDLE_FOR = 0.5  # seconds
# psycopg_pool retries a failed connection with a doubling delay for reconnect_timeout (5 min by
# default), so after a long outage its next attempt could be a minute away. Giving up after a second
# instead lets the next write that waits start a fresh attempt at once: writes resume within about a
# second of the database answering again.
_RECONNECT_TIMEOUT = 1.0
_Conn = psycopg.Connection[tuple[Any, ...]]
_Written = tuple[list[Change], list[EventRow]]
_T = TypeVar("_T")
_log = logging.getLogger("modelreg.stores")


def _describe(url: str) -> str:
    """Where the database is, for messages: never the password."""
    try:
        params = conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        raise StoreError(
            f"invalid PostgreSQL URL: {_reason(exc)}; expected postgresql://user@host:port/dbname"
        ) from exc
    host = params.get("host") or "the default host"
    port = f":{params['port']}" if params.get("port") else ""
    user = f" as {params['user']}" if params.get("user") else ""
    return f"PostgreSQL database {params.get('dbname') or '(default)'!r} at {host}{port}{user}"


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


class PostgresRegistry(DurableRegistry):
    """A registry in a PostgreSQL database that any number of processes and replicas share.

    Reads are served from an in-memory snapshot. How stale a read may be: this
    process's own writes are visible as soon as the call returns. A change
    committed by another replica is visible here once its NOTIFY has reached our
    LISTEN connection and we have read the events after our revision (one round
    trip; well under a millisecond on one machine). If notifications are lost
    (our LISTEN connection dropped), it is visible within ``poll_interval``, as
    the watcher also polls the events table that often. ``refresh()`` catches up
    at once. All of this holds while one of our writers waits for another
    replica's write lock too. A write is always checked against the latest
    committed state: it commits in one round trip when our snapshot is current,
    and otherwise catches up under the write lock first. A read whose pooled
    connection turns out broken (the server restarted) is retried once on a
    fresh one; a write never is, as it may have committed.

    ``store_timeout`` bounds every write end to end (this process's write lock, a
    pooled connection, the advisory lock and the statements, the last two through
    ``statement_timeout``): a write that cannot commit within it is rolled back
    and raises StoreError. Reads wait for a connection as long. ``connect_timeout``
    (whole seconds) bounds the wait for the server to answer a new connection.
    """

    def __init__(
        self,
        url: str,
        *,
        min_size: int = 1,
        max_size: int = 10,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        store_timeout: float = DEFAULT_STORE_TIMEOUT,
        connect_timeout: int = DEFAULT_CONNECT_TIMEOUT,
    ) -> None:
        if not isinstance(url, str):
            raise TypeError(f"url must be a str, not {type(url).__name__}")
        number_option("min_size", min_size, minimum=0, integer=True)
        number_option("max_size", max_size, minimum=max(1, min_size), integer=True)
        number_option("poll_interval", poll_interval, minimum=0.001, unit=" of seconds")
        self._store_timeout = number_option("store_timeout", store_timeout, minimum=0.001, unit=" of seconds")
        # libpq counts whole seconds and treats anything below 2 as 2.
        number_option("connect_timeout", connect_timeout, minimum=2, integer=True)
        self._where = _describe(url)
        self._listener: Listener | None = None
        # (backend pid, last revision) of the write being committed, if any
        self._committing = (0, 0)
        self._pool: ConnectionPool[_Conn] | None = None
        self._last_used: WeakKeyDictionary[_Conn, float] = WeakKeyDictionary()
        try:
            self._listener = Listener(url, channel=CHANNEL, connect_timeout=connect_timeout)
            with self._store_errors("connecting to"):
                conn = self._listener.connect()
                migrate(conn, self._where)
                self._store_id = store_id(conn, self._where)
            self._pool = ConnectionPool(
                url,
                min_size=min_size,
                max_size=max_size,
                timeout=self._store_timeout,
                reconnect_timeout=_RECONNECT_TIMEOUT,
                open=False,
                name="modelreg",
                kwargs={
                    "autocommit": True,
                    "connect_timeout": connect_timeout,
                    "fallback_application_name": "modelreg",
                },
                check=self._check_connection,
            )
            with self._store_errors("opening a connection pool to"):
                self._pool.open(wait=True, timeout=self._store_timeout)
            super().__init__(poll_interval=float(poll_interval), store_timeout=self._store_timeout)
        except BaseException:
            self._close_connections()
            raise

    def webhooks(self) -> WebhookStore:
        """This registry's webhooks, in the database beside the events; every replica shares them (docs/webhooks.md)."""
        return PostgresWebhooks(lambda: self._connection("managing webhooks in", Deadline(self._store_timeout)))

    def __repr__(self) -> str:
        return f"<PostgresRegistry {self._where} revision={self._state.revision}>"

    # -- connections and errors -------------------------------------------------------

    def _store_errors(self, doing: str) -> AbstractContextManager[None]:
        """Translate psycopg errors (pool timeouts included) at the boundary: StoreError, cause chained."""
        return translating(psycopg.Error, "PostgreSQL", self._where, doing, self._describe_error)

    def _describe_error(self, exc: BaseException, doing: str) -> str:
        if isinstance(exc, PoolTimeout):
            return f"no connection within store_timeout={self._store_timeout:g}s ({_reason(exc)})"
        if isinstance(exc, psycopg.errors.QueryCanceled) and doing == "writing to":
            return f"not done within store_timeout={self._store_timeout:g}s, so rolled back ({_reason(exc)})"
        return _reason(exc)

    @contextmanager
    def _connection(self, doing: str, deadline: Deadline) -> Iterator[_Conn]:
        pool = self._pool
        if pool is None or self._stopping.is_set():
            raise StoreError(f"{self!r} is closed; open a new registry")
        broken = False
        try:
            # A deadline already past makes the pool refuse at once, even with a connection idle.
            with self._store_errors(doing), pool.connection(timeout=max(0.0, deadline.remaining())) as conn:
                try:
                    yield conn
                finally:
                    broken = conn.broken
                    self._last_used[conn] = time.monotonic()
        finally:
            if broken:
                # Its idle siblings most likely died with it (a server restart), and the
                # ones used in the last half second would not be pinged: ping them all.
                with suppress(psycopg.Error):
                    pool.check()

    def _read(self, doing: str, query: Callable[[_Conn], _T]) -> _T:
        """Run a read; if its connection turns out broken, once more on a fresh one (within store_timeout)."""
        deadline = Deadline(self._store_timeout)
        used: list[_Conn] = []
        try:
            with self._connection(doing, deadline) as conn:
                used.append(conn)
                return query(conn)
        except StoreError as exc:
            if not used or not used[0].broken:
                raise
            # Not a warning: if the server is down, the watcher's one "store down" line says so.
            _log.info("a pooled connection to %s was broken (%s); retrying the read", self._where, exc)
        with self._connection(doing, deadline) as conn:
            return query(conn)

    def _check_connection(self, conn: _Conn) -> None:
        """Ping a pooled connection that sat idle, so one broken by a server restart is replaced.

        Like HikariCP's aliveBypassWindowMs: a connection used within the last
        half second skips the ping, which would cost a round trip per write.
        """
        last = self._last_used.get(conn)
        if last is None or time.monotonic() - last > _CHECK_IF_IDLE_FOR:
            ConnectionPool.check_connection(conn)

    def _close_connections(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()

    def close(self) -> None:
        """Stop the watcher (waking it at once) and release every connection; idempotent."""
        if self._listener is not None:
            self._listener.wake()
        super().close()

    # -- DurableRegistry hooks ----------------------------------------------------------

    def _wait_for_change(self, timeout: float) -> bool | None:
        listener = self._listener
        if listener is None:
            return False
        with self._store_errors("listening for changes on"):
            changed = listener.wait(timeout, self._is_news)
            if self._health.down and self._pool is not None:
                # It answers again: replace the pooled connections the outage broke now, so
                # the next write need not find them one by one.
                self._pool.check()
        return changed

    def _is_news(self, revision: int | None, pid: int) -> bool:
        """Whether a notified revision may be one we have not applied (None: unknown, so yes).

        Our own NOTIFY can arrive before our writer has applied its commit; it comes
        from the connection we commit on. The sender matters: while our write waits
        for the lock, another replica may commit the very revisions it claims.
        """
        if revision is None:
            return True
        ours, committing = self._committing
        return revision > self._state.revision and not (pid == ours and revision <= committing)

    def _load(self) -> RegistryState:
        return self._read("loading the registry from", self._load_on)

    def _load_on(self, conn: _Conn) -> RegistryState:
        with conn.transaction():
            # One snapshot for all the reads, so the rows agree with the revision.
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            revision = _scalar(conn, "SELECT coalesce(max(revision), 0) FROM events")
            aliases = conn.execute(ALIAS_ROWS).fetchall()
            models = conn.execute(
                "SELECT name, description, tags::text, created_at, updated_at FROM models"
            ).fetchall()
            versions = conn.execute(
                "SELECT m.name, v.version, v.metadata::text, v.registered_at, v.registered_by "
                "FROM versions v JOIN models m ON m.id = v.model_id ORDER BY v.model_id"  # a model's rows together
            )
            return state_from_rows(
                ((name, version, text, at.astimezone(UTC), by) for name, version, text, at, by in versions),
                aliases,
                [(n, d, t, _utc(c), _utc(u)) for n, d, t, c, u in models],
                revision,
                self._where,
                conn.execute(POLICY_ROWS).fetchall(),
                conn.execute(PROMOTION_ROWS).fetchall(),
            )

    def _rows_after(self, revision: int, limit: int | None = None) -> list[EventRow]:
        return self._read("reading events from", lambda conn: _events(conn, "revision > %s", [revision], limit))

    def _rows_named(self, name: str, chosen: HistoryFilter) -> list[EventRow]:
        # COLLATE "C": the version range must compare bytewise, whatever the database's collation.
        condition, params = history_condition(name, chosen, "%s", version='version COLLATE "C"')
        return self._read("reading history from", lambda conn: _events(conn, condition, params))

    def _past_steps(self, name: str, at: datetime) -> list[Step]:
        """The model's version and alias events up to ``at``, only the columns the replay reads."""
        chosen = HistoryFilter(kinds=frozenset(TRAVEL_KINDS))
        condition, params = history_condition(name, chosen, "%s", until=at)
        query = f"SELECT kind, version, alias FROM events WHERE {condition} ORDER BY revision"
        rows = self._read("reading history from", lambda conn: conn.execute(query, params).fetchall())
        return [(kind, version, alias) for kind, version, alias in rows]

    # Writes. Writers take turns on one transaction-scoped advisory lock (WRITE_LOCK),
    # and each numbers its events after the last committed one, so revisions are
    # gap-free in commit order. With a sequence, revision 6 could commit before 5; a
    # replica that had read up to 6 would never look below it again and would skip 5.
    # Client-side binding sends a write's statements as one simple-protocol query:
    # each round trip costs latency, and a GIL hand-off when other threads are busy.
    # Each round trip first sets statement_timeout to what is left of the write's deadline,
    # so the database cancels (and we roll back) a write that waits too long for the
    # advisory lock or runs too long, instead of committing after the caller gave up.

    def _commit(self, plan: Plan, deadline: Deadline) -> Committed:
        # The plan may run twice: first on our snapshot, then, if another writer got in
        # first, again after catching up under the lock (plans are pure, so that is safe).
        with holding(self._write_lock, deadline, "writing to", self._where):
            with self._connection("writing to", deadline) as conn:
                cur = psycopg.ClientCursor(conn)
                try:
                    done = self._write_if_current(cur, plan, deadline) or self._write_caught_up(cur, plan, deadline)
                except BaseException:
                    self._rollback(conn)
                    raise
            return self._apply_own(*done)

    def _write_if_current(self, cur: psycopg.ClientCursor[Any], plan: Plan, deadline: Deadline) -> _Written | None:
        """One round trip: plan on our snapshot and commit, unless another writer got in first (None).

        Our events take the revisions after our snapshot's; because revisions are
        gap-free, the first of them already exists exactly when someone committed
        after our snapshot, and then the primary key refuses it and nothing is kept.
        """
        state = self._state  # once: the watcher may move it meanwhile
        try:
            changes = plan(state)
        except RegistryError:
            return None  # perhaps refused on stale data: decide after catching up
        rows = event_rows_for(changes, state.revision + 1)
        try:
            self._send(cur, rows, changes, state, deadline, locked=False)
        except psycopg.errors.UniqueViolation as exc:
            if exc.diag.constraint_name != "events_pkey":
                raise self._refused(changes, exc) from exc
            self._rollback(cur.connection)
            return None
        return changes, rows

    def _write_caught_up(self, cur: psycopg.ClientCursor[Any], plan: Plan, deadline: Deadline) -> _Written:
        """Two round trips: lock and read the events we lack; apply them, plan, write, commit."""
        # The catch-up read is a statement of its own, so its snapshot is taken after
        # the lock is granted: the plan sees every write committed before ours.
        cur.execute(
            f"BEGIN; {self._time_limit(deadline)}; SELECT pg_advisory_xact_lock(%s); "
            f"{_SELECT_EVENTS} WHERE revision > %s ORDER BY revision",
            (WRITE_LOCK, self._state.revision),
        )
        cur.nextset()
        cur.nextset()
        cur.nextset()
        self._apply_rows(_event_rows(cur.fetchall()))
        # Nobody else commits while we hold the lock, so the watcher can only move the
        # snapshot through revisions we have just applied: it stays where it is.
        state = self._state
        changes = plan(state)
        rows = event_rows_for(changes, state.revision + 1)
        try:
            self._send(cur, rows, changes, state, deadline, locked=True)
        except psycopg.errors.UniqueViolation as exc:
            raise self._refused(changes, exc) from exc
        return changes, rows

    def _send(
        self,
        cur: psycopg.ClientCursor[Any],
        rows: list[EventRow],
        changes: Sequence[Change],
        state: RegistryState,
        deadline: Deadline,
        *,
        locked: bool,
    ) -> None:
        """Send the events (first), the table changes (of ``changes``, planned on ``state``), the NOTIFY and COMMIT
        as one query."""
        script = Script()
        if not locked:
            script.add("BEGIN", [])
        script.add(self._time_limit(deadline), [])
        if not locked:
            script.add("SELECT pg_advisory_xact_lock(%s)", [WRITE_LOCK])
        script.add_changes(rows, changes, state)
        script.add("COMMIT", [])
        if rows:
            self._committing = (cur.connection.info.backend_pid, rows[-1].revision)
        cur.execute(script.query, script.params)

    def _time_limit(self, deadline: Deadline) -> str:
        """The statement that gives the rest of this transaction what is left of ``deadline``."""
        left = deadline.left("writing to", self._where, "the database")
        # Whole milliseconds, at least 1: 0 would mean no limit at all. It applies to each
        # statement of the round trip; all but the lock wait take well under a millisecond.
        return f"SET LOCAL statement_timeout = {max(1, int(left * 1000))}"

    def _refused(self, changes: Sequence[Change], exc: psycopg.errors.UniqueViolation) -> RegistryError:
        """The error for a unique key the database enforced though our caught-up snapshot passed the write."""
        if exc.diag.constraint_name != VERSIONS_KEY:  # e.g. a revision taken by a writer that skipped the lock
            return StoreError(f"PostgreSQL refused a write to {self._where}: {_reason(exc)}")
        registered = [change for change in changes if change.kind == "registered"]
        if len(registered) == 1:
            return duplicate_version(registered[0].name, registered[0].version)
        return DuplicateVersionError(
            f"a version in the batch is already registered: {exc.diag.message_detail or _reason(exc)}"
        )

    def _rollback(self, conn: _Conn) -> None:
        """End a failed write's transaction; keep the original error if the connection is gone too."""
        # Before the lock is released: the revision we meant to commit will be someone else's.
        self._committing = (0, 0)
        if conn.info.transaction_status != TransactionStatus.IDLE:
            with suppress(psycopg.Error):  # the pool discards a broken connection
                conn.execute("ROLLBACK")


# -- SQL ------------------------------------------------------------------------------

_SELECT_EVENTS = "SELECT revision, kind, name, version, alias, actor, at, payload::text FROM events"


def _utc(at: datetime | None) -> datetime | None:
    return None if at is None else at.astimezone(UTC)


def _scalar(conn: _Conn, query: str) -> int:
    row = conn.execute(query).fetchone()
    assert row is not None
    return int(row[0])


def _event_rows(records: Sequence[Sequence[Any]]) -> list[EventRow]:
    return [
        EventRow(revision, kind, name, version, alias, actor, at.astimezone(UTC), payload)
        for revision, kind, name, version, alias, actor, at, payload in records
    ]


def _events(conn: _Conn, condition: str, params: list[object], limit: int | None = None) -> list[EventRow]:
    query = f"{_SELECT_EVENTS} WHERE {condition} ORDER BY revision LIMIT %s"  # LIMIT NULL means none
    return _event_rows(conn.execute(query, (*params, limit)).fetchall())
