"""EventFeed in-process: many streams woken together still get every change once, in order."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator

import pytest

from factories import metadata
from modelreg import MemoryRegistry
from modelreg.server.problems import HTTPProblem
from modelreg.server.sse import EventFeed

WAIT = 30.0  # seconds: an upper bound, never a speed target


async def _read(stream: AsyncIterator[str], until: int, into: list[str]) -> None:
    async for text in stream:
        into.append(text)
        if f"id: {until}\n" in text:
            return


def test_every_stream_gets_every_change_once_in_order_however_they_are_batched() -> None:
    registry = MemoryRegistry()
    feed = EventFeed(registry, log=registry)  # as create_app passes a registry that keeps an event log
    count, streams = 300, 40

    async def scenario() -> list[list[str]]:
        texts: list[list[str]] = [[] for _ in range(streams)]
        readers = [asyncio.create_task(_read(feed.stream(0), count, texts[i])) for i in range(streams)]

        def write() -> None:
            for i in range(count):
                registry.register_model("fan", f"1.0.{i}", metadata())

        await asyncio.to_thread(write)
        await asyncio.wait_for(asyncio.gather(*readers), WAIT)
        return texts

    try:
        texts = asyncio.run(scenario())
    finally:
        feed.close()

    for chunks in texts:
        hello, ready = chunks[0].split("\n\n")[:2]
        said = json.loads(hello.rsplit("data: ", 1)[1])
        assert said["store"] == registry.store_id and 0 <= said["revision"] <= count  # the revision at connect
        assert ready.startswith("id: 0\nevent: ready")
        revisions = [int(found) for found in re.findall(r"^id: (\d+)$", "".join(chunks[1:]), re.M)]
        assert revisions == list(range(1, count + 1))


def test_a_stream_far_behind_catches_up_from_the_buffer_a_thousand_events_at_a_time() -> None:
    registry = MemoryRegistry()
    feed = EventFeed(registry, log=registry)  # as create_app passes a registry that keeps an event log
    for i in range(2500):
        registry.register_model("behind", f"1.0.{i}", metadata())
    registry.close()  # every event has reached the feed

    async def scenario() -> list[str]:
        chunks: list[str] = []
        await asyncio.wait_for(_read(feed.stream(0), 2500, chunks), WAIT)
        return chunks

    try:
        chunks = asyncio.run(scenario())
    finally:
        feed.close()
    sizes = [len(re.findall(r"^id: \d+$", chunk, re.M)) for chunk in chunks[1:]]
    assert sizes == [1000, 1000, 500]
    assert [int(n) for n in re.findall(r"^id: (\d+)$", "".join(chunks[1:]), re.M)] == list(range(1, 2501))


def test_a_silent_stream_gets_a_keep_alive_comment() -> None:
    feed = EventFeed(MemoryRegistry(), heartbeat=0.3)

    async def scenario() -> str:
        stream = feed.stream(0)
        await anext(stream)  # hello and ready
        return await asyncio.wait_for(anext(stream), WAIT)

    try:
        assert asyncio.run(scenario()) == ": keep-alive\n\n"
    finally:
        feed.close()


def test_closing_the_feed_ends_every_stream() -> None:
    feed = EventFeed(MemoryRegistry())

    async def scenario() -> None:
        readers = [asyncio.create_task(_read(feed.stream(0), 10**9, [])) for _ in range(50)]
        await asyncio.sleep(0.05)  # every stream is waiting for events
        feed.close()
        await asyncio.wait_for(asyncio.gather(*readers), WAIT)
        assert feed.clients == 0

    asyncio.run(scenario())


def test_a_revision_the_registry_has_not_reached_is_refused_with_both_numbers() -> None:
    registry = MemoryRegistry()
    registry.register_model("m", "1.0.0", metadata())
    feed = EventFeed(registry, log=registry)  # as create_app passes a registry that keeps an event log
    try:
        assert feed.start(1) == 1
        with pytest.raises(HTTPProblem) as gone:
            feed.start(2)
    finally:
        feed.close()
    assert (gone.value.status, gone.value.code) == (410, "unknown_revision")
    assert gone.value.extra == {"revision": 1, "since": 2, "store": registry.store_id}
