"""SqliteRegistry under faults: damaged rows, a failed catch-up, and reads while a local write waits for the lock."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from contextlib import closing
from pathlib import Path
from typing import TypeVar

import pytest

from factories import finishes, metadata, wait_until
from modelreg import RegistryEvent, StoreError
from modelreg.stores._rows import EventRow
from modelreg.stores.sqlite import SqliteRegistry

T = TypeVar("T")


# -- damaged rows ----------------------------------------------------------------------------

_VALID = json.loads(metadata().with_version("1.0.0").to_json())


@pytest.mark.parametrize(
    "stored",
    [
        "{}",
        "[]",
        '"a string"',
        "not json",
        "[" * 100_000,
        json.dumps({**_VALID, "version": None}),
        json.dumps({**_VALID, "training_date": 20260105}),
        json.dumps({**_VALID, "training_date": "2026-01-05T12:30:00"}),  # naive: would be read as local time
        json.dumps({**_VALID, "performance_metrics": [0.9]}),
        json.dumps({**_VALID, "performance_metrics": {"top1": "high"}}),
        json.dumps({key: value for key, value in _VALID.items() if key != "tags"}),
    ],
)
def test_stored_metadata_of_the_wrong_shape_is_a_store_error_naming_the_version(tmp_path: Path, stored: str) -> None:
    path = tmp_path / "reg.db"
    with SqliteRegistry(path) as registry:
        registry.register_model("m", "1.0.0", metadata())
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("UPDATE versions SET metadata = ?", (stored,))

    with pytest.raises(StoreError, match=rf"stored metadata of m 1\.0\.0 in SQLite database {path} is unreadable"):
        SqliteRegistry(path)


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("payload", "{}", r"stored metadata of event 2 \(registered m 2\.0\.0\) in SQLite database .* is unreadable"),
        ("payload", None, r"event 2 \(registered m 2\.0\.0\) in SQLite database .* is malformed"),
        ("at", "yesterday", r"event 2 in SQLite database .* has an unreadable time 'yesterday'"),
    ],
)
def test_a_damaged_event_row_fails_catching_up_with_a_store_error_naming_it(
    tmp_path: Path, column: str, value: str | None, message: str
) -> None:
    path = tmp_path / "reg.db"
    with SqliteRegistry(path, poll_interval=3600) as stale, SqliteRegistry(path) as writer:
        writer.register_model("m", "1.0.0", metadata())
        stale.refresh()
        writer.register_model("m", "2.0.0", metadata())
        with closing(sqlite3.connect(path)) as conn, conn:
            conn.execute(f"UPDATE events SET {column} = ? WHERE revision = 2", (value,))

        with pytest.raises(StoreError, match=message):
            stale.register_model("other", "1.0.0", metadata())
        with pytest.raises(StoreError, match=message):
            stale.refresh()

        assert stale.revision == 1
        assert writer.history("other") == []  # the write was rolled back


# -- staying fresh ---------------------------------------------------------------------------


def test_a_change_is_seen_even_when_the_watchers_first_read_of_it_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "reg.db"
    with SqliteRegistry(path, poll_interval=0.02) as reader, SqliteRegistry(path) as writer:
        failed: list[int] = []
        read = reader._rows_after

        def fails_once(revision: int) -> list[EventRow]:  # fault injection: one transient read error
            if not failed:
                failed.append(revision)
                raise StoreError("injected: the disk hiccupped once")
            return read(revision)

        monkeypatch.setattr(reader, "_rows_after", fails_once)
        writer.register_model("m", "1.0.0", metadata())  # the only commit: nothing else would wake the watcher

        assert wait_until(lambda: reader.has_version("m", "1.0.0"), timeout=5.0)
        assert failed == [0]


def test_refresh_and_history_do_not_wait_for_a_local_write_waiting_on_another_process(tmp_path: Path) -> None:
    path = tmp_path / "reg.db"
    with (
        SqliteRegistry(path, poll_interval=3600, store_timeout=60) as registry,
        SqliteRegistry(path) as other,
        closing(sqlite3.connect(path, isolation_level=None)) as outside,
    ):
        other.register_model("m", "1.0.0", metadata())  # committed before the lock is taken; unseen by registry
        outside.execute("BEGIN IMMEDIATE")  # another process's write lock
        writer = threading.Thread(target=registry.register_model, args=("w", "1.0.0", metadata()))
        writer.start()
        try:
            # Our writer holds its process's write lock while it waits for the database's.
            assert wait_until(lambda: not _free(registry._write_lock))

            finishes(registry.refresh)
            assert registry.has_version("m", "1.0.0")
            assert [e.version for e in finishes(lambda: registry.history("m"))] == ["1.0.0"]
        finally:
            outside.execute("ROLLBACK")
            writer.join(timeout=30)
        assert registry.get_versions("w") == ["1.0.0"]
        assert [e.revision for e in registry.history("w")] == [2]


def test_the_watcher_catches_up_while_a_local_writer_holds_the_write_lock(tmp_path: Path) -> None:
    path = tmp_path / "reg.db"
    seen: list[RegistryEvent] = []
    with (
        SqliteRegistry(path, poll_interval=0.02) as registry,
        SqliteRegistry(path) as other,
        registry.subscribe(seen.append),
    ):
        with registry._write_lock:  # as a local write holds it while it waits for another process's lock
            other.register_model("m", "1.0.0", metadata())
            assert wait_until(lambda: registry.has_version("m", "1.0.0"), timeout=5.0)
        registry.register_model("m", "2.0.0", metadata())  # ours: seen first by the writer or by the watcher
        registry.refresh()
        assert wait_until(lambda: len(seen) >= 2)
    assert [(e.version, e.revision) for e in seen] == [("1.0.0", 1), ("2.0.0", 2)]  # each once


def test_concurrent_writes_to_a_file_locked_by_another_process_all_fail_within_store_timeout(tmp_path: Path) -> None:
    path = tmp_path / "reg.db"
    results: list[tuple[BaseException | None, float]] = []
    with (
        SqliteRegistry(path, store_timeout=1.0) as registry,
        closing(sqlite3.connect(path, isolation_level=None)) as outside,
    ):
        outside.execute("BEGIN IMMEDIATE")  # another process's write that never ends
        barrier = threading.Barrier(4)

        def write(version: str) -> None:
            barrier.wait()
            started = time.monotonic()
            try:
                registry.register_model("m", version, metadata())
                results.append((None, time.monotonic() - started))
            except BaseException as exc:
                results.append((exc, time.monotonic() - started))

        threads = [threading.Thread(target=write, args=(f"{i}.0.0",)) for i in range(1, 5)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        outside.execute("ROLLBACK")

        assert [type(error) for error, _ in results] == [StoreError] * 4, results
        # One batch waits for SQLite's busy timeout, the rest for the write lock behind it; today the
        # writes queued meanwhile commit (and here fail) as a second batch, a whole timeout later.
        assert max(seconds for _, seconds in results) < 1.6, results
        registry.register_model("m", "5.0.0", metadata())
        time.sleep(0.2)
        assert registry.get_versions("m") == ["5.0.0"]  # no write its caller was told failed came back
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("SELECT version FROM events").fetchall() == [("5.0.0",)]


def _free(lock: threading.RLock) -> bool:
    if lock.acquire(blocking=False):
        lock.release()
        return True
    return False
