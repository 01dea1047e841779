"""serve: run the registry's API on uvicorn in this process until SIGTERM or Ctrl+C."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import signal
import socket
import sys
import threading
from collections.abc import Iterator
from types import FrameType
from typing import TextIO
from urllib.parse import urlsplit

import uvicorn

from ..urls import default_registry_url, open_registry
from ._config import DEFAULT_CLIENT_TIMEOUT, DEFAULT_MAX_BODY_BYTES, DEFAULT_PORT, redact_url
from .app import ModelregApp, create_app
from .auth import TOKENS_ENV, Auth, load_auth

__all__ = ["GRACEFUL_SHUTDOWN_SECONDS", "serve"]

GRACEFUL_SHUTDOWN_SECONDS = 30
"""How long in-flight requests get to finish after SIGTERM before they are cancelled."""

_log = logging.getLogger("modelreg.server")
_FLUSH_SECONDS = 0.2
_FLUSH_LINES = 1000
_DURABLE_SCHEMES = ("sqlite", "postgresql", "postgres")  # the stores that take store_timeout


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only (127.0.0.0/8, ::1 or 'localhost')."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _bind(host: str, port: int) -> socket.socket:
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except OSError as exc:
        raise ValueError(f"cannot listen on {host!r}: {exc.strerror or exc}") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise ValueError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock


class _AccessSink:
    """Access-log lines written in batches (one write per ~0.2 s, not one per request)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._lines: list[str] = []
        self._scheduled = False

    def write(self, line: str) -> None:
        self._lines.append(line)
        if len(self._lines) >= _FLUSH_LINES:
            self.flush()
        elif not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_later(_FLUSH_SECONDS, self.flush)

    def flush(self) -> None:
        self._scheduled = False
        lines, self._lines = self._lines, []
        if lines:
            with contextlib.suppress(OSError, ValueError):  # a closed stderr must not stop the server
                self._stream.write("\n".join(lines) + "\n")
                self._stream.flush()


class _Server(uvicorn.Server):
    """uvicorn's server, plus: end event streams at SIGTERM, and return instead of re-raising the signal."""

    def __init__(self, config: uvicorn.Config, app: ModelregApp) -> None:
        super().__init__(config)
        self._app = app
        self._loop: asyncio.AbstractEventLoop | None = None

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        if self._loop is not None:  # a signal handler must not take locks: hand over to the loop
            self._loop.call_soon_threadsafe(self._begin_shutdown)

    def _begin_shutdown(self) -> None:
        _log.info("shutting down: finishing in-flight requests (up to %d s)", GRACEFUL_SHUTDOWN_SECONDS)
        self._app.shutting_down = True
        self._app.events.close()  # event streams never end on their own; end them so connections drain

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # uvicorn re-raises the signal after shutting down, which would kill the process before
        # serve() could close the registry; we restore the handlers and return normally instead.
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        handled = (signal.SIGINT, signal.SIGTERM)
        original = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)


def _configure_logging() -> None:
    """Plain stderr logging for our and uvicorn's messages, unless the caller configured logging."""
    if logging.getLogger().handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    for name in ("modelreg", "uvicorn"):
        logger = logging.getLogger(name)
        if not logger.handlers:
            logger.addHandler(handler)
            logger.setLevel(logging.INFO)
            logger.propagate = False
    # psycopg_pool warns at every failed reconnection attempt (several a second during an
    # outage); the store's own "store down" / "store back" lines say what matters.
    logging.getLogger("psycopg.pool").setLevel(logging.ERROR)


def _describe(auth: Auth | None, host: str) -> str:
    if auth is not None:
        return f"{len(auth.tokens)} token(s)"
    if is_loopback(host):
        return "no tokens: anonymous full access, loopback only"
    return "INSECURE: no tokens, anonymous full access on a non-loopback address"


def serve(
    registry_url: str | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    tokens_file: str | None = None,
    insecure: bool = False,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    store_timeout: float | None = None,
    access_log: bool = True,
) -> None:
    """Serve the registry at ``registry_url`` (default: the SQLite file) until SIGTERM or Ctrl+C.

    Tokens come from ``tokens_file`` and ``$MODELREG_SERVER_TOKENS``; without any, only a
    loopback address may be bound unless ``insecure``. ``store_timeout`` (SQLite and
    PostgreSQL) bounds each write; None keeps the store's default. Raises ValueError or a
    RegistryError with a one-line message for bad configuration. Closes the registry
    before returning.
    """
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ValueError(f"port must be an int from 0 to 65535, not {port!r}")
    if isinstance(max_body_bytes, bool) or not isinstance(max_body_bytes, int) or max_body_bytes < 1:
        raise ValueError(f"max_body_bytes must be a positive int, not {max_body_bytes!r}")
    if not isinstance(host, str) or not host:
        raise ValueError(f"host must be a non-empty string, not {host!r}")
    auth = load_auth(tokens_file)
    if auth is None and not is_loopback(host) and not insecure:
        raise ValueError(
            f"refusing to serve on {host} without tokens: anyone who can reach it could change the registry. "
            f"Configure tokens (a tokens file or ${TOKENS_ENV}), bind 127.0.0.1, or pass --insecure"
        )
    url = registry_url if registry_url is not None else default_registry_url()
    options = _store_options(url, store_timeout)
    sock = _bind(host, port)
    try:
        registry = open_registry(url, **options)
        try:
            _run(create_app(registry, auth=auth, max_body_bytes=max_body_bytes), sock, url, host, access_log)
        finally:
            close = getattr(registry, "close", None)
            if callable(close):
                close()
            _log.info("registry closed")
    finally:
        sock.close()


def _store_options(url: str, store_timeout: float | None) -> dict[str, float]:
    """The options ``serve`` passes to ``open_registry``; ValueError for a timeout the store cannot take."""
    if store_timeout is None:
        return {}
    if isinstance(store_timeout, bool) or not isinstance(store_timeout, int | float) or not store_timeout > 0:
        raise ValueError(f"store_timeout must be a positive number of seconds, not {store_timeout!r}")
    if urlsplit(url).scheme.lower() not in _DURABLE_SCHEMES:
        raise ValueError(f"store_timeout applies to sqlite:/// and postgresql:// registries, not {redact_url(url)}")
    if store_timeout >= DEFAULT_CLIENT_TIMEOUT:
        _log.warning(
            "store_timeout=%gs is not below the client's default timeout (%gs): a client may give up on a "
            "write that then commits; raise the clients' timeout above it",
            store_timeout,
            DEFAULT_CLIENT_TIMEOUT,
        )
    return {"store_timeout": float(store_timeout)}


def _run(app: ModelregApp, sock: socket.socket, url: str, host: str, access_log: bool) -> None:
    _configure_logging()
    sink = _AccessSink(sys.stderr) if access_log else None
    app.access_log = sink.write if sink is not None else None
    server = _Server(server_config(app), app)
    bound_host, bound_port = sock.getsockname()[:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    _log.info("modelreg serving %s at http://%s:%d (%s)", redact_url(url), shown, bound_port, _describe(app.auth, host))
    try:
        server.run(sockets=[sock])
    finally:
        if sink is not None:
            sink.flush()


def server_config(app: object) -> uvicorn.Config:
    """The uvicorn settings ``serve`` uses (one process; the benchmark runs its ceiling app on the same)."""
    return uvicorn.Config(
        app,  # type: ignore[arg-type]
        lifespan="on",
        access_log=False,  # the app writes its own access log, with the actor and timing
        log_config=None,
        server_header=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
