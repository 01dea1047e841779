"""The statements of a PostgresRegistry write: events first, then the table changes, then NOTIFY."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from itertools import groupby
from typing import Any

from .._plans import current_actor
from .._state import RegistryState
from .._transitions import Change, apply
from ..events import GOVERNANCE_KINDS
from ._pg_schema import CHANNEL
from ._policy_rows import PROMOTION_KINDS, promotion_row
from ._rows import EventRow, encode_detail, encode_metadata

__all__ = ["Script", "event_rows_for"]


def event_rows_for(changes: Sequence[Change], first: int) -> list[EventRow]:
    """The event rows a write appends: revisions from ``first``, one time and actor for all."""
    at = datetime.now(UTC)
    actor = current_actor.get()
    return [
        EventRow(
            first + i, change.kind, change.name, change.version, change.alias, actor, at,
            _payload(change),
        )
        for i, change in enumerate(changes)
    ]


def _payload(change: Change) -> str | None:
    """A registration's metadata, or what an annotation changed."""
    if change.detail is not None:
        return encode_detail(change.detail)
    return encode_metadata(change.metadata) if change.metadata is not None else None


class Script:
    """The statements of one write, to send as one query."""

    def __init__(self) -> None:
        self._statements: list[str] = []
        self.params: list[Any] = []

    @property
    def query(self) -> str:
        """The statements joined."""
        return "; ".join(self._statements)

    def add(self, statement: str, params: Sequence[Any]) -> None:
        """Append a statement and its parameters."""
        self._statements.append(statement)
        self.params.extend(params)

    def add_changes(self, rows: list[EventRow], changes: Sequence[Change], state: RegistryState) -> None:
        """The events (first: their primary key detects a stale writer), the table changes, the NOTIFY.

        The rows travel once, as one JSON document (cheap to quote, even for a bulk
        import); the table changes are then derived from the events just inserted,
        but for what the write computed from ``state`` (the one ``changes`` were
        planned on): an annotation's new metadata and a promotion request's new row.
        """
        if not rows:
            return
        document = json.dumps(
            [{"revision": r.revision, "kind": r.kind, "name": r.name, "version": r.version, "alias": r.alias,
              "payload": r.payload} for r in rows],
            separators=(",", ":"),
        )
        self.add(
            "INSERT INTO events (revision, kind, name, version, alias, actor, at, payload) "
            "SELECT x.revision, x.kind, x.name, x.version, x.alias, %s, %s, x.payload::json "
            "FROM json_to_recordset(%s::json) "
            "AS x(revision bigint, kind text, name text, version text, alias text, payload text)",
            [rows[0].actor, rows[0].at, document],
        )
        # Runs of one kind (a bulk import) become one statement each, in order: aliases
        # are removed before the version they point at.
        for kind, group in groupby(rows, key=lambda row: row.kind):
            run = list(group)
            for statement in _STATEMENTS[kind]:
                self.add(statement, [run[0].revision, run[-1].revision])
            if kind not in GOVERNANCE_KINDS:  # policies and requests leave the model's record as it is
                self.add(_TOUCHED, [run[0].revision, run[-1].revision])
        self._add_promotions(rows, changes, state)
        for change in changes:
            if change.kind == "annotated":  # the new metadata as the write built it: json keeps its exact text
                assert change.metadata is not None and change.version is not None
                self.add(
                    "UPDATE versions SET metadata = %s::json "
                    "WHERE model_id = (SELECT id FROM models WHERE name = %s) AND identity = split_part(%s, '+', 1)",
                    [encode_metadata(change.metadata), change.name, change.version],
                )
        # Delivered to every listener when (and only if) we commit.
        self.add("SELECT pg_notify(%s, %s)", [CHANNEL, str(rows[-1].revision)])

    def _add_promotions(self, rows: list[EventRow], changes: Sequence[Change], state: RegistryState) -> None:
        """Each promotion request's row as the write leaves it (computed by the snapshot's own transition)."""
        for row, change in zip(rows, changes, strict=True):
            if change.kind not in PROMOTION_KINDS:
                continue
            stamped = change.stamped(row.at, row.actor)
            new = promotion_row(state, stamped)
            state = apply(state, stamped, row.revision)
            if change.kind == "promotion_requested":  # the primary key refuses an id taken already
                self.add(
                    "INSERT INTO promotions (id, name, alias, state, request) VALUES (%s, %s, %s, %s, %s::json)",
                    [new.id, new.name, new.alias, new.state, new.request],
                )
            else:  # only a pending request changes (the plan, on the caught-up state, refused any other)
                self.add(
                    "UPDATE promotions SET state = %s, request = %s::json WHERE id = %s AND state = 'pending'",
                    [new.state, new.request, new.id],
                )


# Each statement applies the events with revisions between its two parameters.
# identity is the canonical version without its build metadata, as SemVer.identity:
# '+' can only start the build part. Model ids come from scalar subqueries, so a
# missing model row gives NULL, which NOT NULL refuses: tables changed behind our
# back fail the write instead of silently losing it. Deleting rows already gone
# changes nothing.
_EVENTS = "events e WHERE e.revision BETWEEN %s AND %s"
_IDENTITY = "split_part(e.version, '+', 1)"
_MODEL_ID = "(SELECT id FROM models m WHERE m.name = e.name)"
# Every change is the model's latest (one write's events share one time).
_TOUCHED = f"UPDATE models m SET updated_at = e.at FROM {_EVENTS} AND m.name = e.name"
_STATEMENTS: dict[str, tuple[str, ...]] = {
    "registered": (
        f"INSERT INTO models (name, created_at) SELECT DISTINCT e.name, e.at FROM {_EVENTS} "
        "ON CONFLICT (name) DO NOTHING",
        "INSERT INTO versions (model_id, identity, version, metadata, registered_at, registered_by) "
        f"SELECT {_MODEL_ID}, {_IDENTITY}, e.version, e.payload, e.at, e.actor FROM {_EVENTS}",
    ),
    "unregistered": (
        f"DELETE FROM versions v USING {_EVENTS} AND v.model_id = {_MODEL_ID} AND v.identity = {_IDENTITY}",
        # a model exists only while it has versions
        f"DELETE FROM models m USING {_EVENTS} AND m.name = e.name "
        "AND NOT EXISTS (SELECT 1 FROM versions v WHERE v.model_id = m.id)",
    ),
    "alias_set": (
        # The foreign key to versions refuses an alias to a version that is not there.
        f"INSERT INTO aliases (model_id, alias, identity) SELECT {_MODEL_ID}, e.alias, {_IDENTITY} FROM {_EVENTS} "
        "ON CONFLICT (model_id, alias) DO UPDATE SET identity = EXCLUDED.identity",
    ),
    "alias_removed": (f"DELETE FROM aliases a USING {_EVENTS} AND a.model_id = {_MODEL_ID} AND a.alias = e.alias",),
    "annotated": (),  # the new metadata is sent with the write (Script.add_changes)
    # The record's tags with the removed ones dropped and the set ones merged in (jsonb for the
    # operators; tags are a flat str -> str object, which jsonb keeps exactly).
    # Kept by model name: a policy outlives the model's versions (and its models row).
    "policy_set": (
        "INSERT INTO alias_policies (name, alias, policy, set_at, set_by) "
        f"SELECT e.name, e.alias, e.payload, e.at, e.actor FROM {_EVENTS} "
        "ON CONFLICT (name, alias) DO UPDATE SET policy = EXCLUDED.policy, set_at = EXCLUDED.set_at, "
        "set_by = EXCLUDED.set_by",
    ),
    "policy_removed": (
        f"DELETE FROM alias_policies p USING {_EVENTS} AND p.name = e.name AND p.alias = e.alias",
    ),
    # A request's row is sent with the write (Script._add_promotions).
    "promotion_requested": (),
    "promotion_approved": (),
    "promotion_rejected": (),
    "model_annotated": (
        "UPDATE models m SET description = coalesce(e.payload->>'description', m.description), "
        "tags = ((m.tags::jsonb - ARRAY(SELECT json_array_elements_text(coalesce(e.payload->'remove_tags', "
        "'[]'::json)))) || coalesce(e.payload->'set_tags', '{}'::json)::jsonb)::json "
        f"FROM {_EVENTS} AND m.name = e.name",
    ),
}
