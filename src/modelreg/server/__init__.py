"""The registry's HTTP server: ``create_app`` (an ASGI app) and ``serve`` (run it on uvicorn).

Needs the ``modelreg[server]`` extra. Names are imported lazily so that
``python -m modelreg.server.auth`` and ``create_app`` alone do not load uvicorn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._config import DEFAULT_MAX_BODY_BYTES, DEFAULT_PORT

if TYPE_CHECKING:
    from .app import create_app
    from .auth import Auth, Role, Token, hash_token, load_auth
    from .run import serve

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_PORT",
    "Auth",
    "Role",
    "Token",
    "create_app",
    "hash_token",
    "load_auth",
    "serve",
]

_HOMES = {
    "create_app": "app",
    "Auth": "auth",
    "Role": "auth",
    "Token": "auth",
    "hash_token": "auth",
    "load_auth": "auth",
    "serve": "run",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'modelreg.server' has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f"{__name__}.{home}"), name)
