"""What the SQLite and PostgreSQL schemas share: a numbered migration, and refusing a newer schema."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import StoreError

__all__ = ["Migration", "refuse_newer"]


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
