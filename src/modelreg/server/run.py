"""serve: run the registry's API on uvicorn in this process until SIGTERM or Ctrl+C."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import ssl
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from types import FrameType
from typing import TextIO
from urllib.parse import urlsplit

import uvicorn
from uvicorn.config import STARTUP_FAILURE

from .._checks import int_arg, number_option, positive_int, seconds_arg
from .._config import (
    DEFAULT_BODY_TIMEOUT,
    DEFAULT_CLIENT_TIMEOUT,
    DEFAULT_HEADER_TIMEOUT,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_HEADER_BYTES,
    DEFAULT_PORT,
    redact_url,
)
from ..urls import default_registry_url, open_registry
from ._guard import ConnectionGuard, Limits, connection_ceiling, default_connections, guarded_protocol
from .app import ModelregApp, create_app
from .auth import TOKENS_ENV, Auth, load_auth
from .hosts import is_loopback

__all__ = ["GRACEFUL_SHUTDOWN_SECONDS", "serve"]

GRACEFUL_SHUTDOWN_SECONDS = 30
"""How long in-flight requests get to finish after SIGTERM before they are cancelled."""

_log = logging.getLogger("modelreg.server")
_FLUSH_SECONDS = 0.2
_FLUSH_LINES = 1000
_DURABLE_SCHEMES = ("sqlite", "postgresql", "postgres")  # the stores that take store_timeout


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


@dataclass(frozen=True)
class _Listen:
    """What the listening socket serves: its TLS context (None for plain HTTP) and the guard's limits."""

    sock: socket.socket
    tls: ssl.SSLContext | None
    limits: Limits


class _Server(uvicorn.Server):
    """uvicorn's server, plus: guarded connections, TLS with a handshake timeout, end event streams at
    SIGTERM, and return instead of re-raising the signal."""

    def __init__(self, config: uvicorn.Config, app: ModelregApp, listen: _Listen) -> None:
        self.guard = ConnectionGuard(listen.limits)
        config.http = guarded_protocol(self.guard)
        super().__init__(config)
        self._app = app
        self._listen = listen
        self._loop: asyncio.AbstractEventLoop | None = None

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        # uvicorn's startup for one pre-bound socket, plus a bound on the TLS handshake (uvicorn
        # leaves asyncio's 60 s): a client that never finishes it is on the header clock too.
        await self.lifespan.startup()
        if self.lifespan.should_exit:
            sys.exit(STARTUP_FAILURE)
        config = self.config

        def protocol() -> asyncio.Protocol:
            return config.http_protocol_class(  # type: ignore[call-arg]
                config=config, server_state=self.server_state, app_state=self.lifespan.state
            )

        loop = asyncio.get_running_loop()
        tls = self._listen.tls
        handshake = self._listen.limits.header_timeout if tls is not None else None
        server = await loop.create_server(
            protocol, sock=self._listen.sock, ssl=tls, backlog=config.backlog, ssl_handshake_timeout=handshake
        )
        self.servers = [server]
        self.started = True

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


def _limits(header_timeout: float, body_timeout: float, max_header_bytes: int, max_connections: int | None) -> Limits:
    """The guard's limits, checked; the connection cap defaults to what RLIMIT_NOFILE leaves room for."""
    ceiling, nofile = connection_ceiling()
    if max_connections is None:
        cap = default_connections(ceiling)
    elif positive_int("max_connections", max_connections) > ceiling:
        raise ValueError(
            f"max_connections={max_connections} is more than the file-descriptor limit allows: at most {ceiling} "
            f"with RLIMIT_NOFILE {nofile} (raise it with 'ulimit -n', or ask for fewer connections)"
        )
    else:
        cap = max_connections
    return Limits(
        header_timeout=seconds_arg("header_timeout", header_timeout, below=86400),
        body_timeout=seconds_arg("body_timeout", body_timeout, below=86400),
        max_header_bytes=positive_int("max_header_bytes", max_header_bytes),
        max_connections=cap,
    )


def _tls_context(tls_cert: str | None, tls_key: str | None) -> ssl.SSLContext | None:
    """A server TLS context from PEM files (the key may sit in the certificate file); None without a cert."""
    if tls_cert is None:
        if tls_key is not None:
            raise ValueError("tls_key needs tls_cert: pass the certificate (PEM) that goes with the key")
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)  # TLS 1.2 or later
    try:
        context.load_cert_chain(tls_cert, tls_key)
    except (OSError, ssl.SSLError) as exc:
        files = tls_cert if tls_key is None else f"{tls_cert} and {tls_key}"
        reason = getattr(exc, "strerror", None) or getattr(exc, "reason", None) or exc
        raise ValueError(f"cannot load the TLS certificate and key from {files}: {reason}") from None
    return context


def _check_exposure(host: str, auth: Auth | None, tls: bool, insecure: bool, behind_tls_proxy: bool) -> None:
    """Refuse a non-loopback address that would expose tokens in clear text, or full access to anyone."""
    if is_loopback(host):
        return
    if auth is None and not insecure:
        raise ValueError(
            f"refusing to serve on {host} without tokens: anyone who can reach it could change the registry. "
            f"Configure tokens (a tokens file or ${TOKENS_ENV}), bind 127.0.0.1, or pass --insecure"
        )
    if auth is not None and not tls and not behind_tls_proxy:
        raise ValueError(
            f"refusing to serve on {host} over plain HTTP: every bearer token would cross the network in clear "
            "text. Pass --tls-cert and --tls-key to serve HTTPS, or --behind-tls-proxy if a TLS-terminating "
            "proxy is in front and only it can reach this address"
        )


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
    header_timeout: float = DEFAULT_HEADER_TIMEOUT,
    body_timeout: float = DEFAULT_BODY_TIMEOUT,
    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES,
    max_connections: int | None = None,
    tls_cert: str | None = None,
    tls_key: str | None = None,
    behind_tls_proxy: bool = False,
    ui: bool = True,
) -> None:
    """Serve the registry at ``registry_url`` (default: the SQLite file) until SIGTERM or Ctrl+C.

    Tokens come from ``tokens_file`` and ``$MODELREG_SERVER_TOKENS``; without any, only a
    loopback address may be bound unless ``insecure``; with tokens, a non-loopback address
    needs ``tls_cert`` (HTTPS) or ``behind_tls_proxy``. ``store_timeout``
    (SQLite and PostgreSQL) bounds each write; None keeps the store's default. Slow clients are bounded by
    ``header_timeout``, ``body_timeout``, ``max_header_bytes`` and ``max_connections``
    (default: what the file-descriptor limit leaves room for). Raises ValueError or a
    RegistryError with a one-line message for bad configuration. Closes the registry before returning.
    The web UI is served at ``/`` unless ``ui=False`` (its cookies are Secure over HTTPS or ``behind_tls_proxy``).
    """
    int_arg("port", port, minimum=0, maximum=65535, error=ValueError)
    positive_int("max_body_bytes", max_body_bytes)
    if not isinstance(host, str) or not host:
        raise ValueError(f"host must be a non-empty string, not {host!r}")
    limits = _limits(header_timeout, body_timeout, max_header_bytes, max_connections)
    tls = _tls_context(tls_cert, tls_key)
    auth = load_auth(tokens_file)
    _check_exposure(host, auth, tls is not None, insecure, behind_tls_proxy)
    url = registry_url if registry_url is not None else default_registry_url()
    _check_store_url(url, from_environment=registry_url is None)
    options = _store_options(url, store_timeout)
    sock = _bind(host, port)
    try:
        registry = open_registry(url, **options)
        try:
            listen = _Listen(sock, tls, limits)
            app = create_app(registry, auth=auth, max_body_bytes=max_body_bytes, ui=ui)
            app.loopback_only = auth is None and is_loopback(host)  # refuse rebound DNS names (hosts.py)
            if app.ui is not None:
                app.ui.secure_cookies = behind_tls_proxy  # the browser speaks HTTPS to the proxy
            _run(app, listen, url, host, access_log)
        finally:
            registry.close()
            _log.info("registry closed")
    finally:
        sock.close()


def _check_store_url(url: str, *, from_environment: bool) -> None:
    """Refuse another server as the store: a server over itself (``MODELREG_URL`` left set
    to its own address, as clients use it) would wait on itself forever."""
    if urlsplit(url).scheme.lower() in ("http", "https"):
        where = f"$MODELREG_URL is {redact_url(url)}" if from_environment else f"the registry is {redact_url(url)}"
        raise ValueError(
            f"serve needs a store, not another server: {where}. "
            "Pass one with --registry (modelreg --registry sqlite:///registry.db serve), e.g. sqlite:///PATH, "
            "postgresql://… or memory://"
        )


def _store_options(url: str, store_timeout: float | None) -> dict[str, float]:
    """The options ``serve`` passes to ``open_registry``; ValueError for a timeout the store cannot take."""
    if store_timeout is None:
        return {}
    store_timeout = number_option("store_timeout", store_timeout, minimum=0.001, unit=" of seconds")
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


def _run(app: ModelregApp, listen: _Listen, url: str, host: str, access_log: bool) -> None:
    _configure_logging()
    sink = _AccessSink(sys.stderr) if access_log else None
    app.access_log = sink.write if sink is not None else None
    server = _Server(server_config(app), app, listen)
    bound_host, bound_port = listen.sock.getsockname()[:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    scheme = "https" if listen.tls is not None else "http"
    _log.info("modelreg serving %s at %s://%s:%d (%s)", redact_url(url), scheme, shown, bound_port,
              _describe(app.auth, host))
    limits = listen.limits
    _log.info("limits: %d connections, headers %g s and %d bytes, body %g s", limits.max_connections,
              limits.header_timeout, limits.max_header_bytes, limits.body_timeout)
    try:
        server.run(sockets=[listen.sock])
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
