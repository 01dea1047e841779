"""The one way SQLite transactions are opened here: ``transaction()``, nested through savepoints.

In the style of sqlite-utils' ``Database.atomic``: the outermost block runs
``BEGIN`` (or ``BEGIN IMMEDIATE``) ... ``COMMIT``, a nested one ``SAVEPOINT`` ...
``RELEASE``; an exception rolls the block back and propagates. The connection
must be in autocommit mode (``isolation_level=None``), so that Python's sqlite3
never opens or commits a transaction behind our back.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["rollback", "transaction"]

_log = logging.getLogger("modelreg.stores")
_SAVEPOINT = "modelreg"


@contextmanager
def transaction(conn: sqlite3.Connection, *, immediate: bool = False) -> Iterator[sqlite3.Connection]:
    """A transaction on ``conn``, or a savepoint inside the one already open; committed when the block ends.

    ``immediate`` takes the database's write lock at ``BEGIN`` (outermost level
    only): writers then queue for it instead of deadlocking on a lock upgrade.
    On an exception the block's work is undone and the exception propagates
    unchanged, even when SQLite itself already rolled the transaction back
    (SQLITE_FULL, an interrupt, ``INSERT OR ROLLBACK``): then there is nothing
    left to undo, and a failing cleanup must not hide the error that caused it.
    """
    if conn.in_transaction:
        with _savepoint(conn):
            yield conn
        return
    conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        rollback(conn)
        raise


@contextmanager
def _savepoint(conn: sqlite3.Connection) -> Iterator[None]:
    # One fixed name: RELEASE and ROLLBACK TO act on the newest savepoint of that name, which is
    # this block's however deep the nesting; and a fixed text keeps sqlite3's statement cache warm.
    name = _SAVEPOINT
    conn.execute(f"SAVEPOINT {name}")
    try:
        yield
        conn.execute(f"RELEASE {name}")
    except BaseException:
        # ROLLBACK TO keeps the savepoint open; RELEASE then drops it, keeping the outer transaction.
        if conn.in_transaction and _quietly(conn, f"ROLLBACK TO {name}"):
            _quietly(conn, f"RELEASE {name}")
        raise


def rollback(conn: sqlite3.Connection) -> None:
    """Roll back an open transaction, keeping the caller's error if rolling back fails too."""
    if conn.in_transaction:  # False when SQLite already rolled it back on its own
        _quietly(conn, "ROLLBACK")


def _quietly(conn: sqlite3.Connection, statement: str) -> bool:
    """Run a cleanup statement; log its failure instead of raising it over the error being handled."""
    try:
        conn.execute(statement)
    except sqlite3.Error:
        _log.exception("%s failed; SQLite rolls the transaction back when the connection closes", statement)
        return False
    return True
