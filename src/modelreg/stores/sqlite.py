"""SqliteRegistry: the embedded default backend, one SQLite file any number of processes may share."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from pathlib import Path

from .._checks import number_option
from .._deadline import Deadline
from .._history import HistoryFilter
from .._plans import Committed, Plan, acting_as, current_actor
from .._state import RegistryState
from .._transitions import Change, apply
from .._travel import TRAVEL_KINDS, Step
from ..errors import RegistryError, StoreError
from ..events import GOVERNANCE_KINDS
from ..semver import parse_version
from ..webhooks import WebhookStore
from ._durable import DurableRegistry
from ._errors import duplicate_version, translating
from ._outage import DEFAULT_STORE_TIMEOUT
from ._policy_rows import POLICY_ROWS, PROMOTION_ROWS
from ._rows import ALIAS_ROWS, EventRow, VersionRow, encode_metadata, history_condition, state_from_rows
from ._sqlite_schema import migrate, store_id
from ._sqlite_tx import transaction
from ._sqlite_url import refuse_in_memory, sqlite_path_from_url
from ._sqlite_writes import MODEL_ID, write_other
from ._webhooks_sqlite import SqliteWebhooks

__all__ = ["DEFAULT_POLL_INTERVAL", "DEFAULT_STORE_TIMEOUT", "SqliteRegistry", "sqlite_path_from_url"]

DEFAULT_POLL_INTERVAL = 0.02
_EVENT_COLUMNS = "revision, kind, name, version, alias, actor, at, payload"
_MODEL_ID = MODEL_ID
_Row = tuple[int, str, str, str | None, str | None, str | None, str, str | None]


class SqliteRegistry(DurableRegistry):
    """A registry in one SQLite file (WAL mode); any number of processes may open it at once.

    Reads are served from an in-memory snapshot. How stale a read may be: this
    process's own writes are visible as soon as the call returns; a change
    committed by another process is visible here within ``poll_interval`` plus the
    time to apply it (a watcher thread polls ``PRAGMA data_version``), and at once
    after ``refresh()``; this holds while one of our writers waits for another
    process's write lock too. Every write first catches up with the events table
    inside its transaction, so it is always checked against the latest state.
    ``store_timeout`` bounds each write end to end: waiting for this process's
    write lock and then for another process's (SQLite's busy timeout gets what is
    left); past it the write fails with StoreError and nothing is written.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        store_timeout: float = DEFAULT_STORE_TIMEOUT,
    ) -> None:
        if not isinstance(path, str | os.PathLike):
            raise TypeError(f"path must be a str or os.PathLike, not {type(path).__name__}")
        text = os.fspath(path)
        if not text:
            raise RegistryError("SQLite database path is empty; expected a file path such as 'registry.db'")
        refuse_in_memory(text)
        poll_interval = number_option("poll_interval", poll_interval, minimum=0.001, unit=" of seconds")
        self._store_timeout = number_option("store_timeout", store_timeout, minimum=0.001, unit=" of seconds")
        self._path = os.path.abspath(text)
        self._where = f"SQLite database {self._path}"
        self._pid = os.getpid()
        # _conn is the writers' (under the write lock); _watch_conn serves the watcher,
        # refresh() and history() (under _read_lock), so they never wait for a writer.
        self._conn: sqlite3.Connection | None = None
        self._watch_conn: sqlite3.Connection | None = None
        self._read_lock = threading.Lock()
        self._pending: list[_Ticket] = []  # writes waiting for the next group commit
        self._pending_lock = threading.Lock()
        try:
            self._conn = self._connect()
            with self._store_errors("updating the schema of"):
                migrate(self._conn, self._where)
                self._store_id = store_id(self._conn, self._where)
            self._watch_conn = self._connect()
            with self._store_errors("polling"), self._reader() as conn:
                self._data_version: int = _data_version(conn)
            self._seen_version = self._data_version
            super().__init__(poll_interval=poll_interval, store_timeout=self._store_timeout)
        except BaseException:
            self._close_connections()
            raise

    @classmethod
    def from_url(
        cls, url: str, *, poll_interval: float = DEFAULT_POLL_INTERVAL, store_timeout: float = DEFAULT_STORE_TIMEOUT
    ) -> SqliteRegistry:
        """Open ``sqlite:///relative.db`` (relative to the working directory) or ``sqlite:////abs/path.db``."""
        return cls(sqlite_path_from_url(url), poll_interval=poll_interval, store_timeout=store_timeout)

    @property
    def path(self) -> str:
        """Absolute path of the database file."""
        return self._path

    def webhooks(self) -> WebhookStore:
        """This registry's webhooks, in its file beside the events (docs/webhooks.md)."""
        return SqliteWebhooks(self._path, self._store_timeout)

    def __repr__(self) -> str:
        return f"<SqliteRegistry {self._path!r} revision={self._state.revision}>"

    # -- connections ---------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        try:
            Path(self._path).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the directory for SQLite database {self._path}: {exc}") from exc
        with self._store_errors("opening"):
            # isolation_level=None: we issue BEGIN/COMMIT ourselves. timeout= is SQLite's
            # busy timeout: how long a statement waits for another connection's lock.
            # check_same_thread=False: several threads use each connection, one at a time (under a lock).
            conn = sqlite3.connect(
                self._path, timeout=self._store_timeout, isolation_level=None, check_same_thread=False
            )
        try:
            with self._store_errors("opening"):
                conn.execute("PRAGMA foreign_keys = ON")  # off by default, per connection
                # FULL fsyncs the WAL at every commit. NORMAL would survive a process crash
                # but may lose the last commits on power loss; a registration that returned
                # must survive both.
                conn.execute("PRAGMA synchronous = FULL")
                # WAL: readers never block the writer and vice versa. The mode is stored in
                # the file, so it is switched once, by whichever process opens it first.
                if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                    self._switch_to_wal(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _switch_to_wal(self, conn: sqlite3.Connection) -> None:
        # Switching needs an exclusive lock, and SQLite answers "locked" at once instead
        # of calling the busy handler when other processes open the new file at the
        # same moment, so wait here (a single statement, not a transaction) up to timeout.
        deadline = time.monotonic() + self._store_timeout
        delay = 0.001
        while True:
            try:
                mode = str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0])
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() >= deadline:
                    raise
            time.sleep(delay)
            delay = min(delay * 2, 0.05)
        if mode.lower() != "wal":
            raise StoreError(
                f"SQLite database {self._path} cannot use WAL mode (it stays in {mode!r} mode); "
                "WAL needs a local file system with shared memory, not a network share"
            )

    def _connection(self) -> sqlite3.Connection:
        """The writers' connection (hold the write lock)."""
        return self._usable(self._conn)

    @contextmanager
    def _reader(self) -> Iterator[sqlite3.Connection]:
        """The reading connection, ours alone for the block; it never waits for our writers."""
        with self._read_lock:
            yield self._usable(self._watch_conn)

    def _usable(self, conn: sqlite3.Connection | None) -> sqlite3.Connection:
        if conn is None:
            raise StoreError(f"{self!r} is closed; open a new registry")
        if os.getpid() != self._pid:
            # SQLite connections must not cross fork() (their locks belong to the parent),
            # and the watcher thread did not come along either.
            raise StoreError(
                f"{self!r} was opened in process {self._pid} and cannot be used after fork(); "
                "open a new SqliteRegistry in this process"
            )
        return conn

    def _store_errors(self, doing: str) -> AbstractContextManager[None]:
        """Translate sqlite3 errors at the boundary: StoreError naming the file, cause chained."""
        return translating(sqlite3.Error, "SQLite", self._path, doing, self._describe_error)

    def _describe_error(self, exc: BaseException, doing: str) -> str:
        detail = str(exc)
        if isinstance(exc, sqlite3.DatabaseError) and "not a database" in detail:
            detail += " (the file exists but is not an SQLite database)"
        elif isinstance(exc, sqlite3.OperationalError) and "locked" in detail:
            detail += f" (another process kept it locked; gave up at store_timeout={self._store_timeout:g}s)"
        return detail

    def _close_connections(self) -> None:
        with self._read_lock:
            for conn in (self._watch_conn, self._conn):
                if conn is not None:
                    conn.close()
            self._conn = self._watch_conn = None

    @contextmanager
    def _atomic(self, deadline: Deadline) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE ... COMMIT, rolled back on any exception).

        IMMEDIATE takes the database's write lock up front, which serializes writers
        across processes (so revisions are gap-free in commit order) and avoids the
        deadlock of two readers both upgrading to writers. It waits for another
        process's lock only as long as ``deadline`` leaves.
        """
        conn = self._connection()
        left = deadline.left("writing to", self._where, "this process's earlier writes")
        with self._store_errors("starting a write transaction on"):
            conn.execute(f"PRAGMA busy_timeout = {max(1, int(left * 1000))}")  # 0 would not wait at all
        with self._store_errors("writing to"), transaction(conn, immediate=True):
            yield conn

    # -- DurableRegistry hooks ------------------------------------------------------

    def _wait_for_change(self, timeout: float) -> bool:
        # data_version changes when any other connection (ours included) commits:
        # one cheap pragma per interval instead of a query of the events table.
        if self._stopping.wait(timeout) or self._watch_conn is None:
            return False
        with self._store_errors("polling"), self._reader() as conn:
            version = _data_version(conn)
            if version == self._data_version:
                return False
            # Kept as seen only once the catch-up succeeds (_caught_up): were it kept
            # now, one failed read would hide this change until the next commit.
            self._seen_version = version
            # Our own commits change it too; only catch up when the log holds
            # revisions we have not applied.
            latest = conn.execute("SELECT max(revision) FROM events").fetchone()[0]
        return latest is not None and latest > self._state.revision

    def _caught_up(self) -> None:
        self._data_version = self._seen_version

    def _load(self) -> RegistryState:
        conn = self._connection()
        # One read transaction, so rows and revision agree.
        with self._store_errors("reading"), transaction(conn):
            revision = conn.execute("SELECT coalesce(max(revision), 0) FROM events").fetchone()[0]
            aliases = conn.execute(ALIAS_ROWS).fetchall()
            models = [
                (name, description, tags, self._time(created, name), self._time(updated, name))
                for name, description, tags, created, updated in conn.execute(
                    "SELECT name, description, tags, created_at, updated_at FROM models"
                )
            ]
            versions = conn.execute(
                "SELECT m.name, v.version, v.metadata, v.registered_at, v.registered_by "
                "FROM versions v JOIN models m ON m.id = v.model_id ORDER BY v.model_id"  # a model's rows together
            )
            governance = conn.execute(POLICY_ROWS).fetchall(), conn.execute(PROMOTION_ROWS).fetchall()
            rows = self._version_rows(versions)
            return state_from_rows(rows, aliases, models, int(revision), self._where, *governance)

    def _version_rows(self, rows: Iterator[tuple[str, str, str, str, str | None]]) -> Iterator[VersionRow]:
        parse = datetime.fromisoformat
        for name, version, text, at, by in rows:
            try:
                when = parse(at)
            except (TypeError, ValueError):  # the message names the row, so it is built only then
                self._time(at, f"{name} {version}")  # raises StoreError
                raise
            yield name, version, text, when, by

    def _time(self, text: str | None, row: str) -> datetime | None:
        """A stored isoformat() time (None stays None); StoreError naming the row if it is unreadable."""
        if text is None:
            return None
        try:
            return datetime.fromisoformat(text)
        except (TypeError, ValueError) as exc:
            raise StoreError(f"{row} in {self._where} has an unreadable time {text!r}") from exc

    def _rows_after(self, revision: int, limit: int | None = None) -> list[EventRow]:
        with self._store_errors("reading events from"), self._reader() as conn:
            return self._events(conn, "revision > ?", [revision], limit)

    def _rows_named(self, name: str, chosen: HistoryFilter) -> list[EventRow]:
        condition, params = history_condition(name, chosen, "?")
        with self._store_errors("reading history from"), self._reader() as conn:
            return self._events(conn, condition, params)

    def _past_steps(self, name: str, at: datetime) -> list[Step]:
        """The model's version and alias events up to ``at``, only the columns the replay reads."""
        # Times are stored as UTC isoformat() text, which orders as the times do ('+' sorts below '.').
        chosen = HistoryFilter(kinds=frozenset(TRAVEL_KINDS))
        condition, params = history_condition(name, chosen, "?", until=at.astimezone(UTC).isoformat())
        with self._store_errors("reading history from"), self._reader() as conn:
            query = f"SELECT kind, version, alias FROM events WHERE {condition} ORDER BY revision"
            return conn.execute(query, params).fetchall()

    def _events(
        self, conn: sqlite3.Connection, condition: str, params: list[object], limit: int | None = None
    ) -> list[EventRow]:
        rows = conn.execute(
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE {condition} ORDER BY revision LIMIT ?",
            (*params, -1 if limit is None else limit),  # SQLite: a negative LIMIT means none
        )
        return [self._event_row(row) for row in rows.fetchall()]

    def _event_row(self, row: _Row) -> EventRow:
        revision, kind, name, version, alias, actor, at, payload = row
        try:
            when = datetime.fromisoformat(at)
        except (TypeError, ValueError) as exc:
            raise StoreError(f"event {revision} in {self._where} has an unreadable time {at!r}") from exc
        return EventRow(revision, kind, name, version, alias, actor, when, payload)

    def _commit(self, plan: Plan, deadline: Deadline) -> Committed:
        """Group commit: writers that queue while another commits share the next transaction.

        Each write is still all-or-nothing and checked against every write before
        it (a savepoint per write), but the batch pays for one fsync'd COMMIT
        instead of one each, which is what bounds latency under concurrent writers.
        A writer that waits past its deadline for the write lock takes its ticket
        back, so no later batch commits a write whose caller was told it failed.
        """
        ticket = _Ticket(plan, current_actor.get(), deadline)
        with self._pending_lock:
            self._pending.append(ticket)
        if not self._write_lock.acquire(timeout=max(0.0, deadline.remaining())):
            with self._pending_lock:
                queued = ticket in self._pending
                if queued:
                    self._pending.remove(ticket)
            if queued:
                raise deadline.expired("writing to", self._where, "this process's write lock (earlier writes held it)")
            ticket.done.wait()  # a batch took it just now and is committing: its outcome is ours
            return ticket.outcome()
        try:
            if not ticket.done.is_set():
                with self._pending_lock:
                    batch, self._pending = self._pending, []
                self._commit_queued(batch)
        finally:
            self._write_lock.release()
        return ticket.outcome()

    def _commit_queued(self, queued: list[_Ticket]) -> None:
        """Run every ticket's plan in one transaction; each gets what it committed or its own error."""
        for ticket in queued:
            if ticket.deadline.remaining() <= 0:  # its caller is giving up: not a reason to fail the others
                ticket.error = ticket.deadline.expired("writing to", self._where, "this process's write lock")
        batch = [ticket for ticket in queued if ticket.error is None]
        try:
            if batch:
                self._commit_batch(batch)
        finally:
            for ticket in queued:
                ticket.done.set()

    def _commit_batch(self, batch: list[_Ticket]) -> None:
        """One transaction, one savepoint per write, within the earliest of their deadlines."""
        done: list[tuple[_Ticket, list[Change], list[EventRow]]] = []
        try:
            with self._atomic(min(batch, key=lambda ticket: ticket.deadline.at).deadline) as conn:
                # Catch up first, on the write transaction: the plans must see every
                # write committed before ours (and none can commit until we do).
                self._apply_rows(self._events(conn, "revision > ?", [self._state.revision]))
                state = self._state
                for ticket in batch:
                    try:
                        with transaction(conn):  # a savepoint: this write alone is undone if it fails
                            changes = ticket.plan(state)
                            with acting_as(ticket.actor):
                                rows, after = self._write_changes(conn, changes, state)
                    except RegistryError as exc:
                        if isinstance(exc, StoreError):
                            raise  # the database failed: the whole batch fails
                        ticket.error = exc  # this write broke a rule; the others go on
                    else:
                        state = after
                        done.append((ticket, changes, rows))
        except BaseException as exc:  # nothing was committed: every write in the batch failed
            for ticket in batch:
                if ticket.error is None:
                    ticket.error = exc
        else:
            for ticket, changes, rows in done:
                ticket.committed = self._apply_own(changes, rows)

    # -- writing one change ---------------------------------------------------------

    def _write_changes(
        self, conn: sqlite3.Connection, changes: list[Change], state: RegistryState
    ) -> tuple[list[EventRow], RegistryState]:
        """Write one write's changes in order, each on the state the ones before it left; the rows and that state."""
        rows = []
        for change in changes:
            row = self._write_change(conn, change, state)
            state = apply(state, change.stamped(row.at, row.actor), row.revision)
            rows.append(row)
        return rows, state

    def _write_change(self, conn: sqlite3.Connection, change: Change, state: RegistryState) -> EventRow:
        """Write one change (planned on ``state``) and its event row; return the row with the revision it got."""
        name, version = change.name, change.version
        at = datetime.now(UTC)
        stamp = at.isoformat()
        actor = current_actor.get()
        payload = None
        if change.kind == "registered":
            assert change.metadata is not None and version is not None
            payload = encode_metadata(change.metadata)
            conn.execute(
                "INSERT INTO models (name, created_at, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET updated_at = excluded.updated_at",
                (name, stamp, stamp),
            )
            self._insert_version(conn, name, version, parse_version(version).identity, payload, stamp, actor)
        else:
            if change.kind not in GOVERNANCE_KINDS:  # policies and requests leave the model's record as it is
                conn.execute("UPDATE models SET updated_at = ? WHERE name = ?", (stamp, name))
            payload = write_other(conn, change.stamped(at, actor), state, self._path)
        cursor = conn.execute(
            "INSERT INTO events (kind, name, version, alias, actor, at, payload) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (change.kind, name, version, change.alias, actor, stamp, payload),
        )
        assert cursor.lastrowid is not None
        return EventRow(cursor.lastrowid, change.kind, name, version, change.alias, actor, at, payload)

    @staticmethod
    def _insert_version(
        conn: sqlite3.Connection, name: str, version: str, identity: str, payload: str, at: str, actor: str | None
    ) -> None:
        try:
            conn.execute(
                "INSERT INTO versions (model_id, identity, version, metadata, registered_at, registered_by) "
                f"VALUES ({_MODEL_ID}, ?, ?, ?, ?, ?)",
                (name, identity, version, payload, at, actor),
            )
        except sqlite3.IntegrityError as exc:
            if exc.sqlite_errorname != "SQLITE_CONSTRAINT_UNIQUE":
                raise
            raise duplicate_version(name, version) from exc


def _data_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA data_version").fetchone()[0])


class _Ticket:
    """One queued write: its plan, its caller's actor, and what came of it."""

    __slots__ = ("actor", "committed", "deadline", "done", "error", "plan")

    def __init__(self, plan: Plan, actor: str | None, deadline: Deadline) -> None:
        self.plan = plan
        self.actor = actor
        self.deadline = deadline
        self.done = threading.Event()
        self.error: BaseException | None = None
        self.committed: Committed | None = None

    def outcome(self) -> Committed:
        """What the write committed, or its error raised in the caller's thread."""
        if self.error is not None:
            raise self.error
        assert self.committed is not None
        return self.committed
