"""A subscription whose server comes back with another or a rewound store ends, saying why; it never skips."""

from __future__ import annotations

import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from factories import metadata, wait_until
from modelreg import RegistryError, RegistryEvent, open_registry
from modelreg.client import RegistryClient
from support.serverkit import HAS_SQLITE, StartServer, registry_url

needs_sqlite = pytest.mark.skipif(not HAS_SQLITE, reason="needs modelreg.stores.sqlite (a durable registry)")
WAIT = 30.0  # seconds: an upper bound for the reconnect, never a speed target


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def _remove_database(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def test_a_server_restarted_over_a_fresh_memory_store_ends_the_subscription(start_server: StartServer) -> None:
    first = start_server("memory://")
    seen: list[RegistryEvent] = []
    with RegistryClient(first.url) as client:
        subscription = client.subscribe(seen.append)
        client.register_model("reset-mem", "1.0.0", metadata())
        assert wait_until(lambda: len(seen) == 1)
        assert first.process.stop() == 0

        second = start_server("memory://", port=_port(first.url))  # revision 0: behind what was delivered
        assert wait_until(lambda: subscription.closed, timeout=WAIT)
        client.register_model("reset-mem", "2.0.0", metadata())

    assert subscription.error is not None and subscription.error.code == "store_changed"
    assert "now serves another store" in str(subscription.error)
    assert [e.version for e in seen] == ["1.0.0"]
    assert "Traceback" not in second.logs()  # the 410 is an answer, not an incident


@needs_sqlite
def test_a_server_restarted_over_a_recreated_sqlite_file_ends_the_subscription_before_its_events(
    tmp_path: Path, start_server: StartServer
) -> None:
    url = registry_url(tmp_path, "recreated")
    first = start_server(url)
    seen: list[RegistryEvent] = []
    with RegistryClient(first.url) as client:
        subscription = client.subscribe(seen.append)
        client.register_model("reset-file", "1.0.0", metadata())
        assert wait_until(lambda: len(seen) == 1)
        assert first.process.stop() == 0
        _remove_database(tmp_path / "recreated.db")
        with open_registry(url) as fresh:  # type: ignore[attr-defined]  # ahead of revision 1: 410 cannot tell
            for version in ["5.0.0", "6.0.0", "7.0.0"]:
                fresh.register_model("reset-file", version, metadata())

        start_server(url, port=_port(first.url))
        assert wait_until(lambda: subscription.closed, timeout=WAIT)

    assert subscription.error is not None and subscription.error.code == "store_changed"
    assert [e.version for e in seen] == ["1.0.0"]  # none of the new file's revisions 2 and 3


@needs_sqlite
def test_a_server_restarted_over_a_sqlite_file_restored_from_a_backup_ends_the_subscription(
    tmp_path: Path, start_server: StartServer
) -> None:
    url = registry_url(tmp_path, "restored")
    path, backup = tmp_path / "restored.db", tmp_path / "backup.db"
    first = start_server(url)
    seen: list[RegistryEvent] = []
    with RegistryClient(first.url) as client:
        subscription = client.subscribe(seen.append)
        client.register_model("reset-backup", "1.0.0", metadata())
        with closing(sqlite3.connect(path)) as live, closing(sqlite3.connect(backup)) as copy:
            live.backup(copy)  # the same store (same id) at revision 1
        client.register_model("reset-backup", "2.0.0", metadata())
        assert wait_until(lambda: len(seen) == 2)
        assert first.process.stop() == 0
        _remove_database(path)
        shutil.copyfile(backup, path)

        start_server(url, port=_port(first.url))
        assert wait_until(lambda: subscription.closed, timeout=WAIT)

    assert subscription.error is not None and subscription.error.code == "unknown_revision"
    assert "is at revision 1, behind revision 2" in str(subscription.error)
    assert [e.version for e in seen] == ["1.0.0", "2.0.0"]


def test_subscribing_since_a_revision_the_server_has_not_reached_is_refused(start_server: StartServer) -> None:
    server = start_server("memory://")
    with RegistryClient(server.url) as client, pytest.raises(RegistryError) as refused:
        client.subscribe(lambda event: None, since=1_000_000)
    assert refused.value.code == "unknown_revision"
    assert "is at revision 0, so it has no revision 1000000" in str(refused.value)


def test_a_subscription_that_keeps_its_store_has_no_error(start_server: StartServer) -> None:
    server = start_server("memory://")
    with RegistryClient(server.url) as client, client.subscribe(lambda event: None) as subscription:
        client.register_model("reset-none", "1.0.0", metadata())
        assert (subscription.closed, subscription.error) == (False, None)


@pytest.mark.parametrize(("problem", "code", "says"), [
    ({"code": "unknown_revision", "revision": 0, "since": 7, "store": "b" * 32}, "store_changed",
     f"now serves another store (id {'b' * 32}, at revision 0)"),
    ({"code": "unknown_revision", "revision": 3, "since": 7, "store": "a" * 32}, "unknown_revision",
     "is at revision 3, behind revision 7"),
    ({"code": "events_unavailable", "available_after": 20000}, "events_unavailable",
     "no longer keeps the events after revision 7 (it keeps those after revision 20000)"),
])
def test_a_410_on_reconnecting_ends_the_subscription_with_a_code_saying_why(
    problem: dict[str, object], code: str, says: str
) -> None:
    import httpx

    from modelreg.client._events import EventStream

    with RegistryClient("http://127.0.0.1:9") as client:  # never connected: the answer is given to it
        stream = EventStream(client, lambda event: None, on_stop=lambda stream: None, since=7)
        stream._store = "a" * 32  # what the first hello named
        error = stream._gone(httpx.Response(410, json={"status": 410, **problem}))
    assert error.code == code
    assert says in str(error)
