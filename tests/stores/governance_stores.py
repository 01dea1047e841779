"""Shared by the governance storage tests: a store fixture (a SQLite file or a PostgreSQL schema) that opens
registries on it and checks its tables against a replay of its events, and a governed registry's contents."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest

from factories import metadata
from fixtures.sqlite_backend import replay_and_check
from modelreg import AliasPolicy, ModelRegistry, acting_as
from modelreg._state import RegistryState
from modelreg._transitions import advance
from modelreg.policies import PromotionRequest
from modelreg.stores._rows import EventRow
from modelreg.stores.sqlite import SqliteRegistry

GATES = AliasPolicy(
    require=["metrics.top1 >= 0.75", "metrics.latency_ms <= 15", "not version satisfies '<1.0.0'"],
    must_not_regress=["metrics.top1"],
    approvals=2,
)
ONE_APPROVAL = AliasPolicy(require=["metrics.top1 >= 0.7"], approvals=1)
LOOSE = AliasPolicy(require=["metrics.top1 >= 0.5"])
POLICY_KEYS = [("resnet50", "production"), ("resnet50", "staging"), ("not-yet", "production")]


@dataclass
class Store:
    """A store that several registries open (``open(**options)``); ``check()`` replays its events against its tables."""

    open: Callable[..., Any]
    check: Callable[[], RegistryState]
    kind: str


# Imported by this name; the fixture is called ``store`` (name=), as in fixtures.postgres_backend.
@pytest.fixture(name="store", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_fixture(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A new SQLite file, or a new PostgreSQL schema; every registry opened on it is closed after the test."""
    if request.param == "postgresql":
        sql = request.getfixturevalue("sql")
        yield Store(request.getfixturevalue("open_replica"), lambda: _replay_postgres(sql), "postgresql")
        return
    path = tmp_path / "registry.db"
    opened: list[SqliteRegistry] = []

    def open_(**options: Any) -> SqliteRegistry:
        registry = SqliteRegistry(path, **options)
        opened.append(registry)
        return registry

    yield Store(open_, lambda: replay_and_check(path), "sqlite")
    for registry in opened:
        registry.close()


def _replay_postgres(sql: Any) -> RegistryState:
    """The events replayed as the stores replay them (``EventRow.change``); assert the governance tables agree."""
    rows = sql.execute(
        "SELECT revision, kind, name, version, alias, actor, at, payload::text FROM events ORDER BY revision"
    ).fetchall()
    events = [EventRow(r, k, n, v, a, actor, at.astimezone(UTC), p) for r, k, n, v, a, actor, at, p in rows]
    state = advance(RegistryState(), [(row.change("the test schema"), row.revision) for row in events])
    policies = {
        (name, alias): AliasPolicy.from_dict(json.loads(text))
        for name, alias, text in sql.execute("SELECT name, alias, policy::text FROM alias_policies")
    }
    promotions = {}
    query = "SELECT id, name, alias, state, request::text FROM promotions"
    for number, name, alias, status, text in sql.execute(query):
        found = PromotionRequest.from_dict(json.loads(text))
        assert (found.id, found.name, found.alias, found.state) == (number, name, alias, status)
        promotions[number] = found
    assert policies == state.policies, "the alias_policies table disagrees with the events"
    assert promotions == state.promotions, "the promotions table disagrees with the events"
    return state


def add_versions(registry: ModelRegistry, name: str = "resnet50") -> None:
    """Five versions, production at 1.4.2."""
    for version, top1, latency in [
        ("0.9.0", 0.90, 5), ("1.4.2", 0.76, 12), ("1.5.0", 0.78, 11), ("1.6.0", 0.70, 10), ("1.7.0", 0.80, 20),
    ]:
        registry.register_model(name, version, metadata(performance_metrics={"top1": top1, "latency_ms": latency}))
    registry.set_alias(name, "production", "1.4.2")


def govern(registry: ModelRegistry) -> None:
    """Policies (one on a model with no versions yet) and a pending, a rejected and an approved request."""
    add_versions(registry)
    registry.set_alias_policy("resnet50", "production", GATES)
    registry.set_alias_policy("resnet50", "staging", ONE_APPROVAL)
    registry.set_alias_policy("not-yet", "production", LOOSE)
    with acting_as("ci"):
        pending = registry.request_promotion("resnet50", "production", "1.5.0", reason="beats 1.4.2 on v2 eval")
        rejected = registry.request_promotion("resnet50", "staging", "1.6.0")
        approved = registry.request_promotion("resnet50", "staging", "1.5.0")
    with acting_as("alice"):
        registry.approve_promotion(pending.id)
        registry.approve_promotion(approved.id)
    with acting_as("bob"):
        registry.reject_promotion(rejected.id, reason="1.6.0 regresses on top1")


def governed(registry: ModelRegistry) -> tuple[Any, ...]:
    """What ``govern`` left, as a registry answers it."""
    return (
        {key: registry.get_alias_policy(*key) for key in POLICY_KEYS},
        registry.list_promotions(),
        registry.get_aliases("resnet50"),
        registry.get_model("resnet50"),
    )


def check_governed(registry: ModelRegistry) -> None:
    """``governed(registry)`` is what ``govern`` made."""
    policies, promotions, aliases, _ = governed(registry)
    assert list(policies.values()) == [GATES, ONE_APPROVAL, LOOSE]
    assert [(p.id, p.state, p.approvals, p.requested_by, p.decided_by) for p in promotions] == [
        (1, "pending", ("alice",), "ci", None),
        (2, "rejected", (), "ci", "bob"),
        (3, "approved", ("alice",), "ci", "alice"),
    ]
    assert promotions[0].reason == "beats 1.4.2 on v2 eval" and promotions[1].decision_reason.startswith("1.6.0")
    assert aliases == {"production": "1.4.2", "staging": "1.5.0"}
