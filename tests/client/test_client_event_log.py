"""RegistryClient as an EventLog: revision, store id and events after a revision, read from the server's log."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from factories import metadata
from modelreg import EventLog
from modelreg.client import RegistryClient
from support.serverkit import Running


@pytest.fixture
def client(module_server: Running) -> Iterator[RegistryClient]:
    with RegistryClient(module_server.url) as registry:
        yield registry


def test_the_client_declares_the_event_log_protocol(client: RegistryClient) -> None:
    assert isinstance(client, EventLog)


def test_events_after_a_revision_are_the_servers_changes_in_order(client: RegistryClient) -> None:
    before = client.revision
    client.register_model("log-order", "1.0.0", metadata())
    client.set_alias("log-order", "production", "1.0.0")
    client.unregister_model("log-order", "1.0.0", force=True)

    events = client.events_after(before)
    assert [(e.kind, e.name, e.version) for e in events] == [
        ("registered", "log-order", "1.0.0"), ("alias_set", "log-order", "1.0.0"),
        ("alias_removed", "log-order", "1.0.0"), ("unregistered", "log-order", "1.0.0")]
    assert [e.revision for e in events] == list(range(before + 1, before + 5))
    assert client.revision == before + 4
    assert events == client.history("log-order")  # the same event JSON as the model's history


def test_events_after_the_latest_revision_or_one_the_store_never_reached_are_none(client: RegistryClient) -> None:
    client.register_model("log-none", "1.0.0", metadata())
    revision = client.revision

    assert client.events_after(revision) == []
    assert client.events_after(revision + 1000) == []  # as every backend answers; the server says 410 to HTTP


def test_a_limit_above_one_page_is_read_a_page_at_a_time(client: RegistryClient, module_server: Running,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from modelreg import _paths

    before = client.revision
    for patch in range(5):
        client.register_model("log-pages", f"1.0.{patch}", metadata())
    monkeypatch.setattr(_paths, "CHANGES_LIMIT", 2)  # the client's page size; the server keeps its own
    requests: list[httpx.Request] = []
    client._http.event_hooks["request"].append(requests.append)

    events = client.events_after(before, limit=5)
    assert [e.version for e in events] == [f"1.0.{patch}" for patch in range(5)]
    assert len(requests) == 3 and client.events_after(before, limit=3)[-1].version == "1.0.2"


def test_store_id_names_the_store_the_event_stream_names(client: RegistryClient, module_server: Running) -> None:
    with httpx.stream("GET", f"{module_server.url}/api/v1/events", timeout=10) as response:
        lines = response.iter_lines()
        hello = next(line for line in lines if line.startswith("data:"))
    assert hello == f'data: {{"store": "{client.store_id}", "revision": {client.revision}}}'
    assert len(client.store_id) >= 16


@pytest.mark.parametrize(("revision", "limit"), [(-1, 10), (True, 10), ("0", 10), (0, 0), (0, 1.5), (0, False)])
def test_events_after_needs_int_positions(client: RegistryClient, revision: object, limit: object) -> None:
    with pytest.raises(TypeError, match=r"(revision|limit) must be an int >= [01]"):
        client.events_after(revision, limit)  # type: ignore[arg-type]
