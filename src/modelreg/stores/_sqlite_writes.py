"""The table changes of a SqliteRegistry write other than a registration (which the group commit inlines)."""

from __future__ import annotations

import json
import sqlite3

from .._annotations import annotated_record
from .._state import RegistryState
from .._transitions import Change
from ..errors import StoreError
from ..events import GOVERNANCE_KINDS
from ..semver import parse_version
from ._policy_rows import promotion_row
from ._rows import encode_detail, encode_metadata

__all__ = ["MODEL_ID", "write_other"]

# Subqueries instead of a separate lookup: every statement costs a GIL hand-off
# when other threads are busy, so a write uses as few as it can.
MODEL_ID = "(SELECT id FROM models WHERE name = ?)"


def write_other(conn: sqlite3.Connection, change: Change, state: RegistryState, path: str) -> str | None:
    """The table changes of a change other than a registration; return its event's payload.

    ``change`` carries its event's time and actor; ``state`` is the one it was planned on.
    """
    if change.kind in GOVERNANCE_KINDS:
        return _write_governance(conn, change, state, path)
    name, version = change.name, change.version
    identity = parse_version(version).identity if version is not None else None
    if change.kind == "unregistered":
        deleted = conn.execute(
            f"DELETE FROM versions WHERE model_id = {MODEL_ID} AND identity = ?", (name, identity)
        ).rowcount
        if deleted != 1:
            raise StoreError(f"{path} has no row for {name} {version}, which the events say exists")
        conn.execute(  # a model exists only while it has versions
            "DELETE FROM models WHERE name = ? AND NOT EXISTS "
            "(SELECT 1 FROM versions WHERE model_id = models.id)",
            (name,),
        )
    elif change.kind == "alias_set":
        conn.execute(
            f"INSERT INTO aliases (model_id, alias, identity) VALUES ({MODEL_ID}, ?, ?) "
            "ON CONFLICT (model_id, alias) DO UPDATE SET identity = excluded.identity",
            (name, change.alias, identity),
        )
    elif change.kind == "alias_removed":
        conn.execute(f"DELETE FROM aliases WHERE model_id = {MODEL_ID} AND alias = ?", (name, change.alias))
    elif change.kind == "annotated":
        assert change.metadata is not None and change.detail is not None
        conn.execute(  # the version's current metadata; its registered event keeps the original
            f"UPDATE versions SET metadata = ? WHERE model_id = {MODEL_ID} AND identity = ?",
            (encode_metadata(change.metadata), name, identity),
        )
        return encode_detail(change.detail)
    else:
        assert change.kind == "model_annotated" and change.detail is not None
        model = state.model(name)
        description, tags = annotated_record(model.description, model.tags, change.detail)
        conn.execute(
            "UPDATE models SET description = ?, tags = ? WHERE name = ?",
            (description, json.dumps(tags, separators=(",", ":")), name),
        )
        return encode_detail(change.detail)
    return None


def _write_governance(conn: sqlite3.Connection, change: Change, state: RegistryState, path: str) -> str | None:
    """A policy's or a promotion request's row, kept by model name (it outlives the model's versions)."""
    name, alias = change.name, change.alias
    if change.kind == "policy_removed":
        conn.execute("DELETE FROM alias_policies WHERE name = ? AND alias = ?", (name, alias))
        return None
    assert change.detail is not None and change.at is not None
    payload = encode_detail(change.detail)
    if change.kind == "policy_set":
        conn.execute(
            "INSERT INTO alias_policies (name, alias, policy, set_at, set_by) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (name, alias) DO UPDATE SET policy = excluded.policy, set_at = excluded.set_at, "
            "set_by = excluded.set_by",
            (name, alias, payload, change.at.isoformat(), change.actor),
        )
        return payload
    row = promotion_row(state, change)
    if change.kind == "promotion_requested":  # the primary key refuses an id taken already
        conn.execute(
            "INSERT INTO promotions (id, name, alias, state, request) VALUES (?, ?, ?, ?, ?)",
            (row.id, row.name, row.alias, row.state, row.request),
        )
    else:
        # Only a pending request changes: a second final approval (which the plan refuses on
        # the fresh state already) could never move the alias twice.
        updated = conn.execute(
            "UPDATE promotions SET state = ?, request = ? WHERE id = ? AND state = 'pending'",
            (row.state, row.request, row.id),
        ).rowcount
        if updated != 1:
            raise StoreError(f"{path} has no pending promotion request {row.id}, which the events say exists")
    return payload
