"""Governance in the durable stores under contention and across a schema upgrade: racing final approvals move
the alias exactly once, and migration 5 keeps every row and revision of a schema-4 database."""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from governance_stores import GATES, Store, add_versions, store_fixture  # noqa: F401

from factories import metadata
from fixtures.postgres_backend import Open, open_replica_fixture, sql_fixture  # noqa: F401
from fixtures.sqlite_backend import replay_and_check
from modelreg import PolicyError, acting_as
from modelreg.events import EVENT_KINDS, GOVERNANCE_KINDS
from modelreg.stores import _pg_schema, _sqlite_schema
from modelreg.stores._rows import encode_detail, encode_metadata
from modelreg.stores.sqlite import SqliteRegistry

APPROVERS = 8


def test_racing_final_approvals_from_two_registries_move_the_alias_exactly_once(store: Store) -> None:
    registries = [store.open(), store.open()]
    first = registries[0]
    add_versions(first)
    first.set_alias_policy("resnet50", "production", GATES)
    with acting_as("ci"):
        request = first.request_promotion("resnet50", "production", "1.5.0")
    with acting_as("alice"):
        first.approve_promotion(request.id)  # one more makes it final
    registries[1].refresh()
    barrier = threading.Barrier(APPROVERS, timeout=30)
    outcomes: dict[str, str] = {}

    def approve(i: int) -> None:
        actor = f"approver-{i}"
        barrier.wait()
        try:
            with acting_as(actor):
                registries[i % 2].approve_promotion(request.id)
            outcomes[actor] = "moved"
        except PolicyError as exc:
            outcomes[actor] = "approved already" if "approved already" in exc.message else exc.message
        except Exception as exc:
            outcomes[actor] = repr(exc)

    threads = [threading.Thread(target=approve, args=(i,)) for i in range(APPROVERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert Counter(outcomes.values()) == {"moved": 1, "approved already": APPROVERS - 1}, outcomes
    (winner,) = [actor for actor, outcome in outcomes.items() if outcome == "moved"]
    for registry in registries:
        registry.refresh()
        assert registry.get_aliases("resnet50")["production"] == "1.5.0"
        done = registry.get_promotion(request.id)
        assert (done.state, done.approvals, done.decided_by) == ("approved", ("alice", winner), winner)
    history = first.history("resnet50")
    moves = [e for e in history if e.kind == "alias_set" and e.alias == "production"]
    assert [e.version for e in moves] == ["1.4.2", "1.5.0"] and moves[-1].actor == winner
    approvals = [e for e in history if e.kind == "promotion_approved"]
    assert [(e.actor, e.detail and e.detail["final"]) for e in approvals] == [("alice", False), (winner, True)]
    assert approvals[-1].revision + 1 == moves[-1].revision  # the final approval and the move: one write
    store.check()


# -- migration 5 from a real schema-4 database ----------------------------------------------------------------

T1, T2, T3 = (datetime(2026, 1, day, tzinfo=UTC) for day in (1, 2, 3))
OLD = metadata(version="1.0.0")
CHECKED = metadata(version="1.0.0", description="checked")
# (kind, version, alias, actor, at, payload) of a schema-4 registry's events, all of model m.
EVENTS_4 = [
    ("registered", "1.0.0", None, "alice", T1, encode_metadata(OLD)),
    ("alias_set", "1.0.0", "production", "bob", T2, None),
    ("annotated", "1.0.0", None, "carol", T3, encode_detail({"description": "checked"})),
    ("model_annotated", None, None, None, T3, encode_detail({"set_tags": {"owner": "vision"}})),
]
KEPT = [(1, "registered", "alice"), (2, "alias_set", "bob"), (3, "annotated", "carol"), (4, "model_annotated", None)]
_TABLES = {
    "events": "revision, kind, name, version, alias, actor, at, payload",
    "versions": "id, model_id, identity, version, metadata, registered_at, registered_by",
    "aliases": "model_id, alias, identity",
    "models": "id, name, description, tags, created_at, updated_at",
    "store_identity": "id",
}


def _rows(conn: Any, cast: str = "") -> dict[str, list[tuple[Any, ...]]]:
    return {
        table: list(conn.execute(f"SELECT {columns.replace('payload', 'payload' + cast)} FROM {table} ORDER BY 1"))
        for table, columns in _TABLES.items()
    }


def _schema4_sqlite(path: Path) -> None:
    """A file as the previous release left it: migrations 1-4 (their DDL unchanged) and rows its writes made."""
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)")
        for migration in _sqlite_schema.MIGRATIONS[:4]:
            for statement in migration.statements:
                conn.execute(statement)
            conn.execute("INSERT INTO schema_migrations VALUES (?, ?)", (migration.version, T1.isoformat()))
        conn.execute(
            "INSERT INTO models (name, description, tags, created_at, updated_at) "
            "VALUES ('m', '', '{\"owner\":\"vision\"}', ?, ?)",
            (T1.isoformat(), T3.isoformat()),
        )
        conn.execute(
            "INSERT INTO versions (model_id, identity, version, metadata, registered_at, registered_by) "
            "VALUES (1, '1.0.0', '1.0.0', ?, ?, 'alice')",
            (encode_metadata(CHECKED), T1.isoformat()),
        )
        conn.execute("INSERT INTO aliases VALUES (1, 'production', '1.0.0')")
        conn.executemany(
            "INSERT INTO events (kind, name, version, alias, actor, at, payload) VALUES (?, 'm', ?, ?, ?, ?, ?)",
            [(kind, version, alias, actor, at.isoformat(), payload) for kind, version, alias, actor, at, payload
             in EVENTS_4],
        )
        conn.execute("COMMIT")


def test_a_schema_4_sqlite_file_is_migrated_to_5_keeping_every_row_and_revision(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _schema4_sqlite(path)
    with closing(sqlite3.connect(path)) as conn:
        before = _rows(conn)
        with pytest.raises(sqlite3.IntegrityError, match="CHECK"):  # migration 4's CHECK, as it shipped
            conn.execute("INSERT INTO events (kind, name, alias, at) VALUES ('policy_set', 'm', 'production', 'now')")
    with SqliteRegistry(path) as registry:
        assert [(e.revision, e.kind, e.actor) for e in registry.history("m")] == KEPT
        assert registry.get_metadata("m", "1.0.0").description == "checked"
        registry.set_alias_policy("m", "production", GATES)  # a kind the old CHECK refused
        assert registry.history("m")[-1].revision == 5
    with closing(sqlite3.connect(path)) as conn:
        after = _rows(conn)
        migrations = [v for (v,) in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]
        indexes = {n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    # 5 and every later migration (6: webhooks) ran
    assert migrations == list(range(1, _sqlite_schema.SCHEMA_VERSION + 1)) and "events_by_name" in indexes
    assert {table: rows for table, rows in after.items() if table != "events"} == {
        table: rows for table, rows in before.items() if table != "events"
    }
    assert after["events"][:4] == before["events"] and after["events"][4][1] == "policy_set"
    assert replay_and_check(path).policies == {("m", "production"): GATES}


@pytest.mark.postgres
def test_a_schema_4_postgresql_database_is_migrated_to_5_keeping_every_row_and_revision(
    open_replica: Open, sql: psycopg.Connection[tuple[Any, ...]]
) -> None:
    assert _pg_schema.migrate(sql, "test database", upto=4) == [1, 2, 3, 4]
    sql.execute(
        "INSERT INTO models (name, tags, created_at, updated_at) VALUES ('m', '{\"owner\":\"vision\"}', %s, %s)",
        (T1, T3),
    )
    sql.execute(
        "INSERT INTO versions (model_id, identity, version, metadata, registered_at, registered_by) "
        "SELECT id, '1.0.0', '1.0.0', %s, %s, 'alice' FROM models",
        (encode_metadata(CHECKED), T1),
    )
    sql.execute("INSERT INTO aliases (model_id, alias, identity) SELECT id, 'production', '1.0.0' FROM models")
    for revision, (kind, version, alias, actor, at, payload) in enumerate(EVENTS_4, 1):
        sql.execute(
            "INSERT INTO events (revision, kind, name, version, alias, actor, at, payload) "
            "VALUES (%s, %s, 'm', %s, %s, %s, %s, %s)",
            (revision, kind, version, alias, actor, at, payload),
        )
    before = _rows(sql, "::text")
    with pytest.raises(psycopg.errors.CheckViolation):  # migration 4's CHECK, as it shipped
        sql.execute("INSERT INTO events (revision, kind, name, alias, at) VALUES (9, 'policy_set', 'm', 'p', now())")
    with open_replica() as registry:
        assert [(e.revision, e.kind, e.actor) for e in registry.history("m")] == KEPT
        registry.set_alias_policy("m", "production", GATES)
    after = _rows(sql, "::text")
    migrations = [v for (v,) in sql.execute("SELECT version FROM schema_migrations ORDER BY version")]
    assert migrations == list(range(1, _pg_schema.SCHEMA_VERSION + 1))  # 5 and every later migration (6: webhooks)
    assert {t: rows for t, rows in after.items() if t != "events"} == {t: r for t, r in before.items() if t != "events"}
    assert after["events"][:4] == before["events"] and after["events"][4][1] == "policy_set"
    with open_replica() as reopened:
        assert reopened.get_alias_policy("m", "production") == GATES


@pytest.mark.parametrize("schema", [_sqlite_schema, _pg_schema], ids=["sqlite", "postgresql"])
def test_migration_5_admits_the_governance_kinds_and_migration_4_keeps_the_kinds_it_shipped_with(schema: Any) -> None:
    fourth, fifth = (" ".join(m.statements) for m in schema.MIGRATIONS[3:5])
    assert all(f"'{kind}'" in fourth for kind in EVENT_KINDS[:6])
    assert not any(f"'{kind}'" in fourth for kind in GOVERNANCE_KINDS)
    assert all(f"'{kind}'" in fifth for kind in EVENT_KINDS)
