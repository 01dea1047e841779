"""The stores' row codec: metadata as stored JSON, event rows, and a snapshot built from table rows.

Shared by SQLite and PostgreSQL, which store the same rows in the same shape.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .._frozen import frozen_dict
from .._history import HistoryFilter
from .._state import RegistryState
from .._transitions import Change, advance
from ..errors import StoreError
from ..events import DETAIL_KINDS, EVENT_SHAPES, RegistryEvent, freeze_detail
from ..metadata import ModelMetadata
from ._policy_rows import PolicyRow, decode_policies, decode_promotions

__all__ = [
    "ALIAS_ROWS",
    "EventRow",
    "ModelRow",
    "VersionRow",
    "decode_metadata",
    "encode_detail",
    "encode_metadata",
    "history_condition",
    "state_from_rows",
]


def history_condition(
    name: str, chosen: HistoryFilter, mark: str, version: str = "version", until: object | None = None
) -> tuple[str, list[object]]:
    """The ``WHERE`` text and parameters for a model's events that ``chosen`` passes, in both stores' SQL.

    ``mark`` is the driver's placeholder; ``version`` the column as compared bytewise (PostgreSQL
    needs ``COLLATE "C"`` for that); ``until``, if given, the latest ``at`` to include, in the store's
    own form of a time (time travel). The ``events_by_name`` index finds the model's rows; the rest
    is checked in the database, so only the rows returned are decoded.
    """
    clauses = [f"name = {mark}"]
    params: list[object] = [name]
    if chosen.identity is not None:
        low, high = chosen.version_range()
        clauses.append(f"{version} >= {mark} AND {version} < {mark}")
        params += [low, high]
    if chosen.kinds is not None:
        kinds = sorted(chosen.kinds)
        clauses.append(f"kind IN ({', '.join([mark] * len(kinds))})")
        params += kinds
    if until is not None:
        clauses.append(f"at <= {mark}")
        params.append(until)
    return " AND ".join(clauses), params


# (name, version, metadata JSON, registered_at, registered_by) and
# (name, description, tags JSON, created_at, updated_at), as both stores read them at open.
VersionRow = tuple[str, str, str, datetime, str | None]
ModelRow = tuple[str, str, str, datetime | None, datetime | None]

# (model name, alias, canonical version) of every alias; the same SQL in both stores.
ALIAS_ROWS = (
    "SELECT m.name, a.alias, v.version FROM aliases a JOIN models m ON m.id = a.model_id "
    "JOIN versions v ON v.model_id = a.model_id AND v.identity = a.identity"
)


def encode_metadata(metadata: ModelMetadata) -> str:
    """The JSON text stored for a version (and in its ``registered`` event)."""
    return metadata.to_json()


def encode_detail(detail: Mapping[str, Any]) -> str:
    """The JSON text stored as an annotation event's payload: what it changed."""
    return json.dumps(detail, separators=(",", ":"), allow_nan=False)


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
    payload: str | None  # metadata JSON for 'registered' events, what changed for the annotation kinds

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
            detail=freeze_detail(self._detail()) if self.kind in DETAIL_KINDS else None,
        )

    def _detail(self, row: str = "") -> dict[str, Any]:
        try:
            detail = json.loads(self.payload or "")
            if not isinstance(detail, dict):
                raise TypeError(f"it is a {type(detail).__name__}, not an object")
        except (ValueError, TypeError) as exc:
            row = row or f"event {self.revision} ({self.kind} {self.name} {self.version})"
            raise StoreError(
                f"the detail of {row} is unreadable ({exc}); the row was changed outside modelreg"
            ) from exc
        return detail

    def change(self, where: str) -> Change:
        """The change this row records (with its time and actor), ready to apply; StoreError if it is malformed."""
        row = f"event {self.revision} ({self.kind} {self.name} {self.version}) in {where}"
        shape = EVENT_SHAPES.get(self.kind)
        missing = (
            shape is None
            or (shape.version == "required" and self.version is None)
            or (shape.version == "none" and self.version is not None)
            or shape.alias != (self.alias is not None)
            or (shape.detail or self.kind == "registered") != (self.payload is not None)
        )
        if missing:
            raise StoreError(f"{row} is malformed: its kind, version, alias or payload is missing or out of place")
        if self.kind in DETAIL_KINDS:
            change = Change(self.kind, self.name, self.version, self.alias, None, self._detail(row))  # type: ignore[arg-type]
        else:
            metadata = decode_metadata(self.payload, row=row) if self.payload is not None else None
            change = Change(self.kind, self.name, self.version, self.alias, metadata)  # type: ignore[arg-type]
        return change.stamped(self.at, self.actor)


def state_from_rows(
    versions: Iterable[VersionRow],
    aliases: Iterable[tuple[str, str, str]],
    models: Iterable[ModelRow],
    revision: int,
    where: str,
    policies: Iterable[PolicyRow] = (),
    promotions: Iterable[tuple[str]] = (),
) -> RegistryState:
    """A snapshot built from table rows: versions, (model name, alias, version), the model records,
    the alias policies and the promotion requests (``_policy_rows``).

    ``versions`` may be a cursor: each row is decoded as it comes (at 100,000
    versions, holding all the JSON texts at once would cost ~40 MB).
    """
    steps = [
        (Change("registered", name, meta.version, None, meta, None, at, by), revision)
        for name, version, text, at, by in versions
        for meta in (decode_metadata(text, row=f"{name} {version} in {where}"),)
    ]
    steps += [(Change("alias_set", name, version, alias), revision) for name, alias, version in aliases]
    state = advance(RegistryState(revision=revision), steps)
    found = dict(state.models)
    for name, description, tags, created, updated in models:
        model = found.get(name)
        if model is None:
            continue  # a model row without versions: none exists once its last version goes
        try:
            record = frozen_dict(json.loads(tags))
        except (ValueError, TypeError) as exc:
            raise StoreError(f"the tags of model {name} in {where} are unreadable ({exc})") from exc
        found[name] = dataclasses.replace(
            model,
            description=description,
            tags=record,
            created_at=created or model.created_at,
            updated_at=updated or model.updated_at,
        )
    return RegistryState(
        found, state.revision, state.names, decode_policies(policies, where), decode_promotions(promotions, where)
    )
