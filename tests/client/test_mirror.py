"""RegistryMirror against a real server: it answers as the server does, reads its own writes, keeps to its models."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from factories import metadata
from modelreg import (
    AliasPolicy,
    InvalidNameError,
    ModelRegistry,
    RegistryEvent,
    VersionNotFoundError,
    open_registry,
)
from modelreg.client import RegistryClient
from modelreg.client.mirror import RegistryMirror
from support.serverkit import Running, StartServer


@pytest.fixture
def server(start_server: StartServer) -> Running:
    return start_server()


@pytest.fixture
def client(server: Running) -> Iterator[RegistryClient]:
    with RegistryClient(server.url) as client:
        yield client


def _fill(client: RegistryClient) -> None:
    for name in ("resnet50", "bert-base", "bert-large", "gpt"):
        client.register_model(name, "1.0.0", metadata())
        client.register_model(name, "1.2.0+b7", metadata())
        client.set_alias(name, "production", "1.0.0")
    client.annotate("resnet50", "1.0.0", description="first", set_tags={"stage": "gold"}, add_metrics={"f1": 0.5})
    client.annotate_model("resnet50", description="ResNet", set_tags={"team": "cv"})
    client.set_alias_policy("resnet50", "staging", AliasPolicy(approvals=1))
    client.request_promotion("resnet50", "staging", "1.2.0")


def _same(mirror: ModelRegistry, client: RegistryClient, names: list[str]) -> None:
    assert mirror.get_all_model_names() == names
    for name in names:
        assert mirror.get_versions(name) == client.get_versions(name)
        assert mirror.get_aliases(name) == client.get_aliases(name)
        assert mirror.resolve(name, "production") == client.resolve(name, "production")
        assert mirror.resolve(name, "^1") == client.resolve(name, "^1")
        assert mirror.get_model(name) == client.get_model(name)
        for version in client.get_versions(name):
            assert mirror.get_metadata(name, version) == client.get_metadata(name, version)
        assert mirror.search(name=name).items == client.search(name=name).items
    assert mirror.list_promotions() == [p for p in client.list_promotions() if p.name in names]


def test_a_mirror_answers_every_read_as_the_server_does(client: RegistryClient, server: Running) -> None:
    _fill(client)
    with RegistryMirror(server.url) as mirror:
        assert (mirror.revision, mirror.store_id, mirror.lag) == (client.revision, client.store_id, 0.0)
        _same(mirror, client, client.get_all_model_names())
        assert mirror.get_alias_policy("resnet50", "staging") == AliasPolicy(approvals=1)
        assert mirror.search("metrics.f1 >= 0.5").total == 1
        with pytest.raises(VersionNotFoundError):
            mirror.get_metadata("resnet50", "9.9.9")


def test_changes_made_on_the_server_reach_the_mirror(client: RegistryClient, server: Running) -> None:
    with RegistryMirror(server.url) as mirror:
        _fill(client)  # every kind of change, after the mirror started
        client.unregister_model("gpt", "1.2.0", force=True)
        client.delete_model("bert-large", force=True)
        mirror.wait_for(client.revision, timeout=30)
        _same(mirror, client, client.get_all_model_names())
        assert mirror.revision == client.revision


def test_a_write_through_the_mirror_is_in_it_when_the_call_returns(client: RegistryClient, server: Running) -> None:
    with RegistryMirror(server.url) as mirror:
        stored = mirror.register_model("resnet50", "v2.0.0", metadata())
        assert stored.version == "2.0.0" and mirror.get_versions("resnet50") == ["2.0.0"]
        mirror.set_alias("resnet50", "production", "2.0.0")
        assert mirror.resolve("resnet50", "production") == "2.0.0"
        assert mirror.annotate("resnet50", "2.0.0", set_tags={"k": "v"}).tags["k"] == "v"
        assert mirror.get_metadata("resnet50", "2.0.0").tags["k"] == "v"
        assert mirror.annotate_model("resnet50", description="d").description == "d"
        mirror.set_alias_policy("resnet50", "staging", AliasPolicy(approvals=1))
        request = mirror.request_promotion("resnet50", "staging", "2.0.0")
        assert mirror.get_promotion(request.id).state == "pending"
        mirror.remove_alias("resnet50", "production")
        assert mirror.get_aliases("resnet50") == {}
        mirror.unregister_model("resnet50", "2.0.0")
        assert mirror.get_versions("resnet50") == [] and client.get_versions("resnet50") == []
        assert mirror.revision == client.revision


def test_reading_a_model_outside_the_mirrored_globs_is_an_invalid_name_error(
    client: RegistryClient, server: Running
) -> None:
    _fill(client)
    with RegistryMirror(server.url, models=["resnet50", "bert-*"]) as mirror:
        _same(mirror, client, ["bert-base", "bert-large", "resnet50"])
        for read in (lambda: mirror.resolve("gpt", "latest"), lambda: mirror.get_versions("gpt"),
                     lambda: mirror.get_metadata("gpt", "1.0.0"), lambda: mirror.has_version("gpt", "1.0.0"),
                     lambda: mirror.register_model("gpt", "3.0.0", metadata())):
            with pytest.raises(InvalidNameError, match=r"'gpt' is not mirrored here.*resnet50, bert-\*"):
                read()
        assert client.get_versions("gpt") == ["1.0.0", "1.2.0+b7"]  # the refused write changed nothing
        client.register_model("gpt", "5.0.0", metadata())  # the revision moves on past other models' changes
        client.register_model("bert-new", "1.0.0", metadata())
        mirror.wait_for(client.revision, timeout=30)
        assert mirror.get_versions("bert-new") == ["1.0.0"]
    with pytest.raises(ValueError, match="not a model name or glob"):
        RegistryMirror(server.url, models=["a,b"])


def test_open_registry_with_mirror_true_opens_a_mirror(client: RegistryClient, server: Running) -> None:
    _fill(client)
    registry = open_registry(server.url, mirror=True, models=["gpt"])
    with registry:
        assert isinstance(registry, RegistryMirror) and registry.get_all_model_names() == ["gpt"]
    with pytest.raises(Exception, match="needs an http"):
        open_registry("memory://", mirror=True)


def test_subscribers_of_the_mirror_get_each_change_it_applies(client: RegistryClient, server: Running) -> None:
    got: list[RegistryEvent] = []
    arrived = threading.Event()
    with RegistryMirror(server.url) as mirror:
        subscription = mirror.subscribe(lambda event: (got.append(event), arrived.set()))
        client.register_model("resnet50", "1.0.0", metadata())
        assert arrived.wait(30)
        subscription.close()
    assert [(e.kind, e.name, e.version) for e in got] == [("registered", "resnet50", "1.0.0")]


def test_time_travel_through_the_mirror_asks_the_servers_history(client: RegistryClient, server: Running) -> None:
    client.register_model("resnet50", "1.0.0", metadata())
    moment = datetime.now(UTC)
    with RegistryMirror(server.url) as mirror:
        mirror.register_model("resnet50", "2.0.0", metadata())
        assert mirror.get_versions("resnet50", at=moment) == ["1.0.0"]
        assert [e.kind for e in mirror.history("resnet50")] == ["registered", "registered"]
