"""Promotions across replicas: two ``modelreg serve`` over one PostgreSQL database, and a store outage mid-approval.

Two final approvals given at the same moment, one to each replica, move the alias exactly
once and record one ``alias_set``: one caller gets 200, the other 409 (the request is approved
already). An approval while the store is down is a 503 that leaves nothing half-done.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from factories import metadata, wait_until
from fixtures.postgres_backend import private_postgres  # noqa: F401 - registers the fixture
from modelreg.server.auth import hash_token
from support.serverkit import Running, StartServer

pytestmark = pytest.mark.postgres

SECRETS = {name: f"tok-{name}-0123456789" for name in ("boss", "ci", "alice", "bob", "carol")}
ROUNDS = 6
STORE_TIMEOUT = 2.5


def _tokens(directory: Path) -> str:
    """A tokens file: boss (admin), and ci, alice, bob, carol (write)."""
    path = directory / "tokens.json"
    entries = [{"name": name, "role": "admin" if name == "boss" else "write", "sha256": hash_token(secret)}
               for name, secret in SECRETS.items()]
    path.write_text(json.dumps({"tokens": entries}))
    return str(path)


def _as(who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {SECRETS[who]}"}


def _client(base: str, who: str) -> httpx.Client:
    return httpx.Client(base_url=base, headers=_as(who), timeout=60)


def _seed(base: str, versions: int, approvals: int) -> None:
    """Model race with 1.0.0..1.<versions>.0, production on 1.0.0 under a policy of ``approvals`` approvals."""
    with _client(base, "boss") as boss:
        for minor in range(versions + 1):
            answer = boss.put(f"/api/v1/models/race/versions/1.{minor}.0", content=metadata().to_json(),
                              headers={"Content-Type": "application/json"})
            assert answer.status_code == 201, answer.text
        assert boss.put("/api/v1/models/race/aliases/production", json={"version": "1.0.0"}).status_code == 204
        policy = boss.put("/api/v1/models/race/aliases/production/policy", json={"approvals": approvals})
        assert policy.status_code == 200, policy.text


def _request(base: str, version: str) -> int:
    with _client(base, "ci") as ci:
        made = ci.post("/api/v1/promotions", json={"name": "race", "alias": "production", "version": version})
    assert made.status_code == 201, made.text
    return int(made.json()["id"])


def _at_once(number: int, clients: dict[str, httpx.Client]) -> dict[str, httpx.Response]:
    """Each client approves request ``number`` at the same moment (a barrier each, connected first); who got what."""
    answers: dict[str, httpx.Response] = {}
    barrier = threading.Barrier(len(clients))

    def approve(who: str) -> None:
        clients[who].get("/healthz")  # connect first, so only the approvals race
        barrier.wait()
        answers[who] = clients[who].post(f"/api/v1/promotions/{number}/approve")

    threads = [threading.Thread(target=approve, args=(who,)) for who in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for client in clients.values():
        client.close()
    return answers


@pytest.fixture
def replicas(start_server: StartServer, postgres_schema_url: str, tmp_path: Path) -> tuple[Running, Running]:
    """Two servers over one PostgreSQL schema, sharing one tokens file."""
    tokens = _tokens(tmp_path)
    return (start_server(postgres_schema_url, tokens_file=tokens),
            start_server(postgres_schema_url, tokens_file=tokens))


def test_two_replicas_giving_the_final_approval_at_once_move_the_alias_exactly_once(
    replicas: tuple[Running, Running],
) -> None:
    first, second = (server.url for server in replicas)
    _seed(first, ROUNDS, approvals=2)
    for round_ in range(1, ROUNDS + 1):
        target = f"1.{round_}.0"
        number = _request(first, target)
        with _client(first, "alice") as alice:
            assert alice.post(f"/api/v1/promotions/{number}/approve").status_code == 200
        answers = _at_once(number, {"bob": _client(first, "bob"), "carol": _client(second, "carol")})
        statuses = sorted(answer.status_code for answer in answers.values())
        assert statuses == [200, 409], {who: answer.text for who, answer in answers.items()}
        winner = next(who for who, answer in answers.items() if answer.status_code == 200)
        loser = next(answer for answer in answers.values() if answer.status_code == 409)
        assert loser.json()["code"] == "policy_violation" and "approved already" in loser.json()["detail"]
        assert answers[winner].json()["approvals"] == ["alice", winner]
        for base in (first, second):  # both replicas agree, once the other one has caught up
            def moved(base: str = base, target: str = target) -> bool:
                aliases = httpx.get(f"{base}/api/v1/models/race/aliases", headers=_as("boss"), timeout=10)
                return bool(aliases.json()["aliases"]["production"] == target)

            assert wait_until(moved, timeout=10)
        events = httpx.get(f"{first}/api/v1/models/race/history", headers=_as("boss"), timeout=10).json()["events"]
        assert [e["actor"] for e in events if e["kind"] == "alias_set" and e["version"] == target] == [winner]
        approvals = [e for e in events if e["kind"] == "promotion_approved" and e["detail"]["id"] == number]
        assert [e["actor"] for e in approvals] == ["alice", winner]


@pytest.fixture
def serving(start_server: StartServer, private_postgres: Any, tmp_path: Path) -> Iterator[Running]:  # noqa: F811
    """One server over a PostgreSQL server of this module's own, which the test stops and starts."""
    try:
        yield start_server(private_postgres.url, tokens_file=_tokens(tmp_path), store_timeout=STORE_TIMEOUT)
    finally:
        private_postgres.resume()  # for the next test, whatever this one left behind


@pytest.mark.slow
def test_an_approval_while_the_store_is_down_is_a_503_that_changes_nothing_and_works_once_it_is_back(
    serving: Running, private_postgres: Any,  # noqa: F811
) -> None:
    base = serving.url
    _seed(base, 1, approvals=1)
    number = _request(base, "1.1.0")
    with _client(base, "alice") as alice:
        before = alice.get("/api/v1/models/race/history").json()["events"]
        private_postgres.pause()
        refused = alice.post(f"/api/v1/promotions/{number}/approve")
        assert refused.status_code == 503 and refused.json()["code"] == "store_unavailable", refused.text
        private_postgres.resume()
        assert wait_until(lambda: alice.get("/readyz").status_code == 200, timeout=30)
        assert alice.get(f"/api/v1/promotions/{number}").json()["state"] == "pending"
        assert alice.get("/api/v1/models/race/aliases").json()["aliases"]["production"] == "1.0.0"
        assert alice.get("/api/v1/models/race/history").json()["events"] == before

        done = alice.post(f"/api/v1/promotions/{number}/approve")
        assert done.status_code == 200 and done.json()["state"] == "approved", done.text
        assert alice.get("/api/v1/models/race/aliases").json()["aliases"]["production"] == "1.1.0"
        kinds = [e["kind"] for e in alice.get("/api/v1/models/race/history").json()["events"][len(before):]]
        assert kinds == ["promotion_approved", "alias_set"]
