"""open_registry: pick a backend from a URL (a composition root).

The core imports no outer layer; this module reaches the stores and the client
only through ``BACKENDS``, a table of dotted names imported when a URL needs one,
so a training job that opens ``memory://`` never loads them.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from .errors import RegistryError
from .registry import ModelRegistry

__all__ = ["BACKENDS", "DEFAULT_URL_ENV", "MIRROR", "Backend", "default_registry_url", "open_registry"]

DEFAULT_URL_ENV = "MODELREG_URL"


@dataclass(frozen=True)
class Backend:
    """Where the registry class for a URL scheme lives and how it opens.

    ``opener`` is ``"from_url"`` for a class that reads its own URL through that
    classmethod, ``""`` for one whose constructor takes the URL first, and ``None``
    for one that takes no URL (``MemoryRegistry``). The options a backend takes are
    the keyword-only parameters of that opener, read once from the class, so the
    list cannot drift from what it accepts.
    """

    module: str
    name: str
    label: str  # the URL form in messages: "postgresql://" for both of its schemes
    extra: str | None = None  # the pip extra that brings its dependencies; None: the core has them
    opener: str | None = ""

    def load(self) -> Any:
        """The opener (the class, or its ``from_url``); RegistryError naming the extra when it is missing."""
        try:
            cls = getattr(importlib.import_module(self.module), self.name)
        except ImportError as exc:
            if self.extra is None:
                raise
            raise _missing_extra(self.extra, exc) from exc
        return getattr(cls, self.opener) if self.opener else cls

    def open(self, url: str, options: dict[str, Any]) -> ModelRegistry:
        """Open the backend for ``url``; a TypeError, before anything is touched, for an option it does not take."""
        opener = self.load()
        accepted = _keyword_options(opener)
        unknown = sorted(set(options) - set(accepted))
        if unknown:
            takes = ", ".join(f"{name}=" for name in accepted) or "no options"
            raise TypeError(
                f"open_registry('{self.label}...') got unknown option(s) {', '.join(map(repr, unknown))}; "
                f"that backend takes {takes}"
            )
        registry: ModelRegistry = opener(**options) if self.opener is None else opener(url, **options)
        return registry


BACKENDS: Final[dict[str, Backend]] = {
    "memory": Backend("modelreg.memory", "MemoryRegistry", "memory://", opener=None),
    "sqlite": Backend("modelreg.stores.sqlite", "SqliteRegistry", "sqlite://", opener="from_url"),
    "postgresql": Backend("modelreg.stores.postgres", "PostgresRegistry", "postgresql://", extra="postgres"),
    "postgres": Backend("modelreg.stores.postgres", "PostgresRegistry", "postgresql://", extra="postgres"),
    "http": Backend("modelreg.client", "RegistryClient", "http://", extra="client"),
    "https": Backend("modelreg.client", "RegistryClient", "https://", extra="client"),
}
"""URL scheme to backend: the one place a new backend is added."""
MIRROR: Final = Backend("modelreg.client.mirror", "RegistryMirror", "http(s)://", extra="client")
"""What ``open_registry(url, mirror=True)`` opens: a live local copy of an http(s):// server's registry."""


@functools.cache
def _keyword_options(opener: Any) -> tuple[str, ...]:
    """The keyword-only parameter names of a table entry's opener, sorted (read once per opener)."""
    params = inspect.signature(opener).parameters.values()
    return tuple(sorted(p.name for p in params if p.kind is p.KEYWORD_ONLY))


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
    TypeError that lists those it does. ``mirror=True`` with an http(s):// URL opens a
    ``RegistryMirror`` (``models=``, ``cache_path=``; docs/mirror.md).
    """
    if url is None:
        url = default_registry_url()
    if not isinstance(url, str):
        raise TypeError(f"url must be a str, not {type(url).__name__}")
    backend = BACKENDS.get(urlsplit(url).scheme.lower())
    mirror = options.pop("mirror", False)
    if not isinstance(mirror, bool):
        raise TypeError(f"mirror must be a bool, not {type(mirror).__name__}")
    if mirror and backend is not None:
        if not backend.module.startswith("modelreg.client"):
            raise RegistryError(f"mirror=True mirrors a server: it needs an http(s):// URL, not {backend.label}")
        backend = MIRROR
    if backend is None:
        raise RegistryError(
            f"unsupported registry URL {url[:80]!r}: expected memory://, sqlite:///path/to.db, "
            "postgresql://user@host/db or http(s)://host:port"
        )
    return backend.open(url, options)


def _missing_extra(extra: str, exc: ImportError) -> RegistryError:
    return RegistryError(
        f"this registry URL needs the {extra!r} extra ({exc.name or exc} is not installed): "
        f"pip install 'modelreg[{extra}]'"
    )
