"""``async for event in client.events()``: each change once, in order, across reconnects; never past a gap."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from factories import metadata
from modelreg import RegistryError, RegistryEvent
from modelreg.client import AsyncRegistryClient
from support.serverkit import HAS_SQLITE, Running, StartServer, registry_url

WAIT = 30.0  # seconds: an upper bound for a reconnect, never a speed target


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


async def _take(events: object, count: int) -> list[RegistryEvent]:
    assert hasattr(events, "__anext__")
    return [await asyncio.wait_for(anext(events), WAIT) for _ in range(count)]


def test_changes_after_entering_arrive_once_each_in_revision_order(module_server: Running) -> None:
    async def run() -> list[RegistryEvent]:
        async with AsyncRegistryClient(module_server.url) as client, client.events() as events:
            await client.register_model("ev-order", "1.0.0", metadata())
            await client.set_alias("ev-order", "production", "1.0.0")
            await client.unregister_model("ev-order", "1.0.0", force=True)
            return await _take(events, 4)

    seen = asyncio.run(run())
    assert [(e.kind, e.version, e.alias) for e in seen] == [
        ("registered", "1.0.0", None), ("alias_set", "1.0.0", "production"),
        ("alias_removed", "1.0.0", "production"), ("unregistered", "1.0.0", None)]
    assert [e.revision for e in seen] == list(range(seen[0].revision, seen[0].revision + 4))


def test_since_replays_the_changes_after_that_revision_first(module_server: Running) -> None:
    async def run() -> list[str | None]:
        async with AsyncRegistryClient(module_server.url) as client:
            start = await client.revision()
            await client.register_model("ev-since", "1.0.0", metadata())
            await client.register_model("ev-since", "1.1.0", metadata())
            versions: list[str | None] = []
            async for event in client.events(since=start):
                versions.append(event.version)
                if len(versions) == 2:
                    break
            return versions

    assert asyncio.run(run()) == ["1.0.0", "1.1.0"]


def test_since_must_be_a_revision_number() -> None:
    client = AsyncRegistryClient("http://127.0.0.1:9")
    with pytest.raises(ValueError, match="since must be a revision number"):
        client.events(since=-1)
    asyncio.run(client.close())


def test_a_stream_that_cannot_start_raises_store_error() -> None:
    async def run() -> None:
        async with AsyncRegistryClient("http://127.0.0.1:9", timeout=1.0) as client:
            with pytest.raises(RegistryError, match="127.0.0.1:9"):
                async for _ in client.events():
                    pass

    asyncio.run(run())


def test_aclose_ends_the_iteration(module_server: Running) -> None:
    async def run() -> None:
        async with AsyncRegistryClient(module_server.url) as client:
            events = client.events()
            await events.start()
            await events.aclose()
            assert [event async for event in events] == []

    asyncio.run(run())


@pytest.mark.skipif(not HAS_SQLITE, reason="needs modelreg.stores.sqlite (a durable registry)")
def test_a_restarted_server_over_the_same_store_resumes_without_a_gap(
    tmp_path: Path, start_server: StartServer
) -> None:
    first = start_server(registry_url(tmp_path, "kept"))

    async def run() -> list[str | None]:
        async with AsyncRegistryClient(first.url) as client, client.events() as events:
            await client.register_model("ev-resume", "1.0.0", metadata())
            seen = await _take(events, 1)
            assert first.process.stop() == 0
            second = start_server(first.registry_url, port=_port(first.url))
            await client.register_model("ev-resume", "2.0.0", metadata())  # retried until the server is back
            await client.register_model("ev-resume", "3.0.0", metadata())
            seen += await _take(events, 2)
            assert "Traceback" not in second.logs()
            return [e.version for e in seen]

    assert asyncio.run(run()) == ["1.0.0", "2.0.0", "3.0.0"]


def test_a_server_restarted_over_a_fresh_store_raises_store_changed(start_server: StartServer) -> None:
    first = start_server("memory://")

    async def run() -> RegistryError:
        async with AsyncRegistryClient(first.url) as client, client.events() as events:
            await client.register_model("ev-fresh", "1.0.0", metadata())
            assert [e.version for e in await _take(events, 1)] == ["1.0.0"]
            assert first.process.stop() == 0
            start_server("memory://", port=_port(first.url))  # revision 0, another store id
            await client.register_model("ev-fresh", "2.0.0", metadata())
            with pytest.raises(RegistryError) as ended:
                await asyncio.wait_for(anext(events), WAIT)
            with pytest.raises(RegistryError) as again:  # never a silent end after it
                await anext(events)
            assert again.value is ended.value and events.error is ended.value
            return ended.value

    error = asyncio.run(run())
    assert error.code == "store_changed"
    assert "now serves another store" in str(error)


@pytest.mark.skipif(not HAS_SQLITE, reason="needs modelreg.stores.sqlite (a durable registry)")
def test_a_server_restarted_over_an_older_copy_raises_unknown_revision(
    tmp_path: Path, start_server: StartServer
) -> None:
    url = registry_url(tmp_path, "rewound")
    first = start_server(url)
    database = Path(url.removeprefix("sqlite:///"))

    async def run() -> RegistryError:
        async with AsyncRegistryClient(first.url) as client, client.events() as events:
            await client.register_model("ev-rewound", "1.0.0", metadata())
            await _take(events, 1)
            assert first.process.stop() == 0
            shutil.copy(database, tmp_path / "backup.db")  # the copy holds revision 1 only
            second = start_server(url, port=_port(first.url))
            await client.register_model("ev-rewound", "2.0.0", metadata())
            await _take(events, 1)
            assert second.process.stop() == 0
            shutil.copy(tmp_path / "backup.db", database)  # restored from the older copy
            start_server(url, port=_port(first.url))
            with pytest.raises(RegistryError) as ended:
                await asyncio.wait_for(anext(events), WAIT)
            return ended.value

    error = asyncio.run(run())
    assert error.code == "unknown_revision"
    assert "behind revision 2" in str(error)


def test_subscribe_calls_a_coroutine_callback_and_close_stops_it(module_server: Running) -> None:
    async def run() -> list[str | None]:
        seen: list[str | None] = []
        arrived = asyncio.Event()

        async def record(event: RegistryEvent) -> None:
            seen.append(event.version)
            arrived.set()

        async with AsyncRegistryClient(module_server.url) as client:
            subscription = await client.subscribe(record)
            await client.register_model("ev-sub", "1.0.0", metadata())
            await asyncio.wait_for(arrived.wait(), WAIT)
            await subscription.close()
            assert subscription.closed and subscription.error is None
            await client.register_model("ev-sub", "2.0.0", metadata())
            await asyncio.sleep(0.2)
        return seen

    assert asyncio.run(run()) == ["1.0.0"]


def test_a_since_the_store_never_reached_is_refused_at_the_start(module_server: Running) -> None:
    async def run() -> RegistryError:
        async with AsyncRegistryClient(module_server.url) as client:
            with pytest.raises(RegistryError) as refused:
                async for _ in client.events(since=10**9):
                    pass
            return refused.value

    assert asyncio.run(run()).code == "unknown_revision"
