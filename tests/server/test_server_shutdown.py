"""SIGTERM: in-flight requests finish, event streams end, the registry is closed, the process exits 0."""

from __future__ import annotations

import json
import signal
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from factories import metadata
from modelreg import open_registry
from support.serverkit import HAS_SQLITE, StartServer, registry_url


def _address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    return parts.hostname, parts.port


def _wait_until_refused(address: tuple[str, int], timeout: float = 20.0) -> None:
    """Return once the server has stopped accepting connections (shutdown has begun)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(address, timeout=1).close()
        except OSError:
            return
        time.sleep(0.02)
    raise AssertionError("the server kept accepting connections after SIGTERM")


def _read_response(sock: socket.socket) -> tuple[bytes, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    lengths = [int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")]
    length = lengths[0]
    while len(body) < length:
        body += sock.recv(65536)
    return head, body


def test_request_in_flight_at_sigterm_completes(tmp_path: Path, start_server: StartServer) -> None:
    url = registry_url(tmp_path, "shutdown")
    server = start_server(url)
    body = metadata().to_json().encode()
    with socket.create_connection(_address(server.url), timeout=20) as sock:
        # Expect: 100-continue makes the server say when the app is waiting for our body:
        # from then on the request is in flight, whatever happens next.
        sock.sendall(b"PUT /api/v1/models/late/versions/1.0.0 HTTP/1.1\r\nHost: localhost\r\n"
                     b"Content-Type: application/json\r\nExpect: 100-continue\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(body))
        assert sock.recv(64).startswith(b"HTTP/1.1 100 Continue")
        server.process.proc.send_signal(signal.SIGTERM)
        _wait_until_refused(_address(server.url))

        sock.sendall(body)
        head, answer = _read_response(sock)

    assert head.startswith(b"HTTP/1.1 201 "), head
    assert json.loads(answer)["version"] == "1.0.0"
    assert server.process.proc.wait(timeout=30) == 0
    assert "registry closed" in server.logs()
    if HAS_SQLITE:  # the write was committed and the file closed cleanly
        registry = open_registry(url)
        try:
            assert registry.has_version("late", "1.0.0")
        finally:
            registry.close()  # type: ignore[attr-defined]


def test_open_event_streams_end_at_sigterm_instead_of_holding_shutdown(start_server: StartServer) -> None:
    server = start_server()
    with httpx.Client(base_url=server.url, timeout=20) as http, http.stream("GET", "/api/v1/events") as response:
        lines = response.iter_lines()
        assert next(lines).startswith("retry:")
        server.process.proc.send_signal(signal.SIGTERM)
        rest = list(lines)  # ends when the server closes the stream

    assert any(line.startswith("event: ready") for line in rest)
    # Well within the 30 s grace period that an unended stream would have used up.
    assert server.process.proc.wait(timeout=15) == 0
    assert "Cancel" not in server.logs()


def test_ctrl_c_shuts_down_gracefully_too(start_server: StartServer) -> None:
    server = start_server()
    assert httpx.get(f"{server.url}/healthz").status_code == 200

    assert server.process.stop(signal.SIGINT) == 0
    assert "registry closed" in server.logs()
