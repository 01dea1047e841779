"""PostgresRegistry when the database is slow or gone: every write bounded by store_timeout and rolled back
past it, the outage logged once each way, writes resuming within about a second of the database's return."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import psycopg
import pytest

from factories import metadata, wait_until
from fixtures.postgres_backend import Open, open_replica_fixture, private_postgres, sql_fixture  # noqa: F401
from modelreg import StoreError
from modelreg.stores._pg_schema import WRITE_LOCK
from modelreg.stores.postgres import PostgresRegistry

pytestmark = pytest.mark.postgres


def _timed_writes(registry: PostgresRegistry, versions: list[str]) -> list[tuple[BaseException | None, float]]:
    """Register ``versions`` of model 'm' from one thread each, all at once; (error or None, seconds) each."""
    results: list[tuple[BaseException | None, float]] = [(None, 0.0)] * len(versions)
    barrier = threading.Barrier(len(versions))

    def write(i: int) -> None:
        barrier.wait()
        started = time.monotonic()
        try:
            registry.register_model("m", versions[i], metadata())
        except BaseException as exc:
            results[i] = (exc, time.monotonic() - started)
        else:
            results[i] = (None, time.monotonic() - started)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(len(versions))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def _events(sql: psycopg.Connection[tuple[object, ...]]) -> list[object]:
    return [row[0] for row in sql.execute("SELECT revision FROM events ORDER BY revision")]


def test_writes_waiting_for_another_replicas_lock_all_fail_within_store_timeout_and_commit_nothing_later(
    open_replica: Open, sql: psycopg.Connection[tuple[object, ...]]
) -> None:
    registry = open_replica(store_timeout=1.0)
    sql.execute("SELECT pg_advisory_lock(%s)", (WRITE_LOCK,))  # another replica's write that never ends
    try:
        # One waits for the database's lock, the others for this process's write lock behind it.
        results = _timed_writes(registry, ["1.0.0", "2.0.0", "3.0.0"])
    finally:
        sql.execute("SELECT pg_advisory_unlock(%s)", (WRITE_LOCK,))

    assert all(isinstance(error, StoreError) for error, _ in results), results
    assert all("store_timeout=1s" in str(error) for error, _ in results), results
    took = sorted(seconds for _, seconds in results)
    assert took[-1] < 3.0, took  # today the first waits for the lock as long as it is held
    time.sleep(0.5)
    assert _events(sql) == []  # rolled back: nothing committed once the lock was free
    registry.register_model("m", "4.0.0", metadata())
    assert registry.get_versions("m") == ["4.0.0"]
    assert _events(sql) == [1]


def test_a_write_cancelled_by_the_database_says_it_was_rolled_back(
    open_replica: Open, sql: psycopg.Connection[tuple[object, ...]]
) -> None:
    registry = open_replica(store_timeout=0.3)
    sql.execute("SELECT pg_advisory_lock(%s)", (WRITE_LOCK,))
    try:
        with pytest.raises(StoreError, match=r"not done within store_timeout=0\.3s, so rolled back") as caught:
            registry.register_model("m", "1.0.0", metadata())
    finally:
        sql.execute("SELECT pg_advisory_unlock(%s)", (WRITE_LOCK,))
    assert isinstance(caught.value.__cause__, psycopg.errors.QueryCanceled)
    assert registry.get_versions("m") == []
    assert _events(sql) == []


def test_a_write_waiting_for_this_processs_write_lock_gives_up_at_store_timeout(open_replica: Open) -> None:
    registry = open_replica(store_timeout=0.3)
    holder = threading.Thread(target=lambda: (registry._write_lock.acquire(), release.wait(),
                                              registry._write_lock.release()))
    release = threading.Event()
    holder.start()
    try:
        assert wait_until(lambda: not registry._write_lock.acquire(blocking=False))
        with pytest.raises(StoreError, match=r"after store_timeout=0\.3s waiting for this process's write lock"):
            registry.register_model("m", "1.0.0", metadata())
    finally:
        release.set()
        holder.join(timeout=10)
    assert registry.get_versions("m") == []


@pytest.mark.slow
def test_an_outage_fails_writes_fast_is_logged_once_each_way_and_writes_resume_within_seconds(
    private_postgres: Any, caplog: pytest.LogCaptureFixture  # noqa: F811
) -> None:
    caplog.set_level(logging.INFO, logger="modelreg")
    with PostgresRegistry(private_postgres.url, store_timeout=1.0) as registry:
        registry.register_model("m", "1.0.0", metadata())
        private_postgres.pause()
        try:
            results = _timed_writes(registry, ["2.0.0", "3.0.0", "4.0.0"])
            assert all(isinstance(error, StoreError) for error, _ in results), results
            assert max(seconds for _, seconds in results) < 3.0, results
            assert registry.get_versions("m") == ["1.0.0"]  # reads come from the snapshot
            assert wait_until(lambda: "store down" in caplog.text, timeout=5)
            started = time.monotonic()
            with pytest.raises(StoreError, match="has not answered"):
                registry.ping()  # known to be down: no wait for a connection
            assert time.monotonic() - started < 0.5
        finally:
            private_postgres.resume()
        back = time.monotonic()
        while True:
            try:
                registry.register_model("m", "5.0.0", metadata())
                break
            except StoreError:
                assert time.monotonic() - back < 30
        assert time.monotonic() - back < 5.0  # target ~1 s; minutes after a long outage today
        assert wait_until(lambda: "store back" in caplog.text, timeout=5)
        registry.ping()
        assert registry.get_versions("m") == ["1.0.0", "5.0.0"]

    ours = [record for record in caplog.records if record.name.startswith("modelreg")]
    assert [record.message.split(":")[0] for record in ours if record.levelno >= logging.WARNING] == [
        "store down", "store back"
    ], caplog.text
    assert not any(record.exc_info for record in ours)  # no traceback per retry
