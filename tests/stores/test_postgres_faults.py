"""PostgresRegistry under faults: reads staying fresh while a local write waits for the lock, damaged rows,
and pooled connections broken by a server restart."""

from __future__ import annotations

import threading
from typing import TypeVar

import psycopg
import pytest

from factories import finishes, metadata, wait_until
from fixtures.postgres_backend import Open, open_replica_fixture, sql_fixture  # noqa: F401
from modelreg import StoreError
from modelreg.stores import postgres
from modelreg.stores._pg_schema import WRITE_LOCK
from modelreg.stores._rows import encode_metadata
from modelreg.stores.postgres import PostgresRegistry

pytestmark = pytest.mark.postgres
T = TypeVar("T")


def _revisions(sql: psycopg.Connection[tuple[object, ...]]) -> list[object]:
    return [row[0] for row in sql.execute("SELECT revision FROM events ORDER BY revision")]


def _commit_around_the_lock(
    sql: psycopg.Connection[tuple[object, ...]], version: str, revision: int, *, notify: bool
) -> None:
    """Commit a registration of model 'm' as a replica would, but without waiting for the write lock."""
    payload = encode_metadata(metadata(version=version))
    with sql.transaction():
        sql.execute("INSERT INTO models (name) VALUES ('m') ON CONFLICT (name) DO NOTHING")
        sql.execute(
            "INSERT INTO versions (model_id, identity, version, metadata, registered_at) "
            "SELECT id, %s, %s, %s, now() FROM models WHERE name = 'm'",
            (version, version, payload),
        )
        sql.execute(
            "INSERT INTO events (revision, kind, name, version, at, payload) "
            "VALUES (%s, 'registered', 'm', %s, now(), %s)",
            (revision, version, payload),
        )
        if notify:
            sql.execute("SELECT pg_notify('modelreg_events', %s)", (str(revision),))


def test_reads_catch_up_while_a_local_write_waits_for_another_replicas_write_lock(
    open_replica: Open, sql: psycopg.Connection[tuple[object, ...]]
) -> None:
    registry = open_replica(poll_interval=600)  # within the test only NOTIFY or refresh() can catch it up
    sql.execute("SELECT pg_advisory_lock(%s)", (WRITE_LOCK,))  # as another replica's writer would hold it
    writer = threading.Thread(target=registry.register_model, args=("w", "1.0.0", metadata()))
    writer.start()
    try:
        assert wait_until(lambda: sql.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND application_name = 'modelreg'"
        ).fetchone() == (1,))

        _commit_around_the_lock(sql, "1.0.0", 1, notify=True)
        assert wait_until(lambda: registry.has_version("m", "1.0.0"), timeout=5.0)  # the watcher, woken
        _commit_around_the_lock(sql, "2.0.0", 2, notify=False)
        finishes(registry.refresh)
        assert registry.get_versions("m") == ["1.0.0", "2.0.0"]
        assert [e.revision for e in finishes(lambda: registry.history("m"))] == [1, 2]
    finally:
        sql.execute("SELECT pg_advisory_unlock(%s)", (WRITE_LOCK,))
        writer.join(timeout=30)
    assert [e.revision for e in registry.history("w")] == [3]  # checked against the latest state
    assert registry.revision == 3


@pytest.mark.parametrize("stored", ["{}", '{"version": "1.0.0"}', "[]"])
def test_stored_metadata_of_the_wrong_shape_is_a_store_error_naming_the_version(
    postgres_schema_url: str, sql: psycopg.Connection[tuple[object, ...]], stored: str
) -> None:
    with PostgresRegistry(postgres_schema_url) as registry:
        registry.register_model("m", "1.0.0", metadata())
    sql.execute("UPDATE versions SET metadata = %s", (stored,))

    with pytest.raises(StoreError, match=r"stored metadata of m 1\.0\.0 in PostgreSQL database .* is unreadable"):
        PostgresRegistry(postgres_schema_url)


def test_a_damaged_event_row_fails_catching_up_with_a_store_error_naming_it(
    open_replica: Open, sql: psycopg.Connection[tuple[object, ...]]
) -> None:
    registry = open_replica(poll_interval=600)
    sql.execute("INSERT INTO events (revision, kind, name, version, at, payload) "
                "VALUES (1, 'registered', 'm', '1.0.0', now(), '{}')")
    message = r"stored metadata of event 1 \(registered m 1\.0\.0\) in PostgreSQL database .* is unreadable"

    with pytest.raises(StoreError, match=message):
        registry.register_model("other", "1.0.0", metadata())
    with pytest.raises(StoreError, match=message):
        registry.refresh()
    assert registry.revision == 0
    assert _revisions(sql) == [1]


def _kill_pool_connections(sql: psycopg.Connection[tuple[object, ...]]) -> None:
    """Terminate the registries' pooled connections, as a server restart would, and wait until they are gone."""
    pids = [row[0] for row in sql.execute(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'modelreg'"
    )]
    assert pids
    sql.execute("SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) AS pid", (pids,))
    assert wait_until(lambda: sql.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", (pids,)).fetchone() == (0,))


def test_reads_are_retried_once_on_a_fresh_connection_when_the_pooled_one_is_broken(
    open_replica: Open, sql: psycopg.Connection[tuple[object, ...]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Skip the idle ping for the whole test, as for connections used just before a restart.
    monkeypatch.setattr(postgres, "_CHECK_IF_IDLE_FOR", 3600.0)
    registry = open_replica(min_size=2, poll_interval=600)
    registry.register_model("m", "1.0.0", metadata())
    assert len(registry.history("m")) == 1

    _kill_pool_connections(sql)
    assert [e.version for e in registry.history("m")] == ["1.0.0"]
    _kill_pool_connections(sql)
    _commit_around_the_lock(sql, "2.0.0", 2, notify=False)
    registry.refresh()
    assert registry.get_versions("m") == ["1.0.0", "2.0.0"]


def test_a_write_on_a_broken_connection_fails_and_is_not_retried(
    open_replica: Open, sql: psycopg.Connection[tuple[object, ...]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(postgres, "_CHECK_IF_IDLE_FOR", 3600.0)
    registry = open_replica(min_size=1, max_size=1, poll_interval=600)
    registry.register_model("m", "1.0.0", metadata())

    _kill_pool_connections(sql)
    with pytest.raises(StoreError, match="writing to") as caught:
        registry.register_model("m", "2.0.0", metadata())
    assert isinstance(caught.value.__cause__, psycopg.OperationalError)
    assert _revisions(sql) == [1]

    registry.register_model("m", "2.0.0", metadata())  # the broken connection was replaced
    assert _revisions(sql) == [1, 2]
