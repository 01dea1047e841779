"""PostgresRegistry against a real server: replicas sharing one database, migrations, errors, exact data."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from datetime import UTC, datetime

import psycopg
import pytest

from factories import metadata, wait_until
from fixtures.postgres_backend import Open, open_replica_fixture, sql_fixture  # noqa: F401
from modelreg import DuplicateVersionError, ModelMetadata, RegistryEvent, StoreError, VersionNotFoundError, acting_as
from modelreg.stores._pg_schema import SCHEMA_VERSION, migrate
from modelreg.stores._rows import encode_metadata
from modelreg.stores.postgres import PostgresRegistry

pytestmark = pytest.mark.postgres

# A child process: argv[1] = URL, argv[2] = model name, argv[3] = tag, argv[4] = count.
CHILD = """
import json, sys
from datetime import UTC, datetime
from modelreg import DuplicateVersionError, ModelMetadata
from modelreg.stores.postgres import PostgresRegistry
url, name, tag, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
with PostgresRegistry(url) as registry:
    print("ready", flush=True)
    sys.stdin.readline()  # the parent's starting gun, so all children race from the same moment
    for i in range(count):
        version = f"1.{i}.0" if tag == "same" else f"{tag}.{i}.0"
        try:
            registry.register_model(name, version, ModelMetadata(
                training_date=datetime(2026, 1, 5, tzinfo=UTC), artifact_path=f"s3://{tag}/{i}"))
            outcome = "won"
        except DuplicateVersionError:
            outcome = "duplicate"
        except Exception as exc:
            outcome = f"{type(exc).__module__}.{type(exc).__name__}: {exc}"
        print(json.dumps([version, outcome]), flush=True)
"""


def _race_children(url: str, children: list[tuple[str, str, int]]) -> list[list[tuple[str, str]]]:
    """Run CHILD processes that start together; return each one's (version, outcome) lines."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, url, name, tag, str(count)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for name, tag, count in children
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None and proc.stderr is not None
            if proc.stdout.readline().strip() != "ready":
                raise AssertionError(f"child failed to open the registry: {proc.stderr.read()}")
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        outputs = [proc.communicate(timeout=60) for proc in procs]
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
    return [[tuple(json.loads(line)) for line in out.splitlines()] for out, _ in outputs]


def _revisions(sql: psycopg.Connection[tuple[object, ...]]) -> list[object]:
    return [row[0] for row in sql.execute("SELECT revision FROM events ORDER BY revision")]


# -- identity across replicas and processes --------------------------------------------


def test_two_replicas_registering_the_same_version_at_once_exactly_one_wins(open_replica: Open) -> None:
    replicas = [open_replica(), open_replica()]  # separate pools, as on two machines
    rounds = 15
    outcomes: list[list[str]] = [[], []]

    def race(i: int) -> None:
        for r in range(rounds):
            barrier.wait()
            try:
                replicas[i].register_model("race", f"1.{r}.0", metadata(artifact_path=f"s3://replica-{i}"))
                outcomes[i].append("won")
            except DuplicateVersionError:
                outcomes[i].append("duplicate")

    barrier = threading.Barrier(2, timeout=30)
    threads = [threading.Thread(target=race, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert all(sorted(pair) == ["duplicate", "won"] for pair in zip(*outcomes, strict=True))
    for replica in replicas:
        replica.refresh()
        assert replica.get_versions("race") == [f"1.{r}.0" for r in range(rounds)]


def test_two_processes_registering_the_same_version_at_once_exactly_one_wins(postgres_schema_url: str) -> None:
    first, second = _race_children(postgres_schema_url, [("race", "same", 20), ("race", "same", 20)])

    assert len(first) == len(second) == 20
    for (version, a), (same, b) in zip(first, second, strict=True):
        assert version == same
        assert sorted([a, b]) == ["duplicate", "won"], (version, a, b)  # never a raw driver exception
    with PostgresRegistry(postgres_schema_url) as registry:
        assert registry.get_versions("race") == [f"1.{i}.0" for i in range(20)]


def test_four_processes_registering_distinct_versions_all_land_with_gap_free_revisions(
    postgres_schema_url: str, sql: psycopg.Connection[tuple[object, ...]]
) -> None:
    results = _race_children(postgres_schema_url, [("shared", str(tag), 15) for tag in range(1, 5)])

    assert all(outcome == "won" for lines in results for _, outcome in lines)
    with PostgresRegistry(postgres_schema_url) as registry:
        assert registry.get_versions("shared") == [f"{t}.{i}.0" for t in range(1, 5) for i in range(15)]
        assert registry.revision == 60
    assert _revisions(sql) == list(range(1, 61))


def test_the_database_itself_refuses_versions_differing_only_in_build_metadata(
    open_replica: Open, sql: psycopg.Connection[tuple[object, ...]]
) -> None:
    open_replica().register_model("m", "1.0.0+a", metadata())

    with pytest.raises(psycopg.errors.UniqueViolation):
        sql.execute(
            "INSERT INTO versions (model_id, identity, version, metadata, registered_at) "
            "SELECT id, '1.0.0', '1.0.0+b', '{}', now() FROM models WHERE name = 'm'"
        )


def test_a_duplicate_only_the_database_knows_of_is_a_duplicate_version_error(
    open_replica: Open, sql: psycopg.Connection[tuple[object, ...]]
) -> None:
    registry = open_replica()
    registry.register_model("m", "1.0.0", metadata())
    sql.execute(  # a row written without an event: the registry's snapshot cannot know of it
        "INSERT INTO versions (model_id, identity, version, metadata, registered_at) "
        "SELECT id, '2.0.0', '2.0.0', %s, now() FROM models WHERE name = 'm'",
        (encode_metadata(metadata(version="2.0.0")),),
    )

    with pytest.raises(DuplicateVersionError) as caught:
        registry.register_model("m", "2.0.0+other", metadata())

    assert isinstance(caught.value.__cause__, psycopg.errors.UniqueViolation)
    assert caught.value.name == "m"
    assert registry.get_versions("m") == ["1.0.0"]
    assert _revisions(sql) == [1]


def test_a_replica_with_a_stale_snapshot_checks_its_write_against_the_latest_state(open_replica: Open) -> None:
    stale = open_replica()
    other = open_replica()
    stale.register_model("m", "1.0.0", metadata())
    other.refresh()
    # Holding the stale replica's snapshot lock keeps its watcher from catching up; this
    # thread can still write through it, as the lock is re-entrant.
    with stale._snapshot_lock:
        other.register_model("m", "2.0.0", metadata())
        other.unregister_model("m", "1.0.0")
        assert stale.get_versions("m") == ["1.0.0"]

        with pytest.raises(DuplicateVersionError):
            stale.register_model("m", "2.0.0+b", metadata())
        with pytest.raises(VersionNotFoundError):
            stale.unregister_model("m", "1.0.0")
        stale.register_model("m", "3.0.0", metadata())

        assert stale.get_versions("m") == ["2.0.0", "3.0.0"]
    assert [e.revision for e in stale.history("m")] == [1, 2, 3, 4]


# -- change feed and freshness across replicas -----------------------------------------


def test_a_subscriber_receives_another_replicas_events_once_each_in_revision_order(open_replica: Open) -> None:
    reader, writer = open_replica(), open_replica()
    seen: list[RegistryEvent] = []
    with reader.subscribe(seen.append):
        with acting_as("ci-job"):
            for i in range(5):
                writer.register_model("m", f"1.{i}.0", metadata())
            writer.set_alias("m", "production", "1.4.0")
            writer.unregister_model("m", "1.0.0")
        assert wait_until(lambda: len(seen) >= 7)
        reader.refresh()  # a forced catch-up must not deliver anything twice

    assert [(e.kind, e.version) for e in seen] == [("registered", f"1.{i}.0") for i in range(5)] + [
        ("alias_set", "1.4.0"),
        ("unregistered", "1.0.0"),
    ]
    assert [e.revision for e in seen] == list(range(1, 8))
    assert {e.actor for e in seen} == {"ci-job"}
    assert reader.get_aliases("m") == {"production": "1.4.0"}


def test_another_replicas_write_is_visible_by_notification_long_before_the_poll(open_replica: Open) -> None:
    reader = open_replica(poll_interval=600)  # no polling fallback within the test: only NOTIFY can wake it
    writer = open_replica()

    writer.register_model("m", "1.0.0", metadata())

    # The documented bound is the NOTIFY round trip; 2 s is generous on a loaded machine.
    assert wait_until(lambda: reader.has_version("m", "1.0.0"), timeout=2.0)


def test_a_replica_whose_listen_connection_dropped_reconnects_and_catches_up(
    open_replica: Open, sql: psycopg.Connection[tuple[object, ...]]
) -> None:
    reader = open_replica(poll_interval=600)  # no polling within the test: reconnecting must catch up
    writer = open_replica()
    writer.register_model("m", "1.0.0", metadata())
    assert wait_until(lambda: reader.has_version("m", "1.0.0"))

    terminated = sql.execute(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE datname = current_database() AND application_name = 'modelreg-listen'"
    ).fetchone()
    assert terminated == (2,)
    writer.register_model("m", "2.0.0", metadata())  # its NOTIFY may reach nobody

    assert wait_until(lambda: reader.has_version("m", "2.0.0"), timeout=5.0)
    writer.register_model("m", "3.0.0", metadata())  # and notifications work again
    assert wait_until(lambda: reader.has_version("m", "3.0.0"), timeout=5.0)


def test_a_change_whose_notification_was_lost_is_seen_at_the_next_poll(
    open_replica: Open, sql: psycopg.Connection[tuple[object, ...]]
) -> None:
    reader = open_replica(poll_interval=0.2)
    open_replica().register_model("m", "1.0.0", metadata())
    assert wait_until(lambda: reader.has_version("m", "1.0.0"))
    payload = encode_metadata(metadata(version="2.0.0"))

    with sql.transaction():  # a write like a replica's, except that its NOTIFY is lost
        sql.execute(
            "INSERT INTO versions (model_id, identity, version, metadata, registered_at) "
            "SELECT id, '2.0.0', '2.0.0', %s, now() FROM models WHERE name = 'm'",
            (payload,),
        )
        sql.execute(
            "INSERT INTO events (revision, kind, name, version, at, payload) "
            "VALUES (2, 'registered', 'm', '2.0.0', now(), %s)",
            (payload,),
        )

    assert wait_until(lambda: reader.has_version("m", "2.0.0"), timeout=5.0)  # poll_interval plus slack


# -- durability and schema -------------------------------------------------------------


def test_history_survives_close_and_reopen(postgres_schema_url: str) -> None:
    with PostgresRegistry(postgres_schema_url) as registry, acting_as("alice"):
        registry.register_model("m", "1.0.0", metadata())
        registry.set_alias("m", "production", "1.0.0")
        registry.unregister_model("m", "1.0.0", force=True)
        registry.register_model("m", "2.0.0", metadata())
        before = registry.history("m")

    with PostgresRegistry(postgres_schema_url) as reopened:
        assert reopened.history("m") == before
        assert reopened.get_versions("m") == ["2.0.0"]
        assert reopened.revision == 5
    assert [(e.kind, e.actor) for e in before] == [
        ("registered", "alice"), ("alias_set", "alice"), ("alias_removed", "alice"),
        ("unregistered", "alice"), ("registered", "alice"),
    ]
    assert all(e.at.tzinfo is not None and e.at.utcoffset() == UTC.utcoffset(None) for e in before)


def test_a_database_made_by_migration_1_is_upgraded_on_open_with_its_data_intact(
    postgres_schema_url: str, sql: psycopg.Connection[tuple[object, ...]]
) -> None:
    assert migrate(sql, "test database", upto=1) == [1]
    old = metadata(version="1.0.0", hyperparameters={"lr": 1e300})
    at = datetime(2026, 1, 1, tzinfo=UTC)
    sql.execute("INSERT INTO models (name) VALUES ('m')")
    sql.execute(
        "INSERT INTO versions (model_id, identity, version, metadata, registered_at) "
        "SELECT id, '1.0.0', '1.0.0', %s, %s FROM models",
        (encode_metadata(old), at),
    )
    sql.execute("INSERT INTO aliases (model_id, alias, identity) SELECT id, 'production', '1.0.0' FROM models")
    sql.execute(  # schema 1 has no actor column
        "INSERT INTO events (revision, kind, name, version, alias, at, payload) VALUES "
        "(1, 'registered', 'm', '1.0.0', NULL, %s, %s), (2, 'alias_set', 'm', '1.0.0', 'production', %s, NULL)",
        (at, encode_metadata(old), at),
    )

    with PostgresRegistry(postgres_schema_url) as registry, acting_as("bob"):
        assert registry.get_metadata("m", "1.0.0") == old
        assert registry.get_aliases("m") == {"production": "1.0.0"}
        assert [(e.kind, e.actor, e.at) for e in registry.history("m")] == [
            ("registered", None, at), ("alias_set", None, at)
        ]
        registry.register_model("m", "2.0.0", metadata())
        assert registry.history("m")[-1].actor == "bob"
    assert [row[0] for row in sql.execute("SELECT version FROM schema_migrations ORDER BY version")] == list(
        range(1, SCHEMA_VERSION + 1)
    )


def test_replicas_share_the_store_id_and_a_recreated_database_gets_a_new_one(
    open_replica: Open, sql: psycopg.Connection[tuple[object, ...]]
) -> None:
    first, second = open_replica(), open_replica()
    assert first.store_id == second.store_id and len(first.store_id) == 32
    made = first.store_id
    first.close()
    second.close()
    sql.execute(
        "DROP TABLE events, aliases, versions, models, store_identity, schema_migrations, alias_policies, promotions, "
        "webhook_deliveries, webhooks"
    )

    assert open_replica().store_id != made


def test_replicas_opening_a_new_database_at_once_create_the_schema_once(
    postgres_schema_url: str, sql: psycopg.Connection[tuple[object, ...]]
) -> None:
    barrier = threading.Barrier(4, timeout=30)
    errors: list[BaseException] = []

    def open_and_close() -> None:
        barrier.wait()
        try:
            PostgresRegistry(postgres_schema_url).close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_and_close) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert [row[0] for row in sql.execute("SELECT version FROM schema_migrations ORDER BY version")] == list(
        range(1, SCHEMA_VERSION + 1)
    )


def test_a_database_newer_than_the_code_is_refused_untouched(
    postgres_schema_url: str, sql: psycopg.Connection[tuple[object, ...]]
) -> None:
    PostgresRegistry(postgres_schema_url).close()
    sql.execute("INSERT INTO schema_migrations (version, description) VALUES (%s, 'from the future')",
                (SCHEMA_VERSION + 1,))

    with pytest.raises(StoreError, match=rf"schema version {SCHEMA_VERSION + 1}, newer .* upgrade modelreg"):
        PostgresRegistry(postgres_schema_url)


def test_metadata_comes_back_exactly_through_the_database(postgres_schema_url: str) -> None:
    tricky = metadata(
        hyperparameters={"huge": 1e300, "tiny": 5e-324, "big": 2**64 + 1, "neg": -2**63 - 1, "z": 0,
                         "a": [1.5, "x", None, True, {"nested": -0.0}], "text": "ünïcödé 🚀 \u2028 'q' \"dq\" \\"},
        performance_metrics={"top1": 0.1 + 0.2, "huge": 1e300, "tiny": 5e-324},
        description="line one\nline two\ttabbed — ✓",
        tags={"ключ": "值", "emoji": "🧪"},
    )
    with PostgresRegistry(postgres_schema_url) as writer:
        seen: list[RegistryEvent] = []
        reader = PostgresRegistry(postgres_schema_url)
        with reader, reader.subscribe(seen.append):
            stored = writer.register_model("m", "1.0.0", tricky)
            assert wait_until(lambda: len(seen) == 1)
            via_events = reader.get_metadata("m", "1.0.0")
    with PostgresRegistry(postgres_schema_url) as reopened:
        via_tables = reopened.get_metadata("m", "1.0.0")

    for got in (via_events, via_tables):
        assert got == stored
        assert got.to_json() == stored.to_json()  # same numbers, same text, same key order
        assert list(got.hyperparameters) == list(tricky.hyperparameters)


# -- errors ----------------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_unreachable_server_is_a_store_error_naming_it() -> None:
    port = _closed_port()
    url = f"postgresql://someone:s3cret@127.0.0.1:{port}/registry"

    where = rf"PostgreSQL database 'registry' at 127.0.0.1:{port} as someone"
    with pytest.raises(StoreError, match=f"error connecting to {where}: ") as caught:
        PostgresRegistry(url, connect_timeout=2)

    assert isinstance(caught.value.__cause__, psycopg.OperationalError)
    assert "s3cret" not in str(caught.value)


def test_an_invalid_url_is_a_store_error_saying_what_is_expected() -> None:
    with pytest.raises(StoreError, match="invalid PostgreSQL URL.*postgresql://user@host:port/dbname"):
        PostgresRegistry("postgresql://host/db?no_such_option=1")


@pytest.mark.parametrize(
    ("option", "value", "error"),
    [("max_size", 0, ValueError), ("poll_interval", -1, ValueError), ("poll_interval", float("nan"), ValueError),
     ("connect_timeout", 1, ValueError), ("connect_timeout", 2.5, TypeError), ("store_timeout", "soon", TypeError),
     ("store_timeout", 0, ValueError),
     ("min_size", True, TypeError)],
)
def test_bad_options_are_refused_before_connecting(option: str, value: object, error: type[Exception]) -> None:
    with pytest.raises(error, match=option):
        PostgresRegistry(f"postgresql://127.0.0.1:{_closed_port()}/x", **{option: value})  # type: ignore[arg-type]


def test_a_url_that_is_not_a_string_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="url must be a str"):
        PostgresRegistry(b"postgresql://x")  # type: ignore[arg-type]


def test_a_failed_statement_is_a_store_error_and_changes_nothing(
    postgres_schema_url: str, sql: psycopg.Connection[tuple[object, ...]]
) -> None:
    url = postgres_schema_url.replace("options=", "options=-clock_timeout%3D100%20")
    with PostgresRegistry(url) as registry:
        registry.register_model("m", "1.0.0", metadata())
        with sql.transaction():
            sql.execute("LOCK TABLE events IN ACCESS EXCLUSIVE MODE")  # another session holds the table
            with pytest.raises(StoreError, match="lock timeout") as caught:
                registry.register_model("m", "2.0.0", metadata())
        assert isinstance(caught.value.__cause__, psycopg.errors.LockNotAvailable)
        assert registry.get_versions("m") == ["1.0.0"]

        registry.register_model("m", "2.0.0", metadata())  # the pool recovered; nothing half-written
        assert registry.get_versions("m") == ["1.0.0", "2.0.0"]
    assert _revisions(sql) == [1, 2]


def test_waiting_longer_than_store_timeout_for_a_pooled_connection_is_a_store_error(open_replica: Open) -> None:
    registry = open_replica(min_size=1, max_size=1, store_timeout=0.2)
    with registry._pool.connection():  # as a long write would hold the pool's only connection
        with pytest.raises(StoreError, match=r"reading history from .*no connection within store_timeout=0\.2s "
                                             r"\(couldn't get a connection") as caught:
            registry.history("m")
        assert isinstance(caught.value.__cause__, psycopg.OperationalError)
    assert registry.history("m") == []


def test_a_closed_registry_still_reads_its_snapshot_but_refuses_database_calls(open_replica: Open) -> None:
    registry = open_replica()
    registry.register_model("m", "1.0.0", metadata())
    registry.close()
    registry.close()  # idempotent

    assert registry.get_versions("m") == ["1.0.0"]
    with pytest.raises(StoreError, match="is closed"):
        registry.register_model("m", "2.0.0", metadata())
    with pytest.raises(StoreError, match="is closed"):
        registry.history("m")


def test_bulk_registration_lands_in_one_transaction_and_reaches_other_replicas(
    open_replica: Open, sql: psycopg.Connection[tuple[object, ...]]
) -> None:
    writer, reader = open_replica(), open_replica()
    writer.register_model("b", "0.0.1", metadata())
    entries = [(f"m{i % 7}", f"1.{i}.0", metadata(artifact_path=f"s3://{i}")) for i in range(300)]

    stored = writer.register_many(entries)
    with pytest.raises(DuplicateVersionError):
        writer.register_many([("b", "0.0.2", metadata()), ("b", "0.0.1+dup", metadata())])

    assert len(stored) == 300
    assert _revisions(sql) == list(range(1, 302))
    assert wait_until(lambda: reader.revision == 301)
    assert reader.get_metadata("m3", "1.3.0").artifact_path == "s3://3"
    assert reader.get_versions("b") == ["0.0.1"]


def test_every_kind_of_metadata_value_survives_a_replica_restart(postgres_schema_url: str) -> None:
    meta = ModelMetadata(training_date=datetime(2026, 1, 5, 12, 30, 15, 123456, tzinfo=UTC), artifact_path="x")
    with PostgresRegistry(postgres_schema_url) as registry:
        registry.register_model("m", "1.0.0-rc.1+build.7", meta)
    with PostgresRegistry(postgres_schema_url) as registry:
        got = registry.get_metadata("m", "1.0.0-rc.1")
    assert got.version == "1.0.0-rc.1+build.7"
    assert got.training_date == meta.training_date



def test_events_after_reads_the_log_in_pages(postgres_schema_url: str) -> None:
    with PostgresRegistry(postgres_schema_url) as registry:
        for i in range(5):
            registry.register_model("m", f"1.{i}.0", metadata())

        assert [e.revision for e in registry.events_after(0, limit=2)] == [1, 2]
        assert [e.version for e in registry.events_after(3)] == ["1.3.0", "1.4.0"]
        assert registry.events_after(5) == []
