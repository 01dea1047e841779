"""Slow and idle clients cannot exhaust a real ``modelreg serve``: timeouts, a header limit, a connection cap."""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from fixtures.http_backend import ServerProcess
from modelreg.server.auth import TOKENS_ENV
from support.serverkit import registry_url

TIMEOUT = 1.5  # the header and body timeouts the servers here run with, so each test takes seconds
SLACK = 4  # a loaded machine: a connection must be closed within SLACK x its timeout


def _cli_server(tmp_path: Path, name: str, *flags: str, nofile: int | None = None) -> ServerProcess:
    """``modelreg serve`` with ``flags`` in a new process, optionally under a low RLIMIT_NOFILE."""
    argv = [sys.executable, "-m", "modelreg", "--registry", registry_url(tmp_path, name), "serve", "--port", "0",
            "--no-access-log", *flags]
    if nofile is not None:  # what `prlimit --nofile=N` does, without needing util-linux
        limit = f"import os, resource, sys; resource.setrlimit(resource.RLIMIT_NOFILE, ({nofile}, {nofile}))"
        argv = [sys.executable, "-c", f"{limit}; os.execv(sys.executable, {argv!r})"]
    env = {k: v for k, v in os.environ.items() if k != TOKENS_ENV}
    process = ServerProcess(argv, tmp_path / f"{name}.log", {**env, "PYTHONUNBUFFERED": "1"})
    try:
        process.wait_listening()
    except BaseException:
        process.stop()
        raise
    return process


def _address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    return parts.hostname, parts.port


def _answer(sock: socket.socket, within: float) -> bytes:
    """Everything the server sends until it closes the connection (b"" if it closes without a word)."""
    sock.settimeout(within)
    data = b""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk
    raise AssertionError(f"the connection was still open after {within} s (got {data[:200]!r})")


def _status(answer: bytes) -> int | None:
    found = re.match(rb"HTTP/1\.1 (\d{3}) ", answer)
    return int(found[1]) if found else None


def _problem_code(answer: bytes) -> str:
    return str(json.loads(answer.partition(b"\r\n\r\n")[2])["code"])


def _rss_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    found = re.search(r"VmRSS:\s+(\d+) kB", status)
    assert found is not None
    return int(found[1]) / 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server with short timeouts and an 8 KiB header limit."""
    process = _cli_server(tmp_path_factory.mktemp("slow-clients"), "registry", "--header-timeout", str(TIMEOUT),
                          "--body-timeout", str(TIMEOUT), "--max-header-bytes", "8192")
    try:
        yield process
    finally:
        process.stop()


def test_connection_that_sends_nothing_is_closed_after_the_header_timeout(server: ServerProcess) -> None:
    with socket.create_connection(_address(server.url)) as idle:
        started = time.monotonic()
        assert _answer(idle, SLACK * TIMEOUT) == b""
    assert time.monotonic() - started >= TIMEOUT * 0.9


def test_headers_without_the_blank_line_get_408_after_the_header_timeout(server: ServerProcess) -> None:
    with socket.create_connection(_address(server.url)) as slow:
        slow.sendall(b"GET /api/v1/models HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n")
        answer = _answer(slow, SLACK * TIMEOUT)
    assert _status(answer) == 408 and _problem_code(answer) == "request_timeout"


def test_headers_dripped_a_byte_at_a_time_are_cut_off_at_the_header_timeout(server: ServerProcess) -> None:
    request = b"GET /api/v1/models HTTP/1.1\r\nHost: localhost\r\nX-Pad: " + b"a" * 100 + b"\r\n\r\n"
    with socket.create_connection(_address(server.url)) as drip:
        started = time.monotonic()
        for byte in request:  # every byte is progress, but the headers as a whole are on one clock
            if select.select([drip], [], [], 0.3)[0]:
                break  # the server has answered
            drip.sendall(bytes([byte]))
        answer = _answer(drip, SLACK * TIMEOUT)
    assert _status(answer) == 408
    assert time.monotonic() - started < SLACK * TIMEOUT


def test_body_that_stalls_gets_408_after_the_body_timeout(server: ServerProcess) -> None:
    with socket.create_connection(_address(server.url)) as stalled:
        stalled.sendall(b"PUT /api/v1/models/stall/versions/1.0.0 HTTP/1.1\r\nHost: localhost\r\n"
                        b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"art")
        answer = _answer(stalled, SLACK * TIMEOUT)
    assert _status(answer) == 408 and "body" in json.loads(answer.partition(b"\r\n\r\n")[2])["detail"]
    assert httpx.get(f"{server.url}/api/v1/models/stall/versions").json()["versions"] == []  # nothing stored


def test_headers_over_the_limit_get_431_without_being_buffered(server: ServerProcess) -> None:
    with socket.create_connection(_address(server.url)) as big:
        big.sendall(b"GET /api/v1/models HTTP/1.1\r\nHost: localhost\r\nX-Big: ")
        sent = 0
        try:
            while sent < 32 * 1024 * 1024:  # a 32 MiB header, never finished
                big.sendall(b"a" * 65536)
                sent += 65536
        except OSError:  # the server answered and closed long before
            pass
        answer = _answer(big, SLACK * TIMEOUT)
    assert sent < 32 * 1024 * 1024
    assert _status(answer) in (431, None)  # the 431 may be lost to the reset of a write in flight


def test_complete_headers_over_the_limit_get_431(server: ServerProcess) -> None:
    with socket.create_connection(_address(server.url)) as big:
        big.sendall(b"GET /api/v1/models HTTP/1.1\r\nHost: localhost\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n")
        answer = _answer(big, SLACK * TIMEOUT)
    assert _status(answer) == 431 and _problem_code(answer) == "headers_too_large"
    assert "8192 bytes" in answer.decode()


def test_headers_just_under_the_limit_are_served(server: ServerProcess) -> None:
    response = httpx.get(f"{server.url}/api/v1/models", headers={"X-Pad": "a" * 7000})
    assert response.status_code == 200


def test_keep_alive_connection_serves_requests_slower_than_the_header_timeout(server: ServerProcess) -> None:
    with httpx.Client(base_url=server.url) as client:
        for _ in range(3):
            assert client.get("/api/v1/models").status_code == 200
        # Idle longer than the header timeout: closed in between, and httpx reconnects.
        time.sleep(TIMEOUT * 1.5)
        assert client.get("/api/v1/models").status_code == 200


def test_event_stream_outlives_the_header_and_body_timeouts(server: ServerProcess) -> None:
    with httpx.stream("GET", f"{server.url}/api/v1/events", timeout=30) as stream:
        lines = stream.iter_lines()
        assert any(line.startswith("event: ready") for line in lines)
        time.sleep(TIMEOUT * 3)
        httpx.put(f"{server.url}/api/v1/models/streamed/versions/1.0.0",
                  json={"training_date": "2026-01-05T00:00:00Z", "artifact_path": "s3://x"}).raise_for_status()
        assert any(line.startswith("event: registered") for line in lines)


def test_a_new_connection_is_refused_quickly_when_every_connection_is_busy(tmp_path: Path) -> None:
    server = _cli_server(tmp_path, "busy", "--max-connections", "2")
    try:
        with httpx.stream("GET", f"{server.url}/api/v1/events", timeout=30) as one, \
             httpx.stream("GET", f"{server.url}/api/v1/events", timeout=30) as two:
            assert one.status_code == two.status_code == 200
            started = time.monotonic()
            response = httpx.get(f"{server.url}/api/v1/models", timeout=10)
            assert response.status_code == 503 and response.json()["code"] == "too_many_connections"
            assert time.monotonic() - started < 5
        assert httpx.get(f"{server.url}/api/v1/models").status_code == 200
    finally:
        server.stop()


def test_unfinished_headers_of_all_connections_together_are_bounded(tmp_path: Path) -> None:
    # --max-header-bytes 1024: all connections together may hold 1024 x 1024 bytes of unfinished headers.
    server = _cli_server(tmp_path, "budget", "--max-header-bytes", "1024", "--header-timeout", "60")
    held: list[socket.socket] = []
    try:
        for _ in range(1200):  # 1,200 x 1,000 bytes: the oldest must go
            sock = socket.create_connection(_address(server.url))
            sock.sendall(b"GET /api/v1/models HTTP/1.1\r\nX-Pad: " + b"a" * 963)
            held.append(sock)
        assert httpx.get(f"{server.url}/api/v1/models", timeout=10).status_code == 200
        time.sleep(0.5)
        closed = []
        for sock in held:
            sock.settimeout(0.005)
            try:
                closed.append(sock.recv(1) == b"")
            except TimeoutError:
                closed.append(False)
        assert 100 <= sum(closed) <= 400  # about 1,200,000 - 1,048,576 bytes' worth, oldest first
        assert all(closed[: sum(closed) - 10]) and not any(closed[-100:])
    finally:
        for sock in held:
            sock.close()
        server.stop()


class _Attacker:
    """Keeps opening connections that never finish a request, replacing each one the server closes."""

    def __init__(self, address: tuple[str, int], count: int) -> None:
        self.address = address
        self.count = count
        self.held: list[tuple[socket.socket, bytes]] = []  # and what it has yet to drip
        self.opened = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> _Attacker:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)
        for sock, _ in self.held:
            sock.close()

    def _open(self) -> None:
        kind = self.opened % 4
        sock = socket.create_connection(self.address, timeout=5)
        sock.setblocking(False)
        self.opened += 1
        drip = b""
        if kind == 1:  # headers without the blank line
            sock.send(b"GET /api/v1/models HTTP/1.1\r\nHost: localhost\r\n")
        elif kind == 2:  # a PUT that sends 5 of 1,000 declared bytes
            sock.send(b"PUT /api/v1/models/slow/versions/1.0.0 HTTP/1.1\r\nHost: localhost\r\n"
                      b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"ab")
        elif kind == 3:  # a request sent 1 byte every 2 s
            drip = b"GET /api/v1/models HTTP/1.1\r\nHost: localhost\r\nX-Slow: " + b"a" * 1000
        self.held.append((sock, drip))

    def _run(self) -> None:
        last_drip = time.monotonic()
        while not self._stop.is_set():
            alive = []
            for sock, drip in self.held:
                try:
                    closed = sock.recv(65536) == b""
                except BlockingIOError:
                    closed = False
                except OSError:
                    closed = True
                if closed:
                    sock.close()
                else:
                    alive.append((sock, drip))
            self.held = alive
            if time.monotonic() - last_drip >= 2:
                last_drip = time.monotonic()
                for i, (sock, drip) in enumerate(self.held):
                    if drip:
                        with contextlib.suppress(OSError):
                            sock.send(drip[:1])
                        self.held[i] = (sock, drip[1:])
            while len(self.held) < self.count and not self._stop.is_set():
                try:
                    self._open()
                except OSError:
                    break
            self._stop.wait(0.05)


@pytest.mark.slow
def test_normal_requests_succeed_while_an_attacker_holds_every_connection_it_can(tmp_path: Path) -> None:
    server = _cli_server(tmp_path, "attacked", "--header-timeout", "3", "--body-timeout", "3", nofile=256)
    try:
        cap = int(server.wait_for(r"limits: (\d+) connections")[1])
        assert 100 < cap < 256  # derived from RLIMIT_NOFILE, with headroom
        address = _address(server.url)
        before = _rss_mib(server.proc.pid)
        with _Attacker(address, count=2 * cap) as attacker:
            time.sleep(3)
            statuses = []
            for _ in range(20):
                statuses.append(httpx.get(f"{server.url}/api/v1/models", timeout=5).status_code)
                time.sleep(0.1)
            with httpx.Client(base_url=server.url, timeout=5) as keep_alive:
                statuses += [keep_alive.get("/api/v1/models").status_code for _ in range(20)]
            with socket.create_connection(address) as big:  # and a 32 MiB header on top
                try:
                    for _ in range(512):
                        big.sendall(b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 65536)
                except OSError:
                    pass
            statuses.append(httpx.get(f"{server.url}/api/v1/models", timeout=5).status_code)
            peak = _rss_mib(server.proc.pid)
            print(f"RSS {before:.1f} -> {peak:.1f} MiB; attacker opened {attacker.opened} connections, cap {cap}")
            assert attacker.opened > 2 * cap  # the server shed and closed what it could not hold
        assert statuses == [200] * len(statuses)
        assert peak - before < 24, f"RSS grew from {before:.0f} to {peak:.0f} MiB"
        # The attacker's connections, left alone, are all closed after the timeouts.
        left = [socket.create_connection(address) for _ in range(50)]
        time.sleep(3 * SLACK)
        assert [_answer(sock, 1) for sock in left] == [b""] * 50
        for sock in left:
            sock.close()
        assert server.proc.poll() is None
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("header_timeout", 0, "header_timeout must be a number of seconds above 0"),
        ("body_timeout", float("nan"), "body_timeout must be a number of seconds above 0"),
        ("max_header_bytes", 0, "max_header_bytes must be a positive int"),
        ("max_connections", 10**9, r"max_connections=1000000000 is more than the file-descriptor limit allows"),
    ],
)
def test_serve_refuses_limits_it_cannot_honour(option: str, value: object, message: str) -> None:
    from modelreg.server import serve

    # An unknown scheme: were the limit let through, opening the registry would fail right after binding.
    with pytest.raises(ValueError, match=message):
        serve("unserved://", port=0, **{option: value})
