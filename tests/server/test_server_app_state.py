"""The app's state is its own, made with it; capabilities are declared, not probed; no role by default."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from factories import metadata
from modelreg import EventLog, MemoryRegistry, ModelRegistry, open_registry
from modelreg.server import create_app
from modelreg.server.auth import Role
from modelreg.server.call import Call
from modelreg.server.problems import HTTPProblem
from modelreg.server.sse import EventFeed
from support.serverkit import HAS_SQLITE, registry_url

needs_sqlite = pytest.mark.skipif(not HAS_SQLITE, reason="needs modelreg.stores.sqlite (a durable registry)")
_LOG_NAMES = frozenset({"revision", "store_id", "events_after", "refresh"})


class PlainRegistry:
    """A user's own ModelRegistry that keeps no event log (wraps a MemoryRegistry, hides its log)."""

    def __init__(self) -> None:
        self._inner = MemoryRegistry()

    def __getattr__(self, name: str) -> Any:
        if name in _LOG_NAMES:
            raise AttributeError(name)
        return getattr(self._inner, name)

    def __enter__(self) -> PlainRegistry:
        return self

    def __exit__(self, *exc: object) -> None:
        self._inner.close()


def _drive(app: Any, *requests: tuple[str, str, bytes | None]) -> list[httpx.Response]:
    """Answer requests with the app in-process, without the lifespan protocol (as httpx's ASGI transport does)."""

    async def run() -> list[httpx.Response]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app") as http:
            return [await http.request(method, path, content=body,
                                       headers={"Content-Type": "application/json"}) for method, path, body in requests]

    return asyncio.run(run())


def test_a_registry_without_an_event_log_is_served_with_changes_from_the_servers_buffer() -> None:
    registry = PlainRegistry()
    assert isinstance(registry, ModelRegistry) and not isinstance(registry, EventLog)
    app = create_app(registry)  # type: ignore[arg-type]
    assert app.log is None

    body = metadata().to_json().encode()
    put, changes, gauges = _drive(app, ("PUT", "/api/v1/models/plain/versions/1.0.0", body),
                                  ("GET", "/api/v1/changes?after=0", None), ("GET", "/metrics", None))
    app.events.close()
    registry._inner.close()

    assert put.status_code == 201, put.text  # a write without lifespan: the limiter was made with the app
    assert changes.status_code == 200 and changes.json()["store"] == app.events.store_id
    assert "modelreg_registry_revision" not in gauges.text  # no log, no revision to report


@needs_sqlite
def test_an_event_log_registry_is_decided_once_and_used_for_revision_and_store(tmp_path: Path) -> None:
    with open_registry(registry_url(tmp_path)) as registry:
        registry.register_model("logged", "1.0.0", metadata())
        app = create_app(registry)
        (changes,) = _drive(app, ("GET", "/api/v1/changes?after=0", None))
        app.events.close()

    assert isinstance(registry, EventLog) and app.log is registry
    assert changes.json()["store"] == registry.store_id and changes.json()["revision"] == 1
    assert [event["version"] for event in changes.json()["events"]] == ["1.0.0"]  # from the store's log


def test_each_app_has_its_own_metadata_cache_and_write_limiter() -> None:
    with MemoryRegistry() as first, MemoryRegistry() as second:
        one, two = create_app(first), create_app(second)
        meta = metadata()
        body = one.bodies.body(meta)

        assert one.bodies is not two.bodies and one.write_limiter is not two.write_limiter
        assert id(meta) in one.bodies._entries and id(meta) not in two.bodies._entries
        assert body == meta.to_json().encode()
        one.events.close()
        two.events.close()


def test_a_call_no_auth_decision_granted_a_role_is_refused_everything() -> None:
    with MemoryRegistry() as registry:
        app = create_app(registry)
        call = Call(app, {"type": "http", "headers": []}, None, {})  # type: ignore[arg-type]
        for role in Role:
            with pytest.raises(HTTPProblem) as refused:
                call.require(role, "this")
            assert refused.value.status == 403 and "has no role" in refused.value.detail
        call.role = Role.READ
        call.require(Role.READ, "reading")
        app.events.close()


def test_changes_from_the_buffer_refuse_events_it_has_dropped() -> None:
    registry = MemoryRegistry()
    feed = EventFeed(registry, limit=10)  # no log
    try:
        for minor in range(12):
            registry.register_model("changes-old", f"1.{minor}.0", metadata())
        registry.close()  # delivers the queued events to the feed
        with pytest.raises(HTTPProblem) as gone:
            feed.changes(1, 100)
        assert gone.value.code == "events_unavailable" and gone.value.extra == {"available_after": 2}
        store, revision, events = feed.changes(2, 5)
        assert (store, revision) == (feed.store_id, 12) and [e.revision for e in events] == [3, 4, 5, 6, 7]
        assert feed.changes(None, 5) == (feed.store_id, 12, [])
    finally:
        feed.close()


@pytest.mark.parametrize(("query", "problem"), [
    ("limit=0", "invalid_parameter"), ("limit=1001", "invalid_parameter"), ("limit=x", "invalid_parameter"),
    ("after=-1", "invalid_parameter"), ("after=1&after=2", "invalid_parameter"), ("since=1", "invalid_parameter"),
    ("after=99", "unknown_revision"),
])
def test_changes_refuses_bad_or_unreached_positions(query: str, problem: str) -> None:
    with MemoryRegistry() as registry:
        app = create_app(registry)
        (response,) = _drive(app, ("GET", f"/api/v1/changes?{query}", None))
        app.events.close()

    assert response.json()["code"] == problem and response.status_code == (410 if "unknown" in problem else 400)
    assert "limit" in response.text or "after" in response.text or "since" in response.text
