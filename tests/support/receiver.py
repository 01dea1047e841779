"""A real loopback webhook receiver (http.server in a thread) that records what it is sent and answers as told."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    """One request as it arrived: headers (lower-case names), raw body, and when (``time.time()``)."""

    headers: dict[str, str]
    body: bytes
    at: float
    answered: int = 0

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def revision(self) -> int:
        return int(self.json["event"]["revision"])


@dataclass
class Receiver:
    """Records every POST; ``status`` is what it answers, ``delay`` how long it sleeps first."""

    status: int = 200
    delay: float = 0.0
    received: list[Received] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _cond: threading.Condition = field(default_factory=threading.Condition)

    def start(self) -> Receiver:
        """Listen on a free loopback port."""
        return self.start_on(0)

    def start_on(self, port: int) -> Receiver:
        """Listen on loopback ``port``."""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._cond:
                    status, delay = receiver.status, receiver.delay
                    receiver.received.append(Received({k.lower(): v for k, v in self.headers.items()}, body,
                                                      time.time(), status))
                    receiver._cond.notify_all()
                if delay:
                    time.sleep(delay)
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/hook"

    def delivered(self) -> list[int]:
        """The revisions of the deliveries it answered 2xx, in arrival order (pings left out)."""
        with self._cond:
            return [r.revision for r in self.received if r.json.get("event") and 200 <= r.answered < 300]

    def wait_delivered(self, count: int, timeout: float = 20.0) -> list[int]:
        """Wait until ``count`` events were answered 2xx; their revisions."""
        deadline = time.monotonic() + timeout
        while len(self.delivered()) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.delivered()} delivered, not {count} events, within {timeout} s")
            time.sleep(0.02)
        return self.delivered()

    def wait_for(self, count: int, timeout: float = 20.0) -> list[Received]:
        """Wait until at least ``count`` requests arrived; them all."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{len(self.received)} of {count} deliveries within {timeout} s")
                self._cond.wait(left)
            return list(self.received)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
