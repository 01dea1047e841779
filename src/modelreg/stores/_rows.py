"""The stores' row codec: metadata as stored JSON, event rows, and a snapshot built from table rows.

Shared by SQLite and PostgreSQL, which store the same rows in the same shape.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from .._state import RegistryState
from .._transitions import Change, advance
from ..errors import StoreError
from ..events import EVENT_KINDS, RegistryEvent
from ..metadata import ModelMetadata

__all__ = ["ALIAS_ROWS", "EventRow", "decode_metadata", "encode_metadata", "state_from_rows"]

# (model name, alias, canonical version) of every alias; the same SQL in both stores.
ALIAS_ROWS = (
    "SELECT m.name, a.alias, v.version FROM aliases a JOIN models m ON m.id = a.model_id "
    "JOIN versions v ON v.model_id = a.model_id AND v.identity = a.identity"
)


def encode_metadata(metadata: ModelMetadata) -> str:
    """The JSON text stored for a version (and in its ``registered`` event)."""
    return metadata.to_json()


def decode_metadata(text: str, *, row: str) -> ModelMetadata:
    """Inverse of ``encode_metadata``; StoreError naming ``row`` when the text is not what we stored.

    Not re-validated (opening 100,000 versions would spend most of its time there),
    but a row edited by hand or damaged must fail clearly, never with a raw KeyError.
    """
    try:
        metadata = ModelMetadata._from_stored(json.loads(text))
        if not isinstance(metadata.version, str):
            raise TypeError(f"its version is {metadata.version!r}, not a string")
    # RecursionError: json and the freezing recurse, and only damage nests that deep.
    except (ValueError, LookupError, TypeError, AttributeError, RecursionError) as exc:
        raise StoreError(
            f"stored metadata of {row} is unreadable ({type(exc).__name__}: {exc}); "
            "the row was changed outside modelreg or is damaged"
        ) from exc
    return metadata


@dataclass(frozen=True, slots=True)
class EventRow:
    """One row of the events table, as the stores read and write it."""

    revision: int
    kind: str
    name: str
    version: str | None
    alias: str | None
    actor: str | None
    at: datetime
    payload: str | None  # metadata JSON for 'registered' events

    def event(self) -> RegistryEvent:
        """The public event for this row."""
        return RegistryEvent(
            kind=self.kind,  # type: ignore[arg-type]
            name=self.name,
            version=self.version,
            alias=self.alias,
            revision=self.revision,
            at=self.at,
            actor=self.actor,
        )

    def change(self, where: str) -> Change:
        """The change this row records, ready to apply; StoreError naming the row if it is malformed."""
        row = f"event {self.revision} ({self.kind} {self.name} {self.version}) in {where}"
        missing = (
            self.kind not in EVENT_KINDS
            or self.version is None
            or (self.kind == "registered") != (self.payload is not None)
            or (self.kind.startswith("alias_") and self.alias is None)
        )
        if missing:
            raise StoreError(f"{row} is malformed: its kind, version, alias or payload is missing or out of place")
        metadata = decode_metadata(self.payload, row=row) if self.payload is not None else None
        return Change(self.kind, self.name, self.version, self.alias, metadata)  # type: ignore[arg-type]


def state_from_rows(
    versions: Iterable[tuple[str, str, str]], aliases: Iterable[tuple[str, str, str]], revision: int, where: str
) -> RegistryState:
    """A snapshot built from table rows: (model name, version, metadata JSON) and (model name, alias, version).

    ``versions`` may be a cursor: each row is decoded as it comes (at 100,000
    versions, holding all the JSON texts at once would cost ~40 MB).
    """
    steps = [
        (Change("registered", name, meta.version, None, meta), revision)
        for name, version, text in versions
        for meta in (decode_metadata(text, row=f"{name} {version} in {where}"),)
    ]
    steps += [(Change("alias_set", name, version, alias), revision) for name, alias, version in aliases]
    return advance(RegistryState(revision=revision), steps)
