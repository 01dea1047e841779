"""The PostgreSQL schema as numbered migrations, recorded in ``schema_migrations`` and applied on open."""

from __future__ import annotations

from typing import Any

import psycopg

from ..events import EVENT_KINDS
from ._migrations import Migration, checked_store_id, kinds_check, refuse_newer

__all__ = [
    "CHANNEL",
    "MIGRATIONS",
    "MIGRATION_LOCK",
    "SCHEMA_VERSION",
    "VERSIONS_KEY",
    "WRITE_LOCK",
    "migrate",
    "store_id",
]

# Advisory lock keys: fixed, so every process and replica sharing the database
# contends for the same ones. 0x6D6F64656C726567 is "modelreg" in ASCII.
WRITE_LOCK = 0x6D6F64656C726567
MIGRATION_LOCK = WRITE_LOCK + 1
# The unique key whose violation means "duplicate version".
VERSIONS_KEY = "versions_identity_key"
# Writers NOTIFY this channel with their last revision; every replica LISTENs on it.
CHANNEL = "modelreg_events"


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "models, versions, aliases and the events log",
        (
            """CREATE TABLE models (
                id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                name text NOT NULL UNIQUE
            )""",
            # identity = canonical version without build metadata: 1.0.0+a and 1.0.0+b
            # collide here, so the database itself refuses a duplicate from any replica.
            # Metadata is json (kept as the exact text), not jsonb: jsonb re-encodes
            # numbers (1e300 comes back as 301 digits) and reorders keys.
            """CREATE TABLE versions (
                id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                model_id bigint NOT NULL REFERENCES models (id),
                identity text NOT NULL,
                version text NOT NULL,
                metadata json NOT NULL,
                registered_at timestamptz NOT NULL,
                CONSTRAINT versions_identity_key UNIQUE (model_id, identity)
            )""",
            """CREATE TABLE aliases (
                model_id bigint NOT NULL REFERENCES models (id),
                alias text NOT NULL,
                identity text NOT NULL,
                PRIMARY KEY (model_id, alias),
                FOREIGN KEY (model_id, identity) REFERENCES versions (model_id, identity)
            )""",
            # revision is assigned by the writer holding WRITE_LOCK, not by a sequence;
            # see PostgresRegistry._commit for why.
            """CREATE TABLE events (
                revision bigint PRIMARY KEY CHECK (revision > 0),
                kind text NOT NULL
                    CHECK (kind IN ('registered', 'unregistered', 'alias_set', 'alias_removed')),
                name text NOT NULL,
                version text,
                alias text,
                at timestamptz NOT NULL,
                payload json
            )""",
        ),
    ),
    Migration(
        2,
        "who made each change, and per-model history by index",
        (
            "ALTER TABLE events ADD COLUMN actor text",
            "CREATE INDEX events_by_name ON events (name, revision)",
        ),
    ),
    Migration(
        3,
        "a random id made with the store, so an event stream's client can tell a recreated store",
        (
            "CREATE TABLE store_identity (id text NOT NULL PRIMARY KEY)",
            # gen_random_uuid() is built in from PostgreSQL 13.
            "INSERT INTO store_identity (id) VALUES (replace(gen_random_uuid()::text, '-', ''))",
        ),
    ),
    Migration(
        4,
        "annotations: the new event kinds, who registered each version, the model records",
        (
            # The name PostgreSQL gave migration 1's column CHECK.
            "ALTER TABLE events DROP CONSTRAINT events_kind_check",
            f"ALTER TABLE events ADD CONSTRAINT events_kind_check {kinds_check(EVENT_KINDS[:6])}",
            # Read at open with the version, so no open scans the events for it.
            "ALTER TABLE versions ADD COLUMN registered_by text",
            "UPDATE versions v SET registered_by = (SELECT e.actor FROM events e JOIN models m ON m.name = e.name "
            "WHERE m.id = v.model_id AND e.kind = 'registered' AND e.version = v.version "
            "ORDER BY e.revision DESC LIMIT 1)",
            # json, like the metadata: kept as written.
            "ALTER TABLE models ADD COLUMN description text NOT NULL DEFAULT '', "
            "ADD COLUMN tags json NOT NULL DEFAULT '{}', "
            "ADD COLUMN created_at timestamptz, ADD COLUMN updated_at timestamptz",
            "UPDATE models m SET created_at = (SELECT min(registered_at) FROM versions v WHERE v.model_id = m.id), "
            "updated_at = (SELECT max(at) FROM events e WHERE e.name = m.name)",
        ),
    ),
    Migration(
        5,
        "governance: the policy and promotion event kinds, alias policies and promotion requests",
        (
            "ALTER TABLE events DROP CONSTRAINT events_kind_check",
            f"ALTER TABLE events ADD CONSTRAINT events_kind_check {kinds_check(EVENT_KINDS[:11])}",
            # Keyed by the model's name, not its row: a policy may come before the first
            # version and stays when the last one goes (and with it the models row).
            """CREATE TABLE alias_policies (
                name text NOT NULL,
                alias text NOT NULL,
                policy json NOT NULL,
                set_at timestamptz NOT NULL,
                set_by text,
                PRIMARY KEY (name, alias)
            )""",
            # request: the whole PromotionRequest.to_dict(); name, alias and state beside it for SQL.
            """CREATE TABLE promotions (
                id bigint PRIMARY KEY CHECK (id > 0),
                name text NOT NULL,
                alias text NOT NULL,
                state text NOT NULL CHECK (state IN ('pending', 'approved', 'rejected')),
                request json NOT NULL
            )""",
        ),
    ),
    Migration(
        6,
        "webhooks: their configuration, delivered position and lease, and a bounded delivery log",
        (
            # Beside the events, never in them: read tokens read the log, and the secret must not reach them.
            # events / models: JSON lists as text, NULL for every kind / model. lease_until: Unix seconds by
            # the database's clock, so replicas whose clocks disagree still agree on the lease.
            """CREATE TABLE webhooks (
                id text NOT NULL PRIMARY KEY,
                url text NOT NULL,
                events text,
                models text,
                secret text NOT NULL,
                created_at timestamptz NOT NULL,
                created_by text,
                position bigint NOT NULL,
                failures integer NOT NULL DEFAULT 0,
                last_attempt_at timestamptz,
                last_status integer,
                last_error text,
                holder text,
                lease_until double precision NOT NULL DEFAULT 0
            )""",
            """CREATE TABLE webhook_deliveries (
                seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                webhook_id text NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
                delivery_id text NOT NULL,
                revision bigint,
                kind text NOT NULL,
                attempt integer NOT NULL,
                at timestamptz NOT NULL,
                status integer,
                error text,
                duration_ms double precision NOT NULL
            )""",
            "CREATE INDEX webhook_deliveries_by_hook ON webhook_deliveries (webhook_id, seq)",
        ),
    ),
)

SCHEMA_VERSION = MIGRATIONS[-1].version


def _current(conn: psycopg.Connection[tuple[Any, ...]]) -> int:
    exists = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        return 0
    row = conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
    return int(row[0]) if row else 0


def store_id(conn: psycopg.Connection[tuple[Any, ...]], where: str) -> str:
    """The id migration 3 gave this database (kept by a dump and restore, new in a recreated one)."""
    return checked_store_id(conn.execute("SELECT id FROM store_identity").fetchall(), where)


def migrate(conn: psycopg.Connection[tuple[Any, ...]], where: str, *, upto: int = SCHEMA_VERSION) -> list[int]:
    """Bring the schema up to migration ``upto`` in one transaction; return the migrations applied.

    ``conn`` must be in autocommit mode. The migration advisory lock makes replicas
    that start at once take turns: the second finds the work done. A database
    newer than this code is refused with StoreError, untouched. PostgreSQL DDL is
    transactional, so a failed migration leaves the schema as it was.
    """
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        current = _current(conn)
        refuse_newer(current, SCHEMA_VERSION, where)
        if current >= upto:
            return []
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            "version integer PRIMARY KEY, description text NOT NULL, "
            "applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = []
        for migration in MIGRATIONS:
            if current < migration.version <= upto:
                for statement in migration.statements:
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_migrations (version, description) VALUES (%s, %s)",
                    (migration.version, migration.description),
                )
                done.append(migration.version)
        return done
