"""RegistryMirror through outages against a real server: killed and restarted, rewound, replaced; its cache file."""

from __future__ import annotations

import logging
import shutil
import signal
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from factories import metadata
from modelreg import StoreError, open_registry
from modelreg.client import RegistryClient
from modelreg.client.mirror import RegistryMirror
from support.serverkit import StartServer


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _until(check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "not reached in time"
        time.sleep(0.05)


def _write_offline(url: str, *versions: str) -> int:
    """Register ``versions`` of model a straight into the store while no server runs; its revision after."""
    with open_registry(url) as store:
        for version in versions:
            store.register_model("a", version, metadata())
        return store.revision  # type: ignore[attr-defined, no-any-return]


def test_reads_go_on_through_a_killed_server_and_resume_without_a_gap(start_server: StartServer) -> None:
    port = _free_port()
    server = start_server(port=port)
    with RegistryMirror(server.url) as mirror:
        mirror.register_model("a", "1.0.0", metadata())
        mirror.set_alias("a", "production", "1.0.0")
        server.process.stop(signal.SIGKILL)
        assert mirror.resolve("a", "production") == "1.0.0"  # answered from the last state
        _until(lambda: mirror.lag > 0.2)
        revision = _write_offline(server.registry_url, "1.1.0", "2.0.0")
        with pytest.raises(StoreError):
            mirror.register_model("a", "3.0.0", metadata())  # writes need the server
        start_server(server.registry_url, port=port)
        mirror.wait_for(revision, timeout=30)
        assert mirror.get_versions("a") == ["1.0.0", "1.1.0", "2.0.0"]  # the changes made meanwhile, none skipped
        _until(lambda: mirror.lag == 0.0)


def test_a_rewound_store_is_swapped_in_whole(start_server: StartServer, tmp_path: Path) -> None:
    port = _free_port()
    server = start_server(port=port)
    database = Path(server.registry_url.removeprefix("sqlite:///"))
    with RegistryMirror(server.url) as mirror:
        mirror.register_model("a", "1.0.0", metadata())
        server.process.stop()
        shutil.copy(database, tmp_path / "backup.db")  # a clean stop leaves the WAL checkpointed
        server = start_server(server.registry_url, port=port)
        mirror.register_model("a", "2.0.0", metadata())
        mirror.register_model("b", "1.0.0", metadata())
        assert mirror.get_all_model_names() == ["a", "b"]
        server.process.stop()
        for leftover in database.parent.glob(database.name + "-*"):
            leftover.unlink()
        shutil.copy(tmp_path / "backup.db", database)  # restored from the older copy
        seen: set[frozenset[tuple[str, str]]] = set()
        reading = threading.Event()

        def read() -> None:  # each search answers from one state: the old copy or the new, never a mix
            while not reading.is_set():
                seen.add(frozenset((item.name, item.version) for item in mirror.search().items))

        reader = threading.Thread(target=read)
        reader.start()
        try:
            start_server(server.registry_url, port=port)
            _until(lambda: mirror.revision == 1)
            assert mirror.get_all_model_names() == ["a"] and mirror.get_versions("a") == ["1.0.0"]
            mirror.register_model("c", "1.0.0", metadata())  # and it follows the restored store from there
            assert mirror.get_all_model_names() == ["a", "c"]
        finally:
            reading.set()
            reader.join()
        old, rewound, after = {("a", "1.0.0"), ("a", "2.0.0"), ("b", "1.0.0")}, {("a", "1.0.0")}, {("a", "1.0.0"),
                                                                                                     ("c", "1.0.0")}
        assert seen <= {frozenset(old), frozenset(rewound), frozenset(after)} and frozenset(rewound) in seen


def test_another_store_behind_the_same_url_replaces_the_copy(start_server: StartServer, tmp_path: Path) -> None:
    port = _free_port()
    server = start_server(port=port)
    with RegistryMirror(server.url) as mirror:
        mirror.register_model("old", "1.0.0", metadata())
        old_store = mirror.store_id
        server.process.stop()
        other = start_server(f"sqlite:///{tmp_path / 'other.db'}", port=port)
        with RegistryClient(other.url) as client:
            for i in range(3):
                client.register_model("new", f"1.{i}.0", metadata())
            _until(lambda: mirror.store_id == client.store_id)
        assert mirror.store_id != old_store
        # The new snapshot may be of revision 1 or 2: wait for the third registration's event too.
        _until(lambda: mirror.get_all_model_names() == ["new"] and mirror.revision == 3)
        assert mirror.get_versions("new") == ["1.0.0", "1.1.0", "1.2.0"] and mirror.revision == 3


def test_a_deployer_restarting_during_an_outage_answers_from_its_cache(
    start_server: StartServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    port = _free_port()
    cache = tmp_path / "mirror-cache.ndjson"
    server = start_server(port=port)
    with RegistryMirror(server.url, models=["a"], cache_path=cache) as mirror:
        mirror.register_model("a", "1.0.0", metadata())
        mirror.set_alias("a", "production", "1.0.0")
    server.process.stop(signal.SIGKILL)
    with pytest.raises(StoreError, match="cannot reach"):
        RegistryMirror(server.url, models=["a"])  # no cache: nothing to answer from
    with caplog.at_level(logging.WARNING, logger="modelreg.mirror"):
        restarted = RegistryMirror(server.url, models=["a"], cache_path=cache)
    with restarted:
        assert "answering from the cached copy at revision 2" in caplog.text
        assert restarted.resolve("a", "production") == "1.0.0" and restarted.lag > 0
        revision = _write_offline(server.registry_url, "2.0.0")
        start_server(server.registry_url, port=port)
        restarted.wait_for(revision, timeout=30)
        assert restarted.get_versions("a") == ["1.0.0", "2.0.0"]
    assert not list(tmp_path.glob("*.tmp")), "the cache is written through a temporary file, renamed"


def test_a_cache_for_other_models_is_not_used(start_server: StartServer, tmp_path: Path) -> None:
    port = _free_port()
    cache = tmp_path / "cache.ndjson"
    server = start_server(port=port)
    with RegistryMirror(server.url, models=["a"], cache_path=cache) as mirror:
        mirror.register_model("a", "1.0.0", metadata())
    server.process.stop(signal.SIGKILL)
    with pytest.raises(StoreError):
        RegistryMirror(server.url, models=["b"], cache_path=cache)


