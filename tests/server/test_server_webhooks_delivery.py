"""The delivery side on its own: the write load it puts on the store, its HTTP client's deadline and URLs.

A real MemoryRegistry and its real webhook store (counted, not replaced) and real loopback
receivers; every timing bound is generous.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from factories import metadata
from modelreg import MemoryRegistry
from modelreg.server._delivery import Deliveries, DeliverySettings, post
from modelreg.webhooks import Claim, Delivery, Progress, Webhook, WebhookStore, new_id
from support.receiver import Receiver


class _Counted:
    """The registry's own webhook store, counting the write transactions the deliveries open."""

    def __init__(self, store: WebhookStore) -> None:
        self.store = store
        self.writes = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def claim(self, holder: str, lease: float) -> list[Claim]:
        self.writes += 1
        return self.store.claim(holder, lease)

    def advance(self, hook_id: str, holder: str, position: int) -> bool:
        self.writes += 1
        return self.store.advance(hook_id, holder, position)

    def record(self, delivery: Delivery, holder: str | None) -> bool:
        self.writes += 1
        return self.store.record(delivery, holder)

    def sync(self, holder: str, lease: float | None, progress: Sequence[Progress],
             attempts: Sequence[Delivery]) -> list[Claim]:
        self.writes += 1
        return self.store.sync(holder, lease, progress, attempts)


def _wait(predicate: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def test_the_store_writes_stay_few_however_many_webhooks_and_events() -> None:
    registry = MemoryRegistry()
    store = _Counted(registry.webhooks())
    receiver = Receiver().start()
    hooks = [Webhook(new_id(), receiver.url, None, None, datetime.now(UTC)) for _ in range(10)]
    for hook in hooks:
        store.add(hook, "secret-0123456789abc")
    deliveries = Deliveries(store, registry, registry, DeliverySettings(timeout=5, lease=30))  # type: ignore[arg-type]
    deliveries.start()
    try:
        started = time.monotonic()
        for patch in range(30):
            registry.register_model("busy", f"1.0.{patch}", metadata())
        _wait(lambda: len(receiver.received) >= 300)
        _wait(lambda: all(h.position == 30 for h in store.hooks()))  # stored, in a sync or two
        took = time.monotonic() - started
    finally:
        deliveries.stop()
        receiver.stop()
    # 300 deliveries; one write each would be 300. Batched: about two a second, plus start and stop.
    assert store.writes <= 2 * took + 6, (store.writes, took)
    assert len(store.deliveries(hooks[0].id)) == 30


def test_stop_stores_the_progress_and_releases_the_leases() -> None:
    registry = MemoryRegistry()
    store = registry.webhooks()
    receiver = Receiver().start()
    hook = Webhook(new_id(), receiver.url, None, None, datetime.now(UTC))
    store.add(hook, "secret-0123456789abc")
    deliveries = Deliveries(store, registry, registry, DeliverySettings(timeout=5, lease=30))
    deliveries.start()
    try:
        registry.register_model("m", "1.0.0", metadata())
        receiver.wait_delivered(1)
    finally:
        deliveries.stop()
        receiver.stop()
    assert store.get(hook.id).position == 1
    assert [c.webhook.id for c in store.claim("the-next-process", 30)] == [hook.id]  # not a lease (30 s) later


def test_a_receiver_trickling_its_answer_is_cut_at_the_timeout() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def trickle() -> None:
        conn, _ = listener.accept()
        conn.recv(65536)
        try:
            conn.sendall(b"HTTP/1.1 200 OK\r\n")
            for _ in range(10):  # a header every 0.5 s: no single read ever waits the 1 s timeout
                conn.sendall(b"X-A: b\r\n")
                time.sleep(0.5)
            conn.sendall(b"Content-Length: 0\r\n\r\n")
        except OSError:
            pass  # cut off
        finally:
            conn.close()

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    started = time.monotonic()
    status, error = post(f"http://127.0.0.1:{listener.getsockname()[1]}/", b"{}", {}, 1.0)
    took = time.monotonic() - started
    listener.close()
    assert (status, error) == (None, "no answer within 1 s")
    assert took < 3.5  # the whole answer would take 5 s


def test_an_ipv6_literal_without_a_port_is_sent_to_the_schemes_port() -> None:
    got: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            got.append(self.headers["Host"])
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    class Server6(ThreadingHTTPServer):
        address_family = socket.AF_INET6

    server = Server6(("::1", 80), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        assert post("http://[::1]/hook", b"{}", {"Content-Type": "application/json"}, 5.0) == (204, None)
        assert post(f"http://[::1]:{server.server_address[1]}/hook", b"{}", {}, 5.0) == (204, None)
    finally:
        server.shutdown()
        server.server_close()
    assert got == ["[::1]", "[::1]"]
