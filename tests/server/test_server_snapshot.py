"""GET /api/v1/snapshot against a real server: one revision, whole, compressed, bounded, scoped."""

from __future__ import annotations

import asyncio
import gzip
import json
import threading
from pathlib import Path

import httpx
import pytest

from factories import metadata
from modelreg import AliasPolicy, MemoryRegistry
from modelreg._snapshots import decode_delta, decode_snapshot
from modelreg.client import RegistryClient
from modelreg.server import create_app
from modelreg.server import snapshot as snapshot_module
from modelreg.server.auth import hash_token
from support.serverkit import Running, StartServer

SECRETS = {"all": "tok-all-0123456789", "scoped": "tok-scoped-0123456789", "none": "tok-none-0123456789"}


@pytest.fixture
def server(start_server: StartServer, tmp_path: Path) -> Running:
    tokens = tmp_path / "tokens.json"
    tokens.write_text(json.dumps({"tokens": [
        {"name": "all", "role": "admin", "sha256": hash_token(SECRETS["all"])},
        {"name": "scoped", "role": "read", "sha256": hash_token(SECRETS["scoped"]), "models": ["vis-*"]},
    ]}))
    return start_server(tokens_file=str(tokens))


def _get(server: Running, who: str, query: str = "", **headers: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {SECRETS[who]}", **headers}
    return httpx.get(f"{server.url}/api/v1/snapshot{query}", headers=headers, timeout=30)


def _lines(response: httpx.Response) -> list[bytes]:
    assert response.status_code == 200, response.text
    return response.content.splitlines()


def _fill(client: RegistryClient) -> None:
    for name in ("vis-a", "vis-b", "text-a"):
        client.register_model(name, "1.0.0", metadata())
        client.register_model(name, "1.1.0+build", metadata())
        client.set_alias(name, "production", "1.0.0")
    client.annotate("vis-a", "1.0.0", set_tags={"stage": "gold"}, add_metrics={"f1": 0.5})
    client.annotate_model("vis-a", description="vision", set_tags={"team": "cv"})
    client.set_alias_policy("vis-a", "production", AliasPolicy(approvals=1))
    client.request_promotion("vis-a", "production", "1.1.0+build")


def test_a_full_snapshot_holds_every_model_as_the_server_answers_it(server: Running) -> None:
    with RegistryClient(server.url, token=SECRETS["all"]) as client:
        _fill(client)
        store, patterns, state = decode_snapshot(_lines(_get(server, "all")))
        assert (store, patterns, state.revision) == (client.store_id, None, client.revision)
        assert list(state.names) == client.get_all_model_names()
        for name in state.names:
            model = state.models[name]
            assert list(model.ordered) == client.get_versions(name)
            assert dict(model.aliases) == client.get_aliases(name)
            for version in model.ordered:
                assert model.versions[version] == client.get_metadata(name, version)
            info = client.get_model(name)
            assert (model.description, dict(model.tags), model.created_at, model.updated_at) == (
                info.description, dict(info.tags), info.created_at, info.updated_at)
        assert state.policies[("vis-a", "production")] == client.get_alias_policy("vis-a", "production")
        assert list(state.promotions.values()) == client.list_promotions()


def test_the_snapshot_is_gzip_compressed_when_the_client_accepts_it(server: Running) -> None:
    with RegistryClient(server.url, token=SECRETS["all"]) as client:
        _fill(client)
    with httpx.Client(timeout=30) as raw:
        headers = {"Authorization": f"Bearer {SECRETS['all']}", "Accept-Encoding": "gzip"}
        with raw.stream("GET", f"{server.url}/api/v1/snapshot", headers=headers) as response:
            assert response.headers["content-encoding"] == "gzip"
            body = b"".join(response.iter_raw())
    assert decode_snapshot(gzip.decompress(body).splitlines())[2].names == ("text-a", "vis-a", "vis-b")
    plain = _get(server, "all", **{"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers


def test_models_globs_select_and_a_scoped_token_sees_only_its_models(server: Running) -> None:
    with RegistryClient(server.url, token=SECRETS["all"]) as client:
        _fill(client)
        base = client.revision
        client.register_model("text-a", "2.0.0", metadata())
        client.register_model("vis-b", "2.0.0", metadata())
    assert decode_snapshot(_lines(_get(server, "all", "?models=text-*,vis-b")))[2].names == ("text-a", "vis-b")
    _, _, scoped = decode_snapshot(_lines(_get(server, "scoped")))
    assert scoped.names == ("vis-a", "vis-b")
    assert set(scoped.promotions) == {1} and set(scoped.policies) == {("vis-a", "production")}
    assert decode_snapshot(_lines(_get(server, "scoped", "?models=text-*")))[2].names == ()
    _, after, revision, events = decode_delta(_lines(_get(server, "scoped", f"?after={base}")))
    assert (after, revision) == (base, base + 2)
    assert [(event.name, event.version) for event, _ in events] == [("vis-b", "2.0.0")]
    assert events[0][1].metadata is not None and events[0][1].metadata.version == "2.0.0"


def test_bad_parameters_are_refused_naming_what_is_wrong(server: Running) -> None:
    for query, words in [("?models=a/b", "'a/b'"), ("?models=", "1 to 100"), ("?after=x", "'after'"),
                         ("?after=99", "no revision 99"), ("?model=a", "unknown query parameter 'model'")]:
        response = _get(server, "all", query)
        assert response.status_code in (400, 410), (query, response.text)
        assert words in response.json()["detail"], (query, response.text)
    assert httpx.get(f"{server.url}/api/v1/snapshot", timeout=30).status_code == 401


def test_each_snapshot_taken_during_a_write_storm_is_of_the_one_revision_it_states(server: Running) -> None:
    done = threading.Event()

    def storm() -> None:
        with RegistryClient(server.url, token=SECRETS["all"]) as writer:
            for i in range(400):
                writer.register_model("storm", f"1.0.{i}", metadata())  # one event each: revision i + 1
                if done.is_set():
                    return

    thread = threading.Thread(target=storm)
    thread.start()
    try:
        seen = set()
        for _ in range(40):
            _, _, state = decode_snapshot(_lines(_get(server, "all")))
            held = len(state.model("storm").ordered)
            assert held == state.revision, f"revision {state.revision} but {held} versions: a mix of two states"
            seen.add(state.revision)
    finally:
        done.set()
        thread.join()
    assert len(seen) > 1, "the storm never overlapped a snapshot"


def test_a_delta_over_more_than_its_bound_is_refused_so_the_mirror_takes_a_full_copy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(snapshot_module, "MAX_DELTA_EVENTS", 5)
    registry = MemoryRegistry()
    for i in range(1, 1202):  # more than one page of 1000 events of the log
        registry.register_model("m", f"1.0.{i}", metadata())
    app = create_app(registry, ui=False)

    async def ask(query: str) -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as http:
            return await http.get(f"/api/v1/snapshot{query}")

    refused = asyncio.run(ask("?after=0"))
    assert refused.status_code == 410 and refused.json()["code"] == "events_unavailable"
    assert "more than 5 changes came after revision 0" in refused.json()["detail"]
    near = asyncio.run(ask("?after=1199"))
    assert [event.revision for event, _ in decode_delta(near.content.splitlines())[3]] == [1200, 1201]
    registry.close()
