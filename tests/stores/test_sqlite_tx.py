"""The SQLite transaction helper on a real file: nesting through savepoints, and cleanup that never hides the error."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from factories import metadata
from modelreg import StoreError
from modelreg.stores._sqlite_tx import transaction
from modelreg.stores.sqlite import SqliteRegistry


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    with closing(sqlite3.connect(tmp_path / "tx.db", isolation_level=None)) as conn:
        conn.execute("CREATE TABLE t (k INTEGER PRIMARY KEY)")
        yield conn


def _keys(conn: sqlite3.Connection) -> list[int]:
    return [k for (k,) in conn.execute("SELECT k FROM t ORDER BY k")]


def test_the_outermost_block_commits_and_a_nested_failure_undoes_only_its_own_work(conn: sqlite3.Connection) -> None:
    with transaction(conn, immediate=True):
        conn.execute("INSERT INTO t VALUES (1)")
        with pytest.raises(ZeroDivisionError), transaction(conn):
            conn.execute("INSERT INTO t VALUES (2)")
            raise ZeroDivisionError
        with transaction(conn):
            conn.execute("INSERT INTO t VALUES (3)")
        assert conn.in_transaction

    assert not conn.in_transaction
    assert _keys(conn) == [1, 3]


def test_an_error_in_the_outermost_block_rolls_everything_back(conn: sqlite3.Connection) -> None:
    with pytest.raises(KeyError), transaction(conn):
        conn.execute("INSERT INTO t VALUES (1)")
        with transaction(conn):
            conn.execute("INSERT INTO t VALUES (2)")
        raise KeyError("boom")

    assert not conn.in_transaction
    assert _keys(conn) == []


def test_an_error_after_sqlite_rolled_the_transaction_back_surfaces_unchanged(conn: sqlite3.Connection) -> None:
    # INSERT OR ROLLBACK makes SQLite end the whole transaction itself, savepoints and all
    # (as SQLITE_FULL or an interrupt can): the cleanup then has nothing left to release.
    conn.execute("INSERT INTO t VALUES (1)")
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"), transaction(conn, immediate=True):
        conn.execute("INSERT INTO t VALUES (2)")
        with transaction(conn):
            conn.execute("INSERT OR ROLLBACK INTO t VALUES (1)")

    assert not conn.in_transaction
    assert _keys(conn) == [1]


def test_a_write_that_sqlite_rolls_back_reports_its_own_cause(tmp_path: Path) -> None:
    path = tmp_path / "reg.db"
    with SqliteRegistry(path) as registry:
        registry.register_model("m", "1.0.0", metadata())
        with closing(sqlite3.connect(path)) as admin:  # a trigger that ends the write's whole transaction
            admin.execute(
                "CREATE TRIGGER refuse BEFORE INSERT ON versions WHEN NEW.version = '6.6.6' "
                "BEGIN SELECT RAISE(ROLLBACK, 'refused by a trigger'); END"
            )
            admin.commit()

        with pytest.raises(StoreError, match="refused by a trigger") as caught:
            registry.register_model("m", "6.6.6", metadata())

        assert isinstance(caught.value.__cause__, sqlite3.IntegrityError)
        registry.register_model("m", "2.0.0", metadata())  # the connection is usable afterwards
        assert registry.get_versions("m") == ["1.0.0", "2.0.0"]
        assert [e.revision for e in registry.events_after(0)] == [1, 2]
