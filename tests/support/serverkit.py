"""Shared by the server tests: token secrets per role, registry URLs, a running server's handle."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from factories import metadata
from fixtures.http_backend import ServerProcess

HAS_SQLITE = importlib.util.find_spec("modelreg.stores.sqlite") is not None
TOKENS = {"reader": ("read", "tok-read-0123456789"), "writer": ("write", "tok-write-0123456789"),
          "boss": ("admin", "tok-admin-0123456789")}


def registry_url(directory: Path, name: str = "registry") -> str:
    """A SQLite file in ``directory`` when the store exists, else memory://."""
    return f"sqlite:///{directory / (name + '.db')}" if HAS_SQLITE else "memory://"


@dataclass
class Running:
    """A started server: its process and base URL."""

    process: ServerProcess
    url: str
    registry_url: str

    def logs(self) -> str:
        """What the server has printed so far."""
        return self.process.logs()


StartServer = Callable[..., Running]
"""The ``start_server`` fixture: ``start_server(registry_url=None, env=None, **serve_options) -> Running``."""


def bearer(name: str) -> dict[str, str]:
    """The Authorization header of a token from TOKENS."""
    return {"Authorization": f"Bearer {TOKENS[name][1]}"}


def put_version(http: httpx.Client, name: str, version: str) -> None:
    """Register ``name`` ``version`` with the factory's metadata over HTTP (201 or the test fails)."""
    response = http.put(f"/api/v1/models/{name}/versions/{version}", content=metadata().to_json(),
                        headers={"Content-Type": "application/json"})
    assert response.status_code == 201, response.text
