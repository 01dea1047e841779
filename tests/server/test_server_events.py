"""The event stream: Server-Sent Events in revision order, resumable with Last-Event-ID."""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Awaitable, Iterator
from pathlib import Path

import httpx
import pytest

from factories import metadata, wait_until
from modelreg import RegistryEvent, open_registry
from modelreg.client import RegistryClient
from modelreg.client._events import parse_sse
from support.serverkit import HAS_SQLITE, Running, StartServer, registry_url

needs_sqlite = pytest.mark.skipif(not HAS_SQLITE, reason="needs modelreg.stores.sqlite (a durable registry)")


@pytest.fixture
def client(module_server: Running) -> Iterator[RegistryClient]:
    with RegistryClient(module_server.url) as registry:
        yield registry


class Feed:
    """Reads events off one open stream, a few at a time, after its ``hello`` (kept in ``hello``)."""

    def __init__(self, response: httpx.Response) -> None:
        self._events = parse_sse(response.iter_lines())
        kind, _, data = next(self._events)
        assert kind == "hello"
        self.hello = json.loads(data)

    def take(self, count: int) -> list[tuple[str, int, dict[str, object]]]:
        return [(kind, int(ident or -1), json.loads(data))
                for kind, ident, data in itertools.islice(self._events, count)]


def _stream(url: str, **kwargs: object) -> httpx.Client:
    return httpx.Client(base_url=url, timeout=httpx.Timeout(10.0), **kwargs)  # type: ignore[arg-type]


def test_stream_starts_with_hello_naming_the_store_then_ready_then_sends_each_change(
    module_server: Running, client: RegistryClient
) -> None:
    with _stream(module_server.url) as http, http.stream("GET", "/api/v1/events") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        feed = Feed(response)
        [(kind, start, data)] = feed.take(1)
        assert (kind, data) == ("ready", {"revision": start})
        assert feed.hello == {"store": _store_id(module_server.registry_url), "revision": start}

        client.register_model("ev-a", "1.0.0", metadata())
        client.set_alias("ev-a", "production", "1.0.0")
        got = feed.take(2)

    assert [(kind, ident) for kind, ident, _ in got] == [("registered", start + 1), ("alias_set", start + 2)]
    event = RegistryEvent.from_dict(got[1][2])
    assert (event.name, event.version, event.alias, event.actor) == ("ev-a", "1.0.0", "production", "anonymous")


@pytest.mark.parametrize("how", ["Last-Event-ID", "since"])
def test_reconnecting_replays_exactly_what_was_missed(module_server: Running, client: RegistryClient,
                                                      how: str) -> None:
    with _stream(module_server.url) as http:
        with http.stream("GET", "/api/v1/events") as response:
            feed = Feed(response)
            [(_, start, _)] = feed.take(1)
            for version in ["1.0.0", "1.1.0", "1.2.0"]:
                client.register_model(f"ev-resume-{how}", version, metadata())
            [(_, first, _)] = feed.take(1)
        assert first == start + 1

        resume = {"headers": {"Last-Event-ID": str(first)}} if how == "Last-Event-ID" else {
            "params": {"since": str(first)}}
        with http.stream("GET", "/api/v1/events", **resume) as response:  # type: ignore[arg-type]
            got = Feed(response).take(3)

    assert [(kind, ident) for kind, ident, _ in got] == [("ready", first), ("registered", start + 2),
                                                         ("registered", start + 3)]
    assert [data["version"] for _, _, data in got[1:]] == ["1.1.0", "1.2.0"]


def _store_id(url: str) -> str:
    if url == "memory://":
        pytest.skip("a memory:// server's store id is known only to that server")
    with open_registry(url) as registry:  # type: ignore[attr-defined]
        return str(registry.store_id)


@pytest.mark.parametrize("how", ["Last-Event-ID", "since"])
def test_a_revision_beyond_the_stores_is_410_naming_both(module_server: Running, client: RegistryClient,
                                                         how: str) -> None:
    client.register_model(f"ev-ahead-{how}", "1.0.0", metadata())
    current = client.history(f"ev-ahead-{how}")[-1].revision
    resume = {"headers": {"Last-Event-ID": "1000000"}} if how == "Last-Event-ID" else {"params": {"since": "1000000"}}
    with _stream(module_server.url) as http:
        response = http.get("/api/v1/events", **resume)  # type: ignore[arg-type]

    assert response.status_code == 410
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert (problem["code"], problem["since"], problem["revision"]) == ("unknown_revision", 1000000, current)
    assert f"is at revision {current}, so it has no revision 1000000" in problem["detail"]
    assert problem["store"] == _store_id(module_server.registry_url)


@needs_sqlite
def test_a_revision_another_process_committed_is_caught_up_with_not_refused(tmp_path: Path) -> None:
    import anyio
    from starlette.types import Message

    from modelreg.server import create_app
    from modelreg.stores.sqlite import SqliteRegistry

    path = tmp_path / "shared.db"
    writer = SqliteRegistry(path)
    served = SqliteRegistry(path, poll_interval=3600)  # its watcher will not notice the write by itself
    app = create_app(served)
    app.access_log = None
    writer.register_model("ev-other", "1.0.0", metadata())
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "HEAD", "path": "/api/v1/events", "raw_path": b"/api/v1/events",
             "query_string": b"", "headers": [(b"last-event-id", b"1")], "root_path": "", "http_version": "1.1",
             "client": ("127.0.0.1", 5000), "asgi": {"version": "3.0", "spec_version": "2.3"}}
    try:
        assert served.revision == 0
        anyio.run(_bounded, app(scope, receive, send))
    finally:
        app.events.close()
        served.close()
        writer.close()
    assert sent[0]["status"] == 200


def test_last_event_id_wins_over_since(module_server: Running, client: RegistryClient) -> None:
    client.register_model("ev-wins", "1.0.0", metadata())
    revision = client.history("ev-wins")[-1].revision
    with _stream(module_server.url) as http, http.stream(
        "GET", "/api/v1/events", params={"since": "0"}, headers={"Last-Event-ID": str(revision)}
    ) as response:
        assert Feed(response).take(1)[0][:2] == ("ready", revision)


@needs_sqlite
def test_events_from_before_the_server_started_are_replayed_from_the_store(
    tmp_path: Path, start_server: StartServer
) -> None:
    url = registry_url(tmp_path, "old")
    registry = open_registry(url)
    registry.register_model("ev-old", "1.0.0", metadata())
    registry.register_model("ev-old", "2.0.0", metadata())
    registry.close()  # type: ignore[attr-defined]
    server = start_server(url)

    with _stream(server.url) as http, http.stream("GET", "/api/v1/events", params={"since": "0"}) as response:
        got = Feed(response).take(3)

    assert [(kind, ident) for kind, ident, _ in got] == [("ready", 0), ("registered", 1), ("registered", 2)]
    assert [data["version"] for _, _, data in got[1:]] == ["1.0.0", "2.0.0"]


def test_events_older_than_the_buffer_of_a_registry_without_a_log_are_refused_not_skipped() -> None:
    from modelreg import MemoryRegistry
    from modelreg.server.problems import HTTPProblem
    from modelreg.server.sse import EventFeed

    registry = MemoryRegistry()
    feed = EventFeed(registry, limit=10)  # no log: what a user's own ModelRegistry gets
    try:
        for minor in range(12):  # the buffer keeps the last 10: revisions 3 to 12
            registry.register_model("ev-old", f"1.{minor}.0", metadata())
        registry.close()  # delivers the queued events to the feed
        with pytest.raises(HTTPProblem) as gone:
            feed.start(1)
        assert "after revision 2" in str(gone.value.detail)
        assert feed.start(2) == 2
    finally:
        feed.close()


def test_subscribe_delivers_each_later_change_once_in_order(client: RegistryClient) -> None:
    client.register_model("ev-sub", "0.1.0", metadata())  # before subscribing: not delivered
    seen: list[RegistryEvent] = []
    with client.subscribe(seen.append):
        client.register_model("ev-sub", "1.0.0", metadata())
        client.set_alias("ev-sub", "production", "1.0.0")
        client.unregister_model("ev-sub", "1.0.0", force=True)
        assert wait_until(lambda: len(seen) >= 4)
    client.register_model("ev-sub", "2.0.0", metadata())  # after closing: not delivered

    assert [(e.kind, e.version) for e in seen] == [("registered", "1.0.0"), ("alias_set", "1.0.0"),
                                                   ("alias_removed", "1.0.0"), ("unregistered", "1.0.0")]
    assert [e.revision for e in seen] == sorted({e.revision for e in seen})


def test_subscribing_to_an_unreachable_server_fails_at_once() -> None:
    from modelreg import StoreError

    with RegistryClient("http://127.0.0.1:9", timeout=2) as offline, pytest.raises(StoreError):
        offline.subscribe(lambda event: None)


@needs_sqlite
def test_subscription_resumes_after_a_server_restart(tmp_path: Path, start_server: StartServer) -> None:
    url = registry_url(tmp_path, "restart")
    first = start_server(url)
    port = int(first.url.rsplit(":", 1)[1])
    seen: list[RegistryEvent] = []
    with RegistryClient(first.url) as client, client.subscribe(seen.append):
        client.register_model("ev-restart", "1.0.0", metadata())
        assert wait_until(lambda: len(seen) == 1)
        assert first.process.stop() == 0

        start_server(url, port=port)
        client.register_model("ev-restart", "2.0.0", metadata())
        assert wait_until(lambda: len(seen) == 2, timeout=30)

    assert [(e.kind, e.version) for e in seen] == [("registered", "1.0.0"), ("registered", "2.0.0")]


@needs_sqlite
def test_subscriber_gets_changes_made_while_the_server_was_down(tmp_path: Path, start_server: StartServer,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    url = registry_url(tmp_path, "missed")
    first = start_server(url)
    port = int(first.url.rsplit(":", 1)[1])
    seen: list[RegistryEvent] = []
    with RegistryClient(first.url) as client, client.subscribe(seen.append):
        client.register_model("ev-missed", "1.0.0", metadata())
        assert wait_until(lambda: len(seen) == 1)
        first.process.stop()
        offline = open_registry(url)  # not in the restarted server's buffer: replayed from the events table
        offline.register_model("ev-missed", "1.5.0", metadata())
        offline.close()  # type: ignore[attr-defined]

        with caplog.at_level(logging.ERROR, logger="modelreg.client"):
            start_server(url, port=port)
            client.register_model("ev-missed", "2.0.0", metadata())  # right away: must not fall in a gap
            assert wait_until(lambda: len(seen) == 3, timeout=30)

    assert [e.version for e in seen] == ["1.0.0", "1.5.0", "2.0.0"]
    assert [e.revision for e in seen] == [1, 2, 3]
    assert "no longer kept" not in caplog.text


def test_subscribe_since_replays_logged_changes_then_follows_once_each(client: RegistryClient) -> None:
    client.register_model("ev-since", "1.0.0", metadata())
    start = client.history("ev-since")[-1].revision - 1
    client.unregister_model("ev-since", "1.0.0")  # the model has no versions left: only the log knows it
    seen: list[RegistryEvent] = []
    with client.subscribe(lambda e: seen.append(e) if e.name == "ev-since" else None, since=start):
        assert wait_until(lambda: len(seen) >= 2)
        client.register_model("ev-since", "2.0.0", metadata())
        assert wait_until(lambda: len(seen) >= 3)

    assert [(e.kind, e.version) for e in seen] == [("registered", "1.0.0"), ("unregistered", "1.0.0"),
                                                   ("registered", "2.0.0")]
    assert [e.revision for e in seen] == sorted({e.revision for e in seen})


@pytest.mark.parametrize("since", [-1, True, "0", 1.5])
def test_subscribe_since_must_be_a_revision_number(client: RegistryClient, since: object) -> None:
    with pytest.raises(ValueError, match="since must be a revision"):
        client.subscribe(lambda event: None, since=since)  # type: ignore[arg-type]


@needs_sqlite
def test_a_store_failing_during_replay_ends_the_stream_with_a_warning(tmp_path: Path,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    import anyio
    from starlette.types import Message

    from modelreg.server import create_app

    registry = open_registry(registry_url(tmp_path, "replay"))
    registry.register_model("ev-fail", "1.0.0", metadata())
    app = create_app(registry)  # the revision-1 event is older than its buffer: a stream from 0 reads the store
    app.access_log = None
    registry.close()  # type: ignore[attr-defined]  # every later read of the store raises StoreError
    sent: list[Message] = []

    async def receive() -> Message:
        await anyio.sleep_forever()  # the client stays connected: only the server can end the stream
        raise AssertionError("unreachable")

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/api/v1/events", "raw_path": b"/api/v1/events",
             "query_string": b"since=0", "headers": [], "root_path": "", "http_version": "1.1",
             "client": ("127.0.0.1", 5000), "asgi": {"version": "3.0", "spec_version": "2.3"}}
    with caplog.at_level(logging.WARNING, logger="modelreg.server"):
        anyio.run(_bounded, app(scope, receive, send))

    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 200
    assert b"event: ready" in b"".join(m.get("body", b"") for m in sent[1:])
    [record] = [r for r in caplog.records if r.name == "modelreg.server"]
    assert record.levelno == logging.WARNING and "is closed" in record.getMessage()
    assert record.exc_info is None


async def _bounded(coroutine: Awaitable[None]) -> None:
    import anyio

    with anyio.fail_after(10):
        await coroutine
