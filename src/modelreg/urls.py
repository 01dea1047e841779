"""open_registry: pick a backend from a URL."""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .errors import RegistryError
from .registry import ModelRegistry

__all__ = ["DEFAULT_URL_ENV", "default_registry_url", "open_registry"]

DEFAULT_URL_ENV = "MODELREG_URL"


def default_registry_url() -> str:
    """``$MODELREG_URL``, else an SQLite file under the user's data directory."""
    url = os.environ.get(DEFAULT_URL_ENV)
    if url:
        return url
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return f"sqlite:///{Path(base) / 'modelreg' / 'registry.db'}"


def open_registry(url: str | None = None, **options: Any) -> ModelRegistry:
    """Open the registry a URL names: ``memory://``, ``sqlite:///path``, ``postgresql://…``, ``http(s)://…``.

    With no URL, ``$MODELREG_URL`` or the default SQLite file. Extra keyword
    options go to the backend (e.g. ``token=`` for HTTP); one it does not take is a
    TypeError that lists those it does.
    """
    if url is None:
        url = default_registry_url()
    if not isinstance(url, str):
        raise TypeError(f"url must be a str, not {type(url).__name__}")
    scheme = urlsplit(url).scheme.lower()
    if scheme == "memory":
        from .memory import MemoryRegistry

        return MemoryRegistry(**_options(MemoryRegistry, "memory://", options))
    if scheme == "sqlite":
        from .stores.sqlite import SqliteRegistry

        return SqliteRegistry.from_url(url, **_options(SqliteRegistry.from_url, "sqlite://", options))
    if scheme in ("postgresql", "postgres"):
        try:
            from .stores.postgres import PostgresRegistry
        except ImportError as exc:
            raise _missing_extra("postgres", exc) from exc
        return PostgresRegistry(url, **_options(PostgresRegistry, "postgresql://", options))
    if scheme in ("http", "https"):
        try:
            from .client import RegistryClient
        except ImportError as exc:
            raise _missing_extra("client", exc) from exc
        return RegistryClient(url, **_options(RegistryClient, f"{scheme}://", options))
    raise RegistryError(
        f"unsupported registry URL {url[:80]!r}: expected memory://, sqlite:///path/to.db, "
        "postgresql://user@host/db or http(s)://host:port"
    )


def _options(backend: Callable[..., object], kind: str, options: dict[str, Any]) -> dict[str, Any]:
    """``options`` if ``backend`` takes them all as keywords; else a TypeError naming the ones it takes.

    Read from the backend's signature, so the list cannot drift from what it accepts.
    """
    params = inspect.signature(backend).parameters.values()
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return options
    accepted = sorted(p.name for p in params if p.kind is p.KEYWORD_ONLY)
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        takes = ", ".join(f"{name}=" for name in accepted) or "no options"
        raise TypeError(
            f"open_registry('{kind}...') got unknown option(s) {', '.join(map(repr, unknown))}; "
            f"that backend takes {takes}"
        )
    return options


def _missing_extra(extra: str, exc: ImportError) -> RegistryError:
    return RegistryError(
        f"this registry URL needs the {extra!r} extra ({exc.name or exc} is not installed): "
        f"pip install 'modelreg[{extra}]'"
    )
