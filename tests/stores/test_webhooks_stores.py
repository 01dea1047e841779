"""The ``WebhookStore`` every registry offers (``WebhookHost``): memory, a real SQLite file, the suite's PostgreSQL.

Leases: of two holders claiming, one gets each webhook; a lapsed lease passes to the
other; a holder that lost it changes nothing. The delivery log is bounded, and the
durable stores keep position and failures across a reopen (migration 6).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from modelreg import InvalidWebhookError, MemoryRegistry, ModelRegistry, WebhookHost, WebhookNotFoundError
from modelreg.webhooks import MAX_DELIVERY_LOG, MAX_WEBHOOKS, Delivery, Progress, Webhook, WebhookStore, new_id

Open = Callable[[], ModelRegistry]
AT = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def reopen(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Open]:
    """Opens the same store again on each call (memory: the one registry); all closed at the end."""
    opened: list[ModelRegistry] = []
    if request.param == "memory":
        only = MemoryRegistry()

        def make() -> ModelRegistry:
            return only
    elif request.param == "sqlite":
        from modelreg.stores.sqlite import SqliteRegistry

        def make() -> ModelRegistry:
            return SqliteRegistry(tmp_path / "registry.db")
    else:
        from modelreg.stores.postgres import PostgresRegistry

        url = request.getfixturevalue("postgres_schema_url")

        def make() -> ModelRegistry:
            return PostgresRegistry(url)

    def opening() -> ModelRegistry:
        registry = make()
        opened.append(registry)
        return registry

    yield opening
    for registry in opened:
        registry.close()


def _store(registry: ModelRegistry) -> WebhookStore:
    assert isinstance(registry, WebhookHost)
    return registry.webhooks()


def _hook(url: str = "https://ci.example/hook", **changes: object) -> Webhook:
    hook = Webhook(new_id(), url, ("registered",), ("res*",), AT, "boss", 7)
    return dataclasses.replace(hook, **changes)  # type: ignore[arg-type]


def _attempt(hook: Webhook, revision: int | None, status: int | None, attempt: int = 1) -> Delivery:
    error = None if status is not None and 200 <= status < 300 else "answered 500"
    return Delivery(f"{hook.id}-{revision}", hook.id, revision, "registered", attempt, AT, status, error, 1.5)


def test_a_webhook_comes_back_as_added_without_its_secret_and_can_be_removed(reopen: Open) -> None:
    store = _store(reopen())
    first, second = _hook(), _hook("http://127.0.0.1:9/x", events=None, models=None, created_at=AT.replace(hour=13))
    store.add(first, "secret-one-0123456789")
    store.add(second, "secret-two-0123456789")
    assert store.hooks() == [first, second]
    assert store.get(first.id) == first and store.secret(first.id) == "secret-one-0123456789"
    assert "secret" not in repr(store.get(first.id)) and "secret" not in str(first.to_dict())
    store.remove(first.id)
    assert store.hooks() == [second]
    for call in (store.get, store.remove, store.secret, store.deliveries):
        with pytest.raises(WebhookNotFoundError, match="no webhook has id"):
            call(first.id)


def test_of_two_holders_one_gets_each_webhook_until_its_lease_lapses(reopen: Open) -> None:
    one, other = _store(reopen()), _store(reopen())
    hook = _hook()
    one.add(hook, "secret-0123456789abc")
    assert [c.webhook.id for c in one.claim("a", 0.5)] == [hook.id]
    assert [c.secret for c in one.claim("a", 0.5)] == ["secret-0123456789abc"]  # renewed by its holder
    assert other.claim("b", 0.5) == []
    assert not other.advance(hook.id, "b", 9) and not other.record(_attempt(hook, 8, 200), "b")
    assert one.get(hook.id).position == 7  # the loser changed nothing
    time.sleep(0.8)
    assert [c.webhook.id for c in other.claim("b", 30)] == [hook.id]  # lapsed: taken over
    assert not one.advance(hook.id, "a", 9) and not one.record(_attempt(hook, 8, 200), "a")
    assert one.claim("a", 30) == []
    assert other.advance(hook.id, "b", 9) and other.get(hook.id).position == 9


def test_attempts_count_failures_and_a_success_moves_the_position(reopen: Open) -> None:
    store = _store(reopen())
    hook = _hook()
    store.add(hook, "secret-0123456789abc")
    store.claim("me", 30)
    for attempt in range(1, 6):
        assert store.record(_attempt(hook, 8, 500, attempt), "me")
    failing = store.get(hook.id)
    assert failing.failures == 5 and failing.failing and failing.position == 7 and failing.last_status == 500
    assert store.record(_attempt(hook, None, 200), None)  # a test ping changes neither
    assert store.get(hook.id).failures == 5
    assert store.record(_attempt(hook, 8, 204, 6), "me")
    healed = store.get(hook.id)
    assert (healed.failures, healed.failing, healed.position, healed.last_status) == (0, False, 8, 204)
    log = store.deliveries(hook.id)
    assert [d.attempt for d in log] == [6, 1, 5, 4, 3, 2, 1] and log[0].ok and not log[2].ok
    assert store.deliveries(hook.id, 2) == log[:2]


def test_the_delivery_log_keeps_only_the_latest_attempts(reopen: Open) -> None:
    store = _store(reopen())
    hook = _hook()
    store.add(hook, "secret-0123456789abc")
    store.claim("me", 30)
    for revision in range(8, 8 + MAX_DELIVERY_LOG + 20):
        store.record(_attempt(hook, revision, 200), "me")
    log = store.deliveries(hook.id, MAX_DELIVERY_LOG + 50)
    assert len(log) == MAX_DELIVERY_LOG and log[0].revision == 7 + MAX_DELIVERY_LOG + 20


def test_position_and_failures_survive_reopening_a_durable_store(reopen: Open) -> None:
    registry = reopen()
    store = _store(registry)
    hook = _hook()
    store.add(hook, "secret-0123456789abc")
    store.claim("me", 30)
    store.record(_attempt(hook, 8, 200), "me")
    store.record(_attempt(hook, 9, 500), "me")
    registry.close()
    again = _store(reopen()).get(hook.id)  # memory: the same registry, still readable after close()
    assert (again.position, again.failures, again.last_status) == (8, 1, 500)


def test_a_registry_keeps_at_most_max_webhooks(reopen: Open) -> None:
    store = _store(reopen())
    for _ in range(MAX_WEBHOOKS):
        store.add(_hook(), "secret-0123456789abc")
    with pytest.raises(InvalidWebhookError, match=f"already has {MAX_WEBHOOKS} webhooks"):
        store.add(_hook(), "secret-0123456789abc")
    assert len(store.hooks()) == MAX_WEBHOOKS


def test_migration_6_adds_the_webhook_tables_to_a_schema_5_sqlite_file(tmp_path: Path) -> None:
    import sqlite3

    from factories import metadata
    from modelreg.stores.sqlite import SqliteRegistry

    path = tmp_path / "old.db"
    with SqliteRegistry(path) as registry:
        registry.register_model("kept", "1.0.0", metadata())
    with sqlite3.connect(path) as conn:  # back to what a schema-5 modelreg left
        conn.executescript("DROP TABLE webhook_deliveries; DROP TABLE webhooks; "
                           "DELETE FROM schema_migrations WHERE version = 6;")
    with SqliteRegistry(path) as registry:
        assert registry.get_versions("kept") == ["1.0.0"]
        store = _store(registry)
        store.add(_hook(), "secret-0123456789abc")
        assert len(store.hooks()) == 1
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT max(version) FROM schema_migrations").fetchone() == (6,)


def test_migration_6_adds_the_webhook_tables_to_a_schema_5_postgresql_database(postgres_schema_url: str) -> None:
    import psycopg

    from factories import metadata
    from modelreg.stores._pg_schema import migrate
    from modelreg.stores.postgres import PostgresRegistry

    with psycopg.connect(postgres_schema_url, autocommit=True) as conn:
        assert migrate(conn, "test", upto=5) == [1, 2, 3, 4, 5]
    with PostgresRegistry(postgres_schema_url) as registry:
        registry.register_model("kept", "1.0.0", metadata())
        store = _store(registry)
        store.add(_hook(), "secret-0123456789abc")
        assert len(store.hooks()) == 1
    with psycopg.connect(postgres_schema_url, autocommit=True) as conn:
        assert conn.execute("SELECT max(version) FROM schema_migrations").fetchone() == (6,)


def _progress(hook: Webhook, position: int, failures: int = 0, status: int | None = 204) -> Progress:
    return Progress(hook.id, position, failures, AT, status, None if status == 204 else "answered 500")


def test_one_sync_stores_every_webhooks_progress_and_attempts_and_renews_the_leases(reopen: Open) -> None:
    store = _store(reopen())
    hooks = [_hook(created_at=AT.replace(minute=m)) for m in range(3)]
    for hook in hooks:
        store.add(hook, "secret-0123456789abc")
    assert len(store.claim("me", 0.5)) == 3
    attempts = [_attempt(hook, 8, 500, 1) for hook in hooks] + [_attempt(hook, 8, 204, 2) for hook in hooks]
    claims = store.sync("me", 30, [_progress(hook, 9) for hook in hooks], attempts)
    assert [c.webhook.id for c in claims] == [h.id for h in hooks]
    assert [c.webhook.position for c in claims] == [9, 9, 9]  # the claims answer what was just stored
    for hook in hooks:
        stored = store.get(hook.id)
        assert (stored.position, stored.failures, stored.last_status, stored.last_attempt_at) == (9, 0, 204, AT)
        assert [d.attempt for d in store.deliveries(hook.id)] == [2, 1]  # newest first
    time.sleep(0.8)  # the first lease (0.5 s) would have lapsed: the sync renewed it for 30 s
    assert _store(reopen()).claim("other", 30) == []


def test_a_sync_by_a_holder_that_lost_the_lease_changes_nothing(reopen: Open) -> None:
    one, other = _store(reopen()), _store(reopen())
    hook = _hook()
    one.add(hook, "secret-0123456789abc")
    one.claim("a", 0.3)
    time.sleep(0.5)
    assert [c.webhook.id for c in other.claim("b", 30)] == [hook.id]
    assert one.sync("a", 30, [_progress(hook, 50)], [_attempt(hook, 8, 204)]) == []
    assert one.get(hook.id).position == 7 and one.deliveries(hook.id) == []


def test_a_released_lease_is_taken_over_at_once(reopen: Open) -> None:
    one, other = _store(reopen()), _store(reopen())
    hook = _hook()
    one.add(hook, "secret-0123456789abc")
    one.claim("a", 30)
    assert other.claim("b", 30) == []
    assert one.sync("a", None, [_progress(hook, 12)], []) == []  # stored, then released (a stopping server)
    assert [(c.webhook.id, c.webhook.position) for c in other.claim("b", 30)] == [(hook.id, 12)]


def test_a_test_ping_is_logged_without_changing_the_delivery_state(reopen: Open) -> None:
    store = _store(reopen())
    hook = _hook()
    store.add(hook, "secret-0123456789abc")
    store.claim("me", 30)
    store.record(_attempt(hook, 8, 500), "me")
    before = store.get(hook.id)
    ping = dataclasses.replace(_attempt(hook, None, 204), at=AT.replace(hour=18))
    assert store.record(ping, None)
    assert store.get(hook.id) == before  # last_status, last_error, last_attempt_at as the delivery left them
    assert store.deliveries(hook.id)[0] == ping


def test_sqlite_webhook_reads_do_not_wait_for_the_write_lock(tmp_path: Path) -> None:
    import sqlite3

    from modelreg.stores.sqlite import SqliteRegistry

    path = tmp_path / "registry.db"
    with SqliteRegistry(path, store_timeout=2.0) as registry:
        store = _store(registry)
        hook = _hook()
        store.add(hook, "secret-0123456789abc")
        writer = sqlite3.connect(path, isolation_level=None)
        writer.execute("BEGIN IMMEDIATE")  # another process writing
        try:
            started = time.monotonic()
            assert store.hooks() == [hook] and store.get(hook.id) == hook and store.deliveries(hook.id) == []
            assert store.secret(hook.id) == "secret-0123456789abc"
            assert time.monotonic() - started < 1.0  # a write-locking read would wait the 2 s timeout, then fail
        finally:
            writer.execute("ROLLBACK")
            writer.close()
