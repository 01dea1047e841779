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
from modelreg.webhooks import MAX_DELIVERY_LOG, MAX_WEBHOOKS, Delivery, Webhook, WebhookStore, new_id

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
