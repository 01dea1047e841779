"""What the SQLite and PostgreSQL schemas share: a numbered migration, refusing a newer schema, the store id."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import StoreError
from ..events import EVENT_KINDS

__all__ = ["Migration", "checked_store_id", "kinds_check", "refuse_newer"]


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema step; its statements run in the same transaction as its record."""

    version: int
    description: str
    statements: tuple[str, ...]


def refuse_newer(current: int, known: int, where: str) -> None:
    """StoreError when the database's schema is newer than the ``known`` one this code can use."""
    if current > known:
        raise StoreError(
            f"{where} has schema version {current}, newer than the {known} this modelreg "
            "knows; upgrade modelreg to open it"
        )


def checked_store_id(rows: list[tuple[object, ...]], where: str) -> str:
    """The one id in ``store_identity``'s rows; StoreError when the table was emptied or damaged."""
    if len(rows) != 1 or not isinstance(rows[0][0], str) or not rows[0][0]:
        raise StoreError(
            f"{where} has {len(rows)} rows in its store_identity table, not the one id modelreg wrote; "
            "the table was changed outside modelreg or is damaged"
        )
    return rows[0][0]


def kinds_check(kinds: Sequence[str] = EVENT_KINDS) -> str:
    """The ``CHECK`` that limits ``events.kind`` to ``kinds``, for a migration that changes the set of event kinds.

    Migrations that have run keep their text, so each passes the kinds of its day as a
    prefix of ``EVENT_KINDS`` (kept in the order they were added), e.g.
    ``kinds_check(EVENT_KINDS[:6])``, never the default: a new kind then changes no old
    migration, and a test checks that the newest migration mentioning the kinds holds
    exactly this clause with every kind, so a new kind fails until it has its migration.
    """
    return "CHECK (kind IN (" + ", ".join(f"'{kind}'" for kind in kinds) + "))"
