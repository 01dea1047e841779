"""Alias policies and promotion requests in the durable stores: what survives a reopen, what other registries
and processes see and are held to, and the tables checked against a replay of the events (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest
from governance_stores import GATES, LOOSE, Store, add_versions, check_governed, govern, governed, store_fixture  # noqa: F401

from factories import metadata, wait_until
from fixtures.postgres_backend import open_replica_fixture, sql_fixture  # noqa: F401
from fixtures.sqlite_backend import replay_and_check
from modelreg import ModelRegistry, PolicyError, RegistryEvent, StoreError, acting_as
from modelreg.stores.sqlite import SqliteRegistry


def _moves(registry: ModelRegistry, alias: str = "production") -> list[str | None]:
    return [e.version for e in registry.history("resnet50", kinds=["alias_set"]) if e.alias == alias]


def test_policies_and_requests_survive_a_reopen_and_the_tables_agree_with_the_events(store: Store) -> None:
    with store.open() as registry:
        govern(registry)
        before = governed(registry)
        check_governed(registry)
    with store.open() as registry:
        assert governed(registry) == before  # the model record too: a policy or request does not touch it
        check_governed(registry)
        with pytest.raises(PolicyError, match="request a promotion"):
            registry.set_alias("resnet50", "production", "1.5.0")
        with acting_as("bob"):  # the pending request carries on from its stored approval
            done = registry.approve_promotion(1)
        assert (done.state, done.approvals) == ("approved", ("alice", "bob"))
        assert registry.get_aliases("resnet50")["production"] == "1.5.0"
    replayed = store.check()
    assert replayed.promotions[1].approvals == ("alice", "bob")


def test_a_policy_set_before_the_first_version_stays_when_the_last_version_goes(store: Store) -> None:
    with store.open() as registry:
        registry.set_alias_policy("later", "production", LOOSE)
        registry.register_model("later", "1.0.0", metadata())
        registry.unregister_model("later", "1.0.0")
        assert registry.get_all_model_names() == []
    with store.open() as registry:
        assert registry.get_alias_policy("later", "production") == LOOSE
        registry.register_model("later", "2.0.0", metadata(performance_metrics={"top1": 0.1}))
        with pytest.raises(PolicyError, match=r"requires metrics.top1 >= 0.5 \(metrics.top1 is 0.1\)"):
            registry.set_alias("later", "production", "2.0.0")
        registry.remove_alias_policy("later", "production")
    with store.open() as registry:
        assert registry.get_alias_policy("later", "production") is None
        registry.set_alias("later", "production", "2.0.0")
    store.check()


def test_another_registry_sees_policies_and_decisions_as_they_happen_and_is_held_to_them(store: Store) -> None:
    writer, reader = store.open(), store.open()
    seen: list[RegistryEvent] = []
    with reader.subscribe(seen.append):
        govern(writer)
        assert wait_until(lambda: len(seen) == len(writer.history("resnet50")) + 1)  # + the not-yet policy
    assert governed(reader) == governed(writer)
    assert [e for e in seen if e.name == "resnet50"] == writer.history("resnet50")
    with pytest.raises(PolicyError, match="request a promotion"):
        reader.set_alias("resnet50", "production", "1.5.0")
    with acting_as("alice"), pytest.raises(PolicyError, match="approved promotion 1 already"):
        reader.approve_promotion(1)  # the other registry's approval counts here
    with acting_as("bob"):
        reader.approve_promotion(1)
    assert wait_until(lambda: writer.get_aliases("resnet50")["production"] == "1.5.0")
    assert writer.get_promotion(1) == reader.get_promotion(1)
    store.check()


def test_a_write_on_a_stale_snapshot_catches_up_and_is_refused_by_a_policy_it_had_not_seen(store: Store) -> None:
    stale, other = store.open(), store.open()
    add_versions(stale)
    other.refresh()
    with stale._snapshot_lock:  # its watcher cannot apply the policy; its own write still catches up first
        other.set_alias_policy("resnet50", "production", GATES)
        assert stale.get_alias_policy("resnet50", "production") is None
        with pytest.raises(PolicyError, match="needs 2 approval"):
            stale.set_alias("resnet50", "production", "1.5.0")
        assert stale.get_alias_policy("resnet50", "production") == GATES
    assert _moves(other) == ["1.4.2"]
    store.check()


def test_a_request_made_on_a_stale_snapshot_takes_the_next_id_after_the_other_registrys(store: Store) -> None:
    stale, other = store.open(), store.open()
    add_versions(stale)
    stale.set_alias_policy("resnet50", "production", GATES)
    other.refresh()
    with stale._snapshot_lock, acting_as("ci"):
        theirs = other.request_promotion("resnet50", "production", "1.5.0")
        mine = stale.request_promotion("resnet50", "production", "1.5.0", reason="again")
    assert (theirs.id, mine.id) == (1, 2)
    other.refresh()
    assert other.list_promotions() == stale.list_promotions()
    store.check()


CHILD = """
import json, sys
from modelreg import PolicyError, acting_as
from modelreg.stores.sqlite import SqliteRegistry
with SqliteRegistry(sys.argv[1]) as registry:
    out = {"policy": registry.get_alias_policy("resnet50", "production").to_dict(),
           "requests": [r.to_dict() for r in registry.list_promotions()],
           "aliases": registry.get_aliases("resnet50")}
    try:
        registry.set_alias("resnet50", "production", "0.9.0")
    except PolicyError as exc:
        out["refused"] = exc.code
    with acting_as("carol"):
        registry.request_promotion("resnet50", "staging", None, reason="from the child")
print(json.dumps(out))
"""


def test_another_process_sees_a_policy_and_an_approval_and_its_set_alias_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "registry.db"
    with SqliteRegistry(path) as registry:
        govern(registry)
        with acting_as("bob"):
            registry.approve_promotion(1)  # production moves to 1.5.0
        requests = [r.to_dict() for r in registry.list_promotions()]
        done = subprocess.run(
            [sys.executable, "-c", CHILD, str(path)], check=True, capture_output=True, text=True, timeout=60
        )
        seen = json.loads(done.stdout)
        assert seen["policy"] == GATES.to_dict() and seen["requests"] == requests
        assert seen["aliases"] == {"production": "1.5.0", "staging": "1.5.0"}
        assert seen["refused"] == "policy_violation"
        registry.refresh()
        (child,) = registry.list_promotions(state="pending")
        assert (child.id, child.version, child.requested_by, child.reason) == (4, None, "carol", "from the child")
    replay_and_check(path)


@pytest.mark.parametrize(
    ("table", "damage", "named"),
    [
        ("alias_policies", "policy = '{\"approvals\": -1}'", "policy of resnet50 production .* not a valid policy"),
        ("alias_policies", "policy = '[1, 2]'", "policy of resnet50 production .* not an object"),
        ("promotions", "request = '{\"id\": 1}'", "promotion request 1 .* unreadable"),
        ("promotions", "request = 'not json'", "promotion request in .* unreadable"),
    ],
)
def test_a_damaged_governance_row_is_refused_at_open_naming_it(
    tmp_path: Path, table: str, damage: str, named: str
) -> None:
    path = tmp_path / "registry.db"
    with SqliteRegistry(path) as registry:
        govern(registry)
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute(f"UPDATE {table} SET {damage}")
    with pytest.raises(StoreError, match=named):
        SqliteRegistry(path)


def test_an_approval_of_a_request_whose_row_was_decided_behind_the_registrys_back_fails_and_writes_nothing(
    tmp_path: Path,
) -> None:
    path = tmp_path / "registry.db"
    with SqliteRegistry(path) as registry:
        govern(registry)
        with closing(sqlite3.connect(path)) as conn, conn:
            conn.execute("UPDATE promotions SET state = 'rejected' WHERE id = 1")
        before = registry.history("resnet50")
        with acting_as("bob"), pytest.raises(StoreError, match="no pending promotion request 1"):
            registry.approve_promotion(1)
        assert registry.history("resnet50") == before
        assert registry.get_aliases("resnet50")["production"] == "1.4.2"
