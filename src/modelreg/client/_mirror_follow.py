"""The mirror's follower: one daemon thread reading the server's event stream and moving the mirror's copy.

It reuses the client's SSE parsing and connection (``parse_sse``, ``stream_events``).
Each connection resumes with ``Last-Event-ID`` at the mirror's revision, so the
server replays what came meanwhile and nothing is skipped. The ``hello`` line names
the store: another store, or the same one behind the mirror (rewound), and a 410
(the events are gone) all make the mirror take a new snapshot and swap it in.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Protocol

import httpx

from ..errors import RegistryError
from ..events import RegistryEvent
from ._events import parse_sse, unblock

__all__ = ["Followed", "Follower"]

_log = logging.getLogger("modelreg.mirror")
_READ_TIMEOUT = 40.0  # the server sends a heartbeat every 15 s; silence this long means a dead link
_FIRST_DELAY = 0.05
_MAX_DELAY = 2.0


class Followed(Protocol):
    """What the follower needs of its mirror."""

    url: str

    def _stream(self, headers: dict[str, str], timeout: httpx.Timeout) -> httpx.Response: ...

    def _follow_revision(self) -> int: ...

    def _on_hello(self, store: str, revision: int) -> bool: ...

    def _on_ready(self, revision: int) -> None: ...

    def _on_event(self, event: RegistryEvent) -> None: ...

    def _on_break(self, reason: str) -> None: ...

    def _on_gone(self, response: httpx.Response) -> None: ...


class Follower:
    """Follows ``/api/v1/events`` for a mirror until stopped, reconnecting with backoff."""

    def __init__(self, mirror: Followed) -> None:
        self._mirror = mirror
        self._stopping = threading.Event()
        self._response: httpx.Response | None = None
        self._thread = threading.Thread(target=self._run, name="modelreg-mirror", daemon=True)

    def start(self) -> None:
        """Start following in the background."""
        self._thread.start()

    def stop(self, timeout: float) -> None:
        """Stop following: close the connection that blocks the reader, then wait for it."""
        self._stopping.set()
        unblock(self._response)
        if threading.current_thread() is not self._thread and self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        delay = _FIRST_DELAY
        while not self._stopping.is_set():
            try:
                if self._follow():
                    delay = _FIRST_DELAY  # it was live: the next try comes soon
            except Exception as exc:  # any failure to follow: keep the last state, retry later
                if self._stopping.is_set():
                    return
                self._mirror._on_break(f"{type(exc).__name__}: {exc}")
            else:
                self._mirror._on_break("the server ended the event stream")
            if self._stopping.wait(delay):
                return
            delay = min(delay * 2, _MAX_DELAY)

    def _follow(self) -> bool:
        """One connection, until it ends; whether it got live."""
        headers = {"Accept": "text/event-stream", "Last-Event-ID": str(self._mirror._follow_revision())}
        timeout = httpx.Timeout(10.0, read=_READ_TIMEOUT)
        response = self._mirror._stream(headers, timeout)
        self._response = response
        live = False
        try:
            if response.status_code != 200:
                response.read()
                if response.status_code == 410:
                    self._mirror._on_gone(response)
                    return True
                raise RegistryError(f"the event stream answered HTTP {response.status_code}")
            for kind, ident, data in parse_sse(response.iter_lines()):
                if self._stopping.is_set():
                    return live
                if kind == "hello":
                    if not self._hello(data):
                        return True  # the mirror took a new snapshot: follow again from its revision
                elif kind == "ready":
                    live = True
                    self._mirror._on_ready(int(ident) if ident is not None and ident.isdigit() else 0)
                else:
                    self._mirror._on_event(RegistryEvent.from_dict(json.loads(data)))
        finally:
            self._response = None
            response.close()
        return live

    def _hello(self, data: str) -> bool:
        hello = json.loads(data)
        return self._mirror._on_hello(str(hello["store"]), int(hello["revision"]))
