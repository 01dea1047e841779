"""SqliteRegistry in one process: URLs, schema and migrations, the database's own checks, errors, catching up."""

from __future__ import annotations

import os
import sqlite3
import threading
from contextlib import closing
from pathlib import Path

import pytest

from factories import metadata, wait_until
from fixtures.sqlite_backend import replay_and_check
from modelreg import (
    DuplicateVersionError,
    MemoryRegistry,
    RegistryError,
    RegistryEvent,
    StoreError,
    acting_as,
    open_registry,
)
from modelreg.stores._sqlite_schema import SCHEMA_VERSION
from modelreg.stores.sqlite import SqliteRegistry, sqlite_path_from_url

# -- URLs and options --------------------------------------------------------------------


def test_url_path_after_the_third_slash_is_used_as_written(tmp_path: Path) -> None:
    assert sqlite_path_from_url(f"sqlite:///{tmp_path}/reg.db") == f"{tmp_path}/reg.db"  # four slashes: absolute
    assert sqlite_path_from_url("sqlite:///reg.db") == "reg.db"
    assert sqlite_path_from_url("sqlite:///dir/my%20reg.db") == "dir/my reg.db"


def test_relative_url_opens_a_file_under_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with SqliteRegistry.from_url("sqlite:///nested/reg.db") as registry:
        registry.register_model("m", "1.0.0", metadata())
        assert registry.path == str(tmp_path / "nested" / "reg.db")
    assert (tmp_path / "nested" / "reg.db").is_file()


def test_open_registry_opens_sqlite_urls_with_options(tmp_path: Path) -> None:
    registry = open_registry(f"sqlite:///{tmp_path}/a/b/reg.db", poll_interval=0.5, store_timeout=1)
    assert isinstance(registry, SqliteRegistry)
    with registry:
        assert registry.path == str(tmp_path / "a" / "b" / "reg.db")  # parent directories were created


def test_in_memory_databases_are_refused_with_the_reason() -> None:
    with pytest.raises(RegistryError, match=r"name a file .*memory://"):
        SqliteRegistry.from_url("sqlite:///:memory:")
    with pytest.raises(RegistryError, match=r"name a file .*memory://"):
        SqliteRegistry(":memory:")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("sqlite://host/reg.db", "expected sqlite:///relative"),
        ("sqlite:/reg.db", "expected sqlite:///relative"),
        ("sqlite:///", "names no file"),
        ("sqlite:///reg.db?timeout=5", "keyword arguments"),
    ],
)
def test_malformed_urls_are_refused_with_the_accepted_forms(url: str, message: str) -> None:
    with pytest.raises(RegistryError, match=message):
        SqliteRegistry.from_url(url)


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"poll_interval": 0}, ValueError, r"poll_interval must be a number of seconds >= 0.001, not 0"),
        ({"poll_interval": float("nan")}, ValueError, "poll_interval must be a number of seconds >= 0.001"),
        ({"store_timeout": 0}, ValueError, r"store_timeout must be a number of seconds >= 0.001, not 0"),
        ({"poll_interval": True}, TypeError, "poll_interval must be a number of seconds, not bool"),
        ({"store_timeout": "5"}, TypeError, "store_timeout must be a number of seconds, not str"),
    ],
)
def test_invalid_options_are_refused_naming_the_option_and_the_accepted_values(
    tmp_path: Path, options: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        SqliteRegistry(tmp_path / "reg.db", **options)  # type: ignore[arg-type]
    assert not (tmp_path / "reg.db").exists()


def test_a_file_that_is_not_a_database_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(b"these are my notes, not a database" * 100)

    with pytest.raises(StoreError, match="not an SQLite database") as caught:
        SqliteRegistry(path)
    assert isinstance(caught.value.__cause__, sqlite3.DatabaseError)


# -- schema and migrations ----------------------------------------------------------------


def test_a_new_file_uses_wal_and_records_every_migration(tmp_path: Path) -> None:
    path = tmp_path / "reg.db"
    with SqliteRegistry(path) as registry:
        conn = registry._conn  # per-connection settings can only be read on the connection itself
        assert conn is not None
        assert conn.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL
        assert conn.execute("PRAGMA foreign_keys").fetchone() == (1,)
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert [v for (v,) in conn.execute("SELECT version FROM schema_migrations ORDER BY version")] == list(
            range(1, SCHEMA_VERSION + 1)
        )


# The schema as migration 1 left it, frozen here: this is what an old install has on disk.
SCHEMA_1 = [
    "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)",
    "INSERT INTO schema_migrations VALUES (1, '2026-01-01T00:00:00+00:00')",
    "CREATE TABLE models (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)",
    """CREATE TABLE versions (id INTEGER PRIMARY KEY, model_id INTEGER NOT NULL REFERENCES models (id),
        identity TEXT NOT NULL, version TEXT NOT NULL, metadata TEXT NOT NULL, registered_at TEXT NOT NULL,
        UNIQUE (model_id, identity))""",
    """CREATE TABLE aliases (model_id INTEGER NOT NULL REFERENCES models (id), alias TEXT NOT NULL,
        identity TEXT NOT NULL, PRIMARY KEY (model_id, alias),
        FOREIGN KEY (model_id, identity) REFERENCES versions (model_id, identity))""",
    """CREATE TABLE events (revision INTEGER PRIMARY KEY, kind TEXT NOT NULL
        CHECK (kind IN ('registered', 'unregistered', 'alias_set', 'alias_removed')),
        name TEXT NOT NULL, version TEXT, alias TEXT, at TEXT NOT NULL, payload TEXT)""",
]


def _make_schema_1_database(path: Path) -> str:
    """A database made by schema 1, holding one version with an alias; returns the metadata JSON."""
    meta = metadata(artifact_path="s3://old/1.2.0+b7").with_version("1.2.0+b7").to_json()
    at = "2026-01-02T03:04:05.000006+00:00"
    with closing(sqlite3.connect(path)) as conn, conn:
        for statement in SCHEMA_1:
            conn.execute(statement)
        conn.execute("INSERT INTO models VALUES (1, 'resnet')")
        conn.execute("INSERT INTO versions VALUES (1, 1, '1.2.0', '1.2.0+b7', ?, ?)", (meta, at))
        conn.execute("INSERT INTO aliases VALUES (1, 'production', '1.2.0')")
        conn.execute("INSERT INTO events VALUES (1, 'registered', 'resnet', '1.2.0+b7', NULL, ?, ?)", (at, meta))
        conn.execute("INSERT INTO events VALUES (2, 'alias_set', 'resnet', '1.2.0+b7', 'production', ?, NULL)", (at,))
    return meta


def test_a_database_made_by_schema_1_is_migrated_on_open_with_its_data_intact(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    meta = _make_schema_1_database(path)

    with SqliteRegistry(path) as registry:
        assert registry.get_versions("resnet") == ["1.2.0+b7"]
        assert registry.get_metadata("resnet", "1.2.0").to_json() == meta
        assert registry.resolve("resnet", "production") == "1.2.0+b7"
        assert [(e.kind, e.revision, e.actor) for e in registry.history("resnet")] == [
            ("registered", 1, None), ("alias_set", 2, None)]
        with acting_as("ci-bot"):
            registry.register_model("resnet", "1.3.0", metadata())  # uses the new actor column
        assert registry.history("resnet")[-1].actor == "ci-bot"
        with pytest.raises(DuplicateVersionError):
            registry.register_model("resnet", "1.2.0+other", metadata())

    with closing(sqlite3.connect(path)) as conn:
        assert [v for (v,) in conn.execute("SELECT version FROM schema_migrations ORDER BY version")] == list(
            range(1, SCHEMA_VERSION + 1)
        )
        indexes = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert "events_by_name" in indexes
    replay_and_check(path)


def test_the_store_id_is_kept_in_the_file_and_new_in_a_recreated_one(tmp_path: Path) -> None:
    path = tmp_path / "reg.db"
    with SqliteRegistry(path) as registry:
        first = registry.store_id
        with SqliteRegistry(path) as other:  # another opening at the same time: the same store
            assert other.store_id == first
    assert len(first) == 32 and int(first, 16) >= 0
    with SqliteRegistry(path) as reopened:
        assert reopened.store_id == first
    path.unlink()
    with SqliteRegistry(path) as recreated:
        assert recreated.store_id != first


def test_a_database_migrated_from_schema_1_gets_a_store_id(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _make_schema_1_database(path)
    with SqliteRegistry(path) as registry:
        made = registry.store_id
    with SqliteRegistry(path) as registry:
        assert registry.store_id == made


def test_an_emptied_store_identity_table_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "reg.db"
    SqliteRegistry(path).close()
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("DELETE FROM store_identity")

    with pytest.raises(StoreError, match="0 rows in its store_identity table, not the one id"):
        SqliteRegistry(path)


def test_a_database_newer_than_the_code_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    with SqliteRegistry(path) as registry:
        registry.register_model("m", "1.0.0", metadata())
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("INSERT INTO schema_migrations VALUES (?, '2030-01-01')", (SCHEMA_VERSION + 1,))

    with pytest.raises(StoreError, match=rf"schema version {SCHEMA_VERSION + 1}, newer .* upgrade modelreg"):
        SqliteRegistry(path)
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("SELECT count(*) FROM versions").fetchone() == (1,)


# -- what the database itself enforces ------------------------------------------------------


def test_versions_differing_only_in_build_metadata_collide_in_the_database_itself(tmp_path: Path) -> None:
    path = tmp_path / "reg.db"
    with SqliteRegistry(path) as registry:
        registry.register_model("m", "1.0.0+a", metadata())

    with closing(sqlite3.connect(path)) as conn, pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
        conn.execute(
            "INSERT INTO versions (model_id, identity, version, metadata, registered_at) "
            "SELECT model_id, '1.0.0', '1.0.0+b', metadata, registered_at FROM versions"
        )


def test_a_duplicate_the_snapshot_missed_is_refused_by_the_database_as_duplicate_version(tmp_path: Path) -> None:
    path = tmp_path / "reg.db"
    with SqliteRegistry(path, poll_interval=3600) as registry:
        registry.register_model("m", "1.0.0", metadata())
        with closing(sqlite3.connect(path)) as conn, conn:  # a row the events never mention
            conn.execute("INSERT INTO versions (model_id, identity, version, metadata, registered_at) "
                         "SELECT model_id, '2.0.0', '2.0.0', metadata, registered_at FROM versions")

        with pytest.raises(DuplicateVersionError, match="2.0.0") as caught:
            registry.register_model("m", "2.0.0+x", metadata())

        assert isinstance(caught.value.__cause__, sqlite3.IntegrityError)
        assert caught.value.name == "m"
        assert registry.get_versions("m") == ["1.0.0"]
        assert [e.kind for e in registry.history("m")] == ["registered"]  # the event was rolled back too


def test_a_write_that_fails_midway_leaves_no_trace(tmp_path: Path) -> None:
    path = tmp_path / "reg.db"
    with SqliteRegistry(path) as registry:
        registry.register_model("m", "1.0.0", metadata())
        with closing(sqlite3.connect(path)) as conn, conn:  # the version row goes in, then the event fails
            conn.execute(
                "CREATE TRIGGER no_events BEFORE INSERT ON events BEGIN SELECT RAISE(ABORT, 'disk on fire'); END"
            )

        with pytest.raises(StoreError, match="disk on fire") as caught:
            registry.register_model("m", "2.0.0", metadata())

        assert isinstance(caught.value.__cause__, sqlite3.IntegrityError)
        assert registry.get_versions("m") == ["1.0.0"]
        with closing(sqlite3.connect(path)) as conn, conn:
            assert conn.execute("SELECT count(*) FROM versions").fetchone() == (1,)
            conn.execute("DROP TRIGGER no_events")
        registry.register_model("m", "2.0.0", metadata())  # the connection is usable again
        assert registry.revision == 2
    replay_and_check(path)


def test_a_write_lock_held_too_long_is_a_store_error_and_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "reg.db"
    with (
        SqliteRegistry(path, store_timeout=0.05) as registry,
        closing(sqlite3.connect(path, isolation_level=None)) as other,
    ):
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(StoreError, match=r"locked .*gave up at store_timeout=0.05s") as caught:
            registry.register_model("m", "1.0.0", metadata())
        assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
        other.execute("ROLLBACK")

        assert registry.get_versions("m") == []
        registry.register_model("m", "1.0.0", metadata())
        assert registry.get_versions("m") == ["1.0.0"]


def test_the_model_row_goes_with_its_last_version(tmp_path: Path) -> None:
    path = tmp_path / "reg.db"
    with SqliteRegistry(path) as registry:
        registry.register_model("m", "1.0.0", metadata())
        registry.register_model("m", "2.0.0", metadata())
        registry.set_alias("m", "production", "2.0.0")
        registry.unregister_model("m", "1.0.0")
        registry.unregister_model("m", "2.0.0", force=True)
        registry.register_model("other", "1.0.0", metadata())
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("SELECT name FROM models").fetchall() == [("other",)]
    assert replay_and_check(path).names == ("other",)


# -- durability and catching up -----------------------------------------------------------


def test_everything_survives_close_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "reg.db"
    hyper = {"big": 2**62 + 1, "tiny": 5e-324, "unicode": "Zürich ✓ 🚀", "nested": {"list": [1, 2.5, None]}}
    with SqliteRegistry(path) as registry:
        stored = registry.register_model("m", "v1.0.0+build.1", metadata(hyperparameters=hyper))
        registry.register_model("m", "2.0.0-rc.1", metadata())
        with acting_as("alice"):
            registry.set_alias("m", "production", "1.0.0")
        written = registry.history("m")

    with SqliteRegistry(path) as reopened:
        assert reopened.get_metadata("m", "1.0.0") == stored
        assert reopened.get_metadata("m", "1.0.0").to_dict()["hyperparameters"] == hyper
        assert reopened.get_versions("m") == ["1.0.0+build.1", "2.0.0-rc.1"]
        assert reopened.get_aliases("m") == {"production": "1.0.0+build.1"}
        assert reopened.revision == 3
        assert reopened.history("m") == written
        assert written[-1].actor == "alice"


def test_a_change_made_through_another_registry_is_visible_within_the_staleness_bound(tmp_path: Path) -> None:
    path = tmp_path / "reg.db"
    with SqliteRegistry(path, poll_interval=0.02) as reader, SqliteRegistry(path) as writer:
        writer.register_model("m", "1.0.0", metadata())
        # The documented bound is poll_interval plus the time to apply; 2 s is a generous factor.
        assert wait_until(lambda: reader.has_version("m", "1.0.0"), timeout=2.0)


def test_refresh_applies_changes_made_elsewhere_at_once(tmp_path: Path) -> None:
    path = tmp_path / "reg.db"
    with SqliteRegistry(path, poll_interval=3600) as reader, SqliteRegistry(path) as writer:
        writer.register_model("m", "1.0.0", metadata())
        assert not reader.has_version("m", "1.0.0")  # its watcher sleeps for an hour

        reader.refresh()

        assert reader.has_version("m", "1.0.0")
        assert reader.revision == writer.revision == 1


def test_a_write_is_checked_against_changes_made_elsewhere(tmp_path: Path) -> None:
    path = tmp_path / "reg.db"
    with SqliteRegistry(path, poll_interval=3600) as stale, SqliteRegistry(path) as writer:
        writer.register_model("m", "1.0.0", metadata(artifact_path="s3://writer"))
        seen: list[RegistryEvent] = []
        with stale.subscribe(seen.append):
            with pytest.raises(DuplicateVersionError):
                stale.register_model("m", "1.0.0+mine", metadata())
            stale.register_model("m", "2.0.0", metadata())
            assert wait_until(lambda: len(seen) >= 2)

        assert stale.get_metadata("m", "1.0.0").artifact_path == "s3://writer"
        assert [(e.kind, e.version, e.revision) for e in seen] == [("registered", "1.0.0", 1),
                                                                   ("registered", "2.0.0", 2)]


def test_subscribers_get_changes_from_another_registry_once_each_in_order(tmp_path: Path) -> None:
    path = tmp_path / "reg.db"
    with SqliteRegistry(path) as watcher, SqliteRegistry(path) as writer:
        seen: list[RegistryEvent] = []
        with watcher.subscribe(seen.append):
            for i in range(10):
                writer.register_model("m", f"1.{i}.0", metadata())
                if i % 3 == 0:
                    watcher.register_model("w", f"1.{i}.0", metadata())
            assert wait_until(lambda: len(seen) >= 14, timeout=5)

        assert [e.revision for e in seen] == list(range(1, 15))
        assert seen == sorted(writer.history("m") + watcher.history("w"), key=lambda e: e.revision)


def test_a_closed_registry_refuses_writes_but_closing_twice_is_fine(tmp_path: Path) -> None:
    registry = SqliteRegistry(tmp_path / "reg.db")
    registry.register_model("m", "1.0.0", metadata())
    registry.close()
    registry.close()

    assert registry.closed
    with pytest.raises(StoreError, match="is closed"):
        registry.register_model("m", "2.0.0", metadata())
    with pytest.raises(StoreError, match="is closed"):
        registry.history("m")
    assert registry.get_versions("m") == ["1.0.0"]  # the last snapshot still answers reads


def test_a_directory_is_not_a_database(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=rf"opening {tmp_path}: unable to open database file"):
        SqliteRegistry(tmp_path)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
@pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning")  # 3.12+ warns about fork with threads
def test_a_registry_refuses_writes_in_a_forked_child(tmp_path: Path) -> None:
    with SqliteRegistry(tmp_path / "reg.db") as registry:
        pid = os.fork()
        if pid == 0:  # the child: must not touch the parent's connections, and must never return to pytest
            code = 3
            try:
                registry.register_model("m", "1.0.0", metadata())
                code = 1
            except StoreError as exc:
                code = 0 if "after fork()" in str(exc) else 2
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        registry.register_model("m", "1.0.0", metadata())  # the parent's registry is unharmed
        assert registry.get_versions("m") == ["1.0.0"]


# -- bulk import and the bulk snapshot path --------------------------------------------------


def test_register_many_lands_all_or_nothing(tmp_path: Path) -> None:
    path = tmp_path / "reg.db"
    with SqliteRegistry(path) as registry, SqliteRegistry(path) as other:
        registry.register_model("m", "0.1.0", metadata())
        with pytest.raises(DuplicateVersionError, match="twice"):
            registry.register_many([("m", "1.0.0", metadata()), ("m", "1.0.0+again", metadata())])
        with pytest.raises(DuplicateVersionError):
            registry.register_many([("m", "2.0.0", metadata()), ("m", "0.1.0", metadata())])
        assert registry.get_versions("m") == ["0.1.0"]

        batch = [(f"model-{i % 3}", f"{i % 7}.{i}.0", metadata(artifact_path=f"s3://{i}")) for i in range(300)]
        stored = registry.register_many(reversed(batch))

        assert len(stored) == 300 and registry.revision == 301
        reference = MemoryRegistry()
        reference.register_model("m", "0.1.0", metadata())
        for name, version, meta in batch:
            reference.register_model(name, version, meta)
        for name in reference.get_all_model_names():
            assert registry.get_versions(name) == reference.get_versions(name)
        other.refresh()  # catches up on 300 events at once, through the bulk path
        assert other._state.models == registry._state.models
        assert other.get_all_model_names() == ["m", "model-0", "model-1", "model-2"]
    replay_and_check(path)


def test_events_after_reads_the_log_in_pages(tmp_path: Path) -> None:
    with SqliteRegistry(tmp_path / "reg.db") as registry:
        for i in range(5):
            registry.register_model("m", f"1.{i}.0", metadata())

        assert [e.revision for e in registry.events_after(0, limit=2)] == [1, 2]
        assert [e.version for e in registry.events_after(3)] == ["1.3.0", "1.4.0"]
        assert registry.events_after(5) == []
        with pytest.raises(TypeError):
            registry.events_after(-1)


def test_writers_queued_behind_a_commit_share_one_transaction_with_their_own_outcomes(tmp_path: Path) -> None:
    from modelreg import VersionNotFoundError

    with SqliteRegistry(tmp_path / "reg.db") as registry:
        registry.register_model("m", "0.1.0", metadata())
        outcomes: dict[str, str] = {}
        calls = {
            "a": lambda: registry.register_model("m", "1.0.0", metadata(artifact_path="s3://a")),
            "b": lambda: registry.register_model("m", "1.0.0+other", metadata(artifact_path="s3://b")),
            "c": lambda: registry.set_alias("m", "production", "9.9.9"),
            "d": lambda: registry.register_model("m", "2.0.0", metadata()),
            "e": lambda: registry.set_alias("m", "production", "2.0.0"),
        }

        def run(key: str) -> None:
            try:
                calls[key]()
                outcomes[key] = "ok"
            except (DuplicateVersionError, VersionNotFoundError) as exc:
                outcomes[key] = type(exc).__name__

        with registry._write_lock:  # hold the commit so every writer queues for the next batch
            threads = []
            for key in calls:  # start them one by one so the queue order is known
                threads.append(threading.Thread(target=run, args=(key,)))
                threads[-1].start()
                assert wait_until(lambda: len(registry._pending) == len(threads), timeout=5)
        for thread in threads:
            thread.join(timeout=10)

        assert outcomes == {"a": "ok", "b": "DuplicateVersionError", "c": "VersionNotFoundError", "d": "ok", "e": "ok"}
        assert registry.get_versions("m") == ["0.1.0", "1.0.0", "2.0.0"]
        assert registry.get_metadata("m", "1.0.0").artifact_path == "s3://a"
        assert registry.get_aliases("m") == {"production": "2.0.0"}
        assert [e.revision for e in registry.events_after(0)] == [1, 2, 3, 4]
    replay_and_check(tmp_path / "reg.db")
