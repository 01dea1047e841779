"""A throwaway PostgreSQL server for the tests and the bench scripts (no pytest needed).

``postgres_url()`` is the one entry point: it yields ``$MODELREG_TEST_POSTGRES_URL``
when that is set, otherwise it starts a private server (``initdb`` + ``pg_ctl``
from the machine's PostgreSQL binaries into a temporary directory, listening on
a free 127.0.0.1 port), and stops and deletes it afterwards. When running as
root the server runs as the ``postgres`` user, because PostgreSQL refuses root.

    with postgres_url() as url:
        registry = PostgresRegistry(url)
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

__all__ = [
    "REQUIRE_ENV",
    "URL_ENV",
    "PostgresServer",
    "PostgresUnavailable",
    "find_bindir",
    "postgres_url",
    "start_server",
    "with_search_path",
]

URL_ENV = "MODELREG_TEST_POSTGRES_URL"
REQUIRE_ENV = "MODELREG_REQUIRE_POSTGRES"
_RUN_AS = "postgres"
_INSTALL_HINT = "install the server binaries (Debian/Ubuntu: apt-get install postgresql) or set " + URL_ENV


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries were found, or the server would not start."""


def find_bindir() -> Path | None:
    """Directory holding ``initdb`` and ``pg_ctl``: the newest /usr/lib/postgresql/*/bin, else PATH."""
    candidates = []
    for bindir in Path("/usr/lib/postgresql").glob("*/bin"):
        try:
            candidates.append((int(bindir.parent.name), bindir))
        except ValueError:  # a directory that is not a major version number
            continue
    for _, bindir in sorted(candidates, reverse=True):
        if (bindir / "initdb").is_file() and (bindir / "pg_ctl").is_file():
            return bindir
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if initdb and pg_ctl and Path(initdb).resolve().parent == Path(pg_ctl).resolve().parent:
        return Path(initdb).resolve().parent
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresServer:
    """A running private server; ``stop()`` shuts it down and deletes its directory."""

    def __init__(self, bindir: Path, *, fsync: bool = True, timeout: float = 60.0) -> None:
        self._bindir = bindir
        self._timeout = timeout
        self._as_postgres = os.geteuid() == 0
        self._dir = Path(tempfile.mkdtemp(prefix="modelreg-pg-"))
        self._data = self._dir / "data"
        self._log = self._dir / "server.log"
        self._running = False
        self.port = 0
        try:
            if self._as_postgres:
                self._hand_dir_to_postgres()
            # --no-sync: a throwaway cluster need not be flushed to disk before it starts.
            self._run("initdb", "-D", str(self._data), "-U", "postgres", "--auth=trust", "--encoding=UTF8",
                      "--locale=C", "--no-sync")
            self._configure(fsync)
            self._start()
        except BaseException:
            self.stop()
            raise
        atexit.register(self.stop)  # a bench script that forgets stop() leaves no server behind

    @property
    def url(self) -> str:
        """Superuser URL of the server's ``postgres`` database."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _hand_dir_to_postgres(self) -> None:
        try:
            user = pwd.getpwnam(_RUN_AS)
        except KeyError:
            raise PostgresUnavailable(
                f"running as root, and PostgreSQL refuses to run as root, but there is no {_RUN_AS!r} "
                f"user to run it as; create one or set {URL_ENV}"
            ) from None
        os.chown(self._dir, user.pw_uid, user.pw_gid)

    def _run(self, program: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        extra: dict[str, Any] = {}
        if self._as_postgres:
            extra = {"user": _RUN_AS, "group": _RUN_AS, "extra_groups": []}
        env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
        proc = subprocess.run(
            [str(self._bindir / program), *args], cwd=self._dir, env=env, capture_output=True, text=True,
            timeout=self._timeout, check=False, **extra,
        )
        if check and proc.returncode != 0:
            raise PostgresUnavailable(
                f"{program} failed (exit {proc.returncode}): {(proc.stderr or proc.stdout).strip()[-2000:]}"
                + self._log_tail()
            )
        return proc

    def _log_tail(self) -> str:
        try:
            return "\nserver log:\n" + self._log.read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def _configure(self, fsync: bool) -> None:
        settings = {
            "listen_addresses": "'127.0.0.1'",
            # the socket lives in our directory, not /var/run/postgresql (which may not exist)
            "unix_socket_directories": f"'{self._dir}'",
            "fsync": "on" if fsync else "off",
            "max_connections": "200",
        }
        with (self._data / "postgresql.conf").open("a") as conf:
            conf.write("".join(f"{key} = {value}\n" for key, value in settings.items()))

    def _start(self) -> None:
        for _ in range(3):  # another process may grab the free port before the server binds it
            self.port = _free_port()
            with (self._data / "postgresql.conf").open("a") as conf:
                conf.write(f"port = {self.port}\n")  # the last setting in the file wins
            started = self._run("pg_ctl", "start", "-w", "-t", str(int(self._timeout)), "-D", str(self._data),
                                "-l", str(self._log), check=False)
            if started.returncode == 0:
                self._running = True
                self._wait_until_accepting()
                return
        raise PostgresUnavailable(f"pg_ctl start failed: {started.stderr.strip()[-2000:]}" + self._log_tail())

    def _wait_until_accepting(self) -> None:
        import psycopg

        deadline = time.monotonic() + self._timeout
        while True:
            try:
                psycopg.connect(self.url, connect_timeout=5).close()
                return
            except psycopg.OperationalError as exc:
                if time.monotonic() > deadline:
                    raise PostgresUnavailable(f"server never accepted connections: {exc}" + self._log_tail()) from exc
                time.sleep(0.05)

    def pause(self) -> None:
        """Stop the server (fast shutdown: its clients' connections are closed) but keep its data and port."""
        if self._running:
            self._running = False
            self._run("pg_ctl", "stop", "-m", "fast", "-w", "-D", str(self._data))

    def resume(self) -> None:
        """Start a paused server again, on the same port, and wait until it accepts connections."""
        if not self._running:
            self._run("pg_ctl", "start", "-w", "-t", str(int(self._timeout)), "-D", str(self._data),
                      "-l", str(self._log))
            self._running = True
            self._wait_until_accepting()

    def stop(self) -> None:
        """Stop the server (fast shutdown) and delete its directory; idempotent."""
        atexit.unregister(self.stop)
        if self._running:
            self._running = False
            self._run("pg_ctl", "stop", "-m", "fast", "-w", "-D", str(self._data), check=False)
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_server(*, fsync: bool = True, timeout: float = 60.0) -> PostgresServer:
    """Start a private server; PostgresUnavailable (with the reason) if there are no binaries."""
    bindir = find_bindir()
    if bindir is None:
        raise PostgresUnavailable(
            f"no PostgreSQL server binaries (initdb, pg_ctl) under /usr/lib/postgresql/*/bin or on PATH; "
            f"{_INSTALL_HINT}"
        )
    return PostgresServer(bindir, fsync=fsync, timeout=timeout)


@contextlib.contextmanager
def postgres_url(*, fsync: bool = True) -> Iterator[str]:
    """A superuser URL: ``$MODELREG_TEST_POSTGRES_URL`` if set, else a private server's, stopped on exit."""
    url = os.environ.get(URL_ENV)
    if url:
        yield url
        return
    with start_server(fsync=fsync) as server:
        yield server.url


def with_search_path(url: str, schema: str) -> str:
    """``url`` with ``options=-csearch_path=<schema>``, so every connection it opens works in that schema."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        from psycopg.conninfo import conninfo_to_dict, make_conninfo

        options = f"{conninfo_to_dict(url).get('options') or ''} -csearch_path={schema}"
        return make_conninfo(url, options=options.strip())
    query = dict(parse_qsl(parts.query))
    query["options"] = (query.get("options", "") + f" -csearch_path={schema}").strip()
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))
