"""The schemas allow exactly the event kinds of ``events.EVENT_KINDS``: checked in their text and on real databases."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from fixtures.postgres_backend import Open, open_replica_fixture, sql_fixture  # noqa: F401
from modelreg.events import EVENT_KINDS
from modelreg.stores import _pg_schema, _sqlite_schema
from modelreg.stores._migrations import Migration, kinds_check
from modelreg.stores.sqlite import SqliteRegistry

_NOT_KINDS = ["renamed", "Registered", "registered ", ""]


def _newest_naming_kinds(migrations: tuple[Migration, ...]) -> str:
    naming = [s for m in migrations for s in m.statements if "kind IN" in s]
    assert naming, "no migration limits events.kind"
    return naming[-1]


@pytest.mark.parametrize("schema", [_sqlite_schema, _pg_schema], ids=["sqlite", "postgresql"])
def test_the_newest_migration_naming_event_kinds_holds_the_check_built_from_event_kinds(schema: Any) -> None:
    assert kinds_check() in _newest_naming_kinds(schema.MIGRATIONS)


def test_kinds_check_spells_each_kind_once() -> None:
    assert kinds_check(("a", "b")) == "CHECK (kind IN ('a', 'b'))"


def test_a_sqlite_events_table_takes_every_event_kind_and_refuses_any_other(tmp_path: Path) -> None:
    path = tmp_path / "reg.db"
    SqliteRegistry(path).close()
    with closing(sqlite3.connect(path)) as conn:
        for revision, kind in enumerate(EVENT_KINDS, 1):
            conn.execute("INSERT INTO events (revision, kind, name, at) VALUES (?, ?, 'm', 'now')", (revision, kind))
        for kind in _NOT_KINDS:
            with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
                conn.execute("INSERT INTO events (revision, kind, name, at) VALUES (99, ?, 'm', 'now')", (kind,))
        stored = [kind for (kind,) in conn.execute("SELECT kind FROM events ORDER BY revision")]
    assert stored == list(EVENT_KINDS)


@pytest.mark.postgres
def test_a_postgresql_events_table_takes_every_event_kind_and_refuses_any_other(open_replica: Open, sql: Any) -> None:
    import psycopg.errors

    open_replica().close()  # migrates the test's schema
    for revision, kind in enumerate(EVENT_KINDS, 1):
        sql.execute("INSERT INTO events (revision, kind, name, at) VALUES (%s, %s, 'm', now())", (revision, kind))
    for kind in _NOT_KINDS:
        with pytest.raises(psycopg.errors.CheckViolation):
            sql.execute("INSERT INTO events (revision, kind, name, at) VALUES (99, %s, 'm', now())", (kind,))
    stored = [kind for (kind,) in sql.execute("SELECT kind FROM events ORDER BY revision")]
    assert stored == list(EVENT_KINDS)
