"""sqlite_path_from_url: the file a ``sqlite:///`` URL names, refusing what is not a shareable file."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from ..errors import RegistryError

__all__ = ["refuse_in_memory", "sqlite_path_from_url"]

_URL_FORMS = "sqlite:///relative/path.db (relative to the working directory) or sqlite:////absolute/path.db"


def sqlite_path_from_url(url: str) -> str:
    """The file a ``sqlite:///`` URL names: what follows the third slash, so a fourth makes it absolute."""
    if not isinstance(url, str):
        raise TypeError(f"url must be a str, not {type(url).__name__}")
    shown = repr(url[:80])
    if not url.lower().startswith("sqlite:///"):
        raise RegistryError(f"invalid SQLite URL {shown}: expected {_URL_FORMS}")
    parts = urlsplit(url)
    if parts.query or parts.fragment:
        raise RegistryError(
            f"invalid SQLite URL {shown}: query strings and fragments are not supported; "
            "pass options such as poll_interval= or store_timeout= as keyword arguments"
        )
    path = unquote(url[len("sqlite:///") :])
    if not path:
        raise RegistryError(f"invalid SQLite URL {shown}: it names no file; expected {_URL_FORMS}")
    refuse_in_memory(path)
    return path


def refuse_in_memory(path: str) -> None:
    """RegistryError for SQLite's :memory: database, which no other process can open."""
    if path == ":memory:":
        raise RegistryError(
            f"SQLite database {path[:80]!r} is not supported: a SqliteRegistry lives in a file that "
            "other processes can open and that survives restarts; name a file (sqlite:///registry.db), "
            "or use memory:// for a registry in this process only"
        )
