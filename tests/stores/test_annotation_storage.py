"""Annotations and model records in the durable stores: migration 4 from a real schema-3 database,
what survives a reopen, and other processes' annotations replayed into a snapshot."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from factories import metadata, wait_until
from fixtures.postgres_backend import Open, open_replica_fixture, sql_fixture  # noqa: F401
from fixtures.sqlite_backend import replay_and_check
from modelreg import ModelRegistry, RegistryEvent, acting_as
from modelreg.events import EVENT_KINDS
from modelreg.stores import _pg_schema, _sqlite_schema
from modelreg.stores._rows import encode_metadata
from modelreg.stores.postgres import PostgresRegistry
from modelreg.stores.sqlite import SqliteRegistry

T1 = datetime(2026, 1, 1, tzinfo=UTC)
T2 = datetime(2026, 1, 2, tzinfo=UTC)
T3 = datetime(2026, 1, 3, tzinfo=UTC)
OLD = metadata(version="1.0.0")


def _annotate_some(registry: ModelRegistry) -> None:
    with acting_as("ci-bot"):
        registry.register_model("m", "1.0.0", metadata())
    registry.register_model("m", "2.0.0", metadata())
    registry.set_alias("m", "production", "1.0.0")
    registry.annotate("m", "1.0.0", description="eval done", add_metrics={"v2": 0.5}, remove_tags=["team"])
    registry.annotate_model("m", description="ResNet", set_tags={"owner": "vision"})


def _check_annotated(registry: ModelRegistry) -> None:
    meta = registry.get_metadata("m", "1.0.0")
    assert (meta.description, dict(meta.tags), meta.performance_metrics["v2"]) == ("eval done", {}, 0.5)
    info = registry.get_model("m")
    assert (info.description, dict(info.tags), info.version_count) == ("ResNet", {"owner": "vision"}, 2)
    history = registry.history("m")
    assert (info.created_at, info.updated_at) == (history[0].at, history[-1].at)
    records = {r.version: r for r in registry.search(name="m").items}
    assert records["1.0.0"].registered_by == "ci-bot" and records["2.0.0"].registered_by is None
    assert records["1.0.0"].registered_at == history[0].at
    assert records["1.0.0"].aliases == ("production",)
    assert [e.kind for e in history][-2:] == ["annotated", "model_annotated"]
    assert history[-1].detail == {"description": "ResNet", "set_tags": {"owner": "vision"}}


# -- SQLite ------------------------------------------------------------------------------


def _schema3_sqlite(path: Path) -> None:
    """A database as the previous release left it: migrations 1-3 and rows written by its statements."""
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)")
        for migration in _sqlite_schema.MIGRATIONS[:3]:
            for statement in migration.statements:
                conn.execute(statement)
            conn.execute("INSERT INTO schema_migrations VALUES (?, ?)", (migration.version, T1.isoformat()))
        conn.execute("INSERT INTO models (name) VALUES ('m')")
        for version, at in (("1.0.0", T1), ("1.1.0", T2)):
            conn.execute(
                "INSERT INTO versions (model_id, identity, version, metadata, registered_at) "
                "VALUES ((SELECT id FROM models WHERE name = 'm'), ?, ?, ?, ?)",
                (version, version, encode_metadata(OLD.with_version(version)), at.isoformat()),
            )
        conn.execute("INSERT INTO aliases VALUES ((SELECT id FROM models WHERE name = 'm'), 'production', '1.0.0')")
        conn.executemany(
            "INSERT INTO events (kind, name, version, alias, actor, at, payload) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                ("registered", "m", "1.0.0", None, "alice", T1.isoformat(), encode_metadata(OLD)),
                ("registered", "m", "1.1.0", None, None, T2.isoformat(), encode_metadata(OLD.with_version("1.1.0"))),
                ("alias_set", "m", "1.0.0", "production", "bob", T3.isoformat(), None),
            ],
        )
        conn.execute("COMMIT")


def test_a_schema_3_sqlite_file_is_migrated_on_open_keeping_every_event_and_filling_the_records(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.db"
    _schema3_sqlite(path)
    with SqliteRegistry(path) as registry:
        assert [(e.revision, e.kind, e.actor, e.at) for e in registry.history("m")] == [
            (1, "registered", "alice", T1), (2, "registered", None, T2), (3, "alias_set", "bob", T3),
        ]
        records = {r.version: (r.registered_at, r.registered_by, r.aliases) for r in registry.search().items}
        assert records == {"1.0.0": (T1, "alice", ("production",)), "1.1.0": (T2, None, ())}
        info = registry.get_model("m")
        assert (info.description, dict(info.tags), info.created_at, info.updated_at) == ("", {}, T1, T3)
        registry.annotate("m", "1.1.0", add_metrics={"late": 1.0})  # a new kind the old CHECK refused
        assert registry.history("m")[-1].revision == 4
    with closing(sqlite3.connect(path)) as conn:
        versions = [v for (v,) in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]
        indexes = {n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert versions == list(range(1, _sqlite_schema.SCHEMA_VERSION + 1)) and "events_by_name" in indexes
    replay_and_check(path)


def test_the_sqlite_events_table_takes_the_annotation_kinds_after_migration_4(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _schema3_sqlite(path)
    with closing(sqlite3.connect(path)) as conn, pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        conn.execute("INSERT INTO events (kind, name, at) VALUES ('annotated', 'm', 'now')")
    SqliteRegistry(path).close()
    with closing(sqlite3.connect(path)) as conn:
        for kind in EVENT_KINDS:
            conn.execute("INSERT INTO events (kind, name, at) VALUES (?, 'm', 'now')", (kind,))


def test_sqlite_annotations_and_records_survive_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "reg.db"
    with SqliteRegistry(path) as registry:
        _annotate_some(registry)
        before = (registry.search(), registry.get_model("m"))
        _check_annotated(registry)
    with SqliteRegistry(path) as registry:
        _check_annotated(registry)
        assert (registry.search(), registry.get_model("m")) == before
    replay_and_check(path)


def test_another_sqlite_registrys_annotations_reach_this_one_by_the_watcher(tmp_path: Path) -> None:
    path = tmp_path / "reg.db"
    with SqliteRegistry(path) as reader, SqliteRegistry(path) as writer:
        seen: list[RegistryEvent] = []
        with reader.subscribe(seen.append):
            _annotate_some(writer)
            assert wait_until(lambda: len(seen) >= 5)
        _check_annotated(reader)
        assert reader.search() == writer.search() and reader.get_model("m") == writer.get_model("m")
        assert seen == writer.history("m")


ANNOTATOR = """
import sys
from modelreg.stores.sqlite import SqliteRegistry
with SqliteRegistry(sys.argv[1]) as registry:
    registry.annotate("m", "1.0.0", add_metrics={"from_child": 2.0}, set_tags={"by": "child"})
    registry.annotate_model("m", description="child's")
"""


def test_an_annotation_made_by_another_process_is_replayed_into_this_snapshot(tmp_path: Path) -> None:
    path = tmp_path / "reg.db"
    with SqliteRegistry(path) as registry:
        registry.register_model("m", "1.0.0", metadata())
        subprocess.run([sys.executable, "-c", ANNOTATOR, str(path)], check=True, timeout=60)
        registry.refresh()
        meta = registry.get_metadata("m", "1.0.0")
        assert (meta.performance_metrics["from_child"], meta.tags["by"]) == (2.0, "child")
        assert registry.get_model("m").description == "child's"
        assert registry.search("metrics.from_child = 2").total == 1


def test_a_write_catches_up_with_another_registrys_annotation_before_it_plans(tmp_path: Path) -> None:
    path = tmp_path / "reg.db"
    with SqliteRegistry(path, poll_interval=3600) as stale, SqliteRegistry(path) as other:
        stale.register_model("m", "1.0.0", metadata())
        other.refresh()
        other.annotate("m", "1.0.0", add_metrics={"theirs": 1.0})
        assert "theirs" not in stale.get_metadata("m", "1.0.0").performance_metrics  # its watcher sleeps
        mine = stale.annotate("m", "1.0.0", add_metrics={"mine": 2.0})
        assert {"theirs", "mine"} <= set(mine.performance_metrics)
    with SqliteRegistry(path) as reopened:
        assert reopened.get_metadata("m", "1.0.0") == mine
    replay_and_check(path)


# -- PostgreSQL ----------------------------------------------------------------------------


@pytest.mark.postgres
def test_a_schema_3_postgresql_database_is_migrated_on_open_and_fills_the_records(
    postgres_schema_url: str, sql: psycopg.Connection[tuple[Any, ...]]
) -> None:
    assert _pg_schema.migrate(sql, "test database", upto=3) == [1, 2, 3]
    sql.execute("INSERT INTO models (name) VALUES ('m')")
    sql.execute(
        "INSERT INTO versions (model_id, identity, version, metadata, registered_at) "
        "SELECT id, '1.0.0', '1.0.0', %s, %s FROM models",
        (encode_metadata(OLD), T1),
    )
    sql.execute(
        "INSERT INTO events (revision, kind, name, version, alias, actor, at, payload) VALUES "
        "(1, 'registered', 'm', '1.0.0', NULL, 'alice', %s, %s), "
        "(2, 'alias_set', 'm', '1.0.0', 'prod', 'bob', %s, NULL)",
        (T1, encode_metadata(OLD), T3),
    )
    sql.execute("INSERT INTO aliases (model_id, alias, identity) SELECT id, 'prod', '1.0.0' FROM models")
    with PostgresRegistry(postgres_schema_url) as registry:
        (record,) = registry.search().items
        assert (record.registered_at, record.registered_by, record.aliases) == (T1, "alice", ("prod",))
        info = registry.get_model("m")
        assert (info.created_at, info.updated_at, info.description) == (T1, T3, "")
        registry.annotate("m", "1.0.0", add_metrics={"late": 1.0})
        assert [e.kind for e in registry.history("m")] == ["registered", "alias_set", "annotated"]
    migrations = [v for (v,) in sql.execute("SELECT version FROM schema_migrations ORDER BY version")]
    assert migrations == list(range(1, _pg_schema.SCHEMA_VERSION + 1))


@pytest.mark.postgres
def test_postgresql_annotations_and_records_survive_a_reopen(open_replica: Open) -> None:
    with open_replica() as registry:
        _annotate_some(registry)
        before = (registry.search(), registry.get_model("m"))
    with open_replica() as registry:
        _check_annotated(registry)
        assert (registry.search(), registry.get_model("m")) == before


@pytest.mark.postgres
def test_another_replicas_annotations_reach_this_one(open_replica: Open) -> None:
    reader, writer = open_replica(), open_replica()
    seen: list[RegistryEvent] = []
    with reader.subscribe(seen.append):
        _annotate_some(writer)
        assert wait_until(lambda: len(seen) >= 5)
    _check_annotated(reader)
    assert reader.search() == writer.search() and reader.get_model("m") == writer.get_model("m")


@pytest.mark.postgres
def test_a_replica_write_after_another_replicas_annotation_keeps_both(open_replica: Open) -> None:
    first, second = open_replica(), open_replica()
    first.register_model("m", "1.0.0", metadata())
    second.refresh()
    second.annotate("m", "1.0.0", add_metrics={"theirs": 1.0})
    mine = first.annotate("m", "1.0.0", add_metrics={"mine": 2.0})
    assert {"theirs", "mine"} <= set(mine.performance_metrics)
    with open_replica() as reopened:
        assert reopened.get_metadata("m", "1.0.0") == mine


@pytest.mark.postgres
def test_the_version_row_holds_the_annotated_metadata_exactly(
    open_replica: Open, sql: psycopg.Connection[tuple[Any, ...]]
) -> None:
    with open_replica() as registry:
        registry.register_model("m", "1.0.0", metadata(hyperparameters={"big": 1e300}))
        new = registry.annotate("m", "1.0.0", add_metrics={"tiny": 5e-324})
    (text,) = sql.execute("SELECT metadata::text FROM versions").fetchone() or ()
    assert text == encode_metadata(new)
