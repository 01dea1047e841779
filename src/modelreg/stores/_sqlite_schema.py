"""The SQLite schema as numbered migrations, recorded in ``schema_migrations`` and applied on open."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

from ..events import EVENT_KINDS
from ._migrations import Migration, checked_store_id, kinds_check, refuse_newer
from ._sqlite_tx import transaction

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "migrate", "schema_version", "store_id"]

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "models, versions, aliases and the events log",
        (
            """CREATE TABLE models (
                id INTEGER PRIMARY KEY,
                name TEXT NOT NULL UNIQUE
            )""",
            # identity = canonical version without build metadata: 1.0.0+a and 1.0.0+b
            # collide here, so the database itself refuses a duplicate from any process.
            """CREATE TABLE versions (
                id INTEGER PRIMARY KEY,
                model_id INTEGER NOT NULL REFERENCES models (id),
                identity TEXT NOT NULL,
                version TEXT NOT NULL,
                metadata TEXT NOT NULL,
                registered_at TEXT NOT NULL,
                UNIQUE (model_id, identity)
            )""",
            """CREATE TABLE aliases (
                model_id INTEGER NOT NULL REFERENCES models (id),
                alias TEXT NOT NULL,
                identity TEXT NOT NULL,
                PRIMARY KEY (model_id, alias),
                FOREIGN KEY (model_id, identity) REFERENCES versions (model_id, identity)
            )""",
            # INTEGER PRIMARY KEY takes max(revision) + 1; writers are serialized by
            # BEGIN IMMEDIATE and rows are never deleted, so revisions are gap-free in commit order.
            """CREATE TABLE events (
                revision INTEGER PRIMARY KEY,
                kind TEXT NOT NULL
                    CHECK (kind IN ('registered', 'unregistered', 'alias_set', 'alias_removed')),
                name TEXT NOT NULL,
                version TEXT,
                alias TEXT,
                at TEXT NOT NULL,
                payload TEXT
            )""",
        ),
    ),
    Migration(
        2,
        "who made each change, and per-model history by index",
        (
            "ALTER TABLE events ADD COLUMN actor TEXT",
            "CREATE INDEX events_by_name ON events (name, revision)",
        ),
    ),
    Migration(
        3,
        "a random id made with the store, so an event stream's client can tell a recreated store",
        (
            "CREATE TABLE store_identity (id TEXT NOT NULL PRIMARY KEY)",
            "INSERT INTO store_identity (id) VALUES (lower(hex(randomblob(16))))",
        ),
    ),
    Migration(
        4,
        "annotations: the new event kinds, who registered each version, the model records",
        (
            # SQLite cannot change a CHECK in place: rebuild the table the documented way
            # (sqlite.org/lang_altertable.html#otheralter), every row and revision kept. No
            # foreign key refers to events, so foreign_keys may stay on.
            f"""CREATE TABLE events_new (
                revision INTEGER PRIMARY KEY,
                kind TEXT NOT NULL
                    {kinds_check(EVENT_KINDS[:6])},
                name TEXT NOT NULL,
                version TEXT,
                alias TEXT,
                at TEXT NOT NULL,
                payload TEXT,
                actor TEXT
            )""",
            "INSERT INTO events_new (revision, kind, name, version, alias, at, payload, actor) "
            "SELECT revision, kind, name, version, alias, at, payload, actor FROM events",
            "DROP TABLE events",
            "ALTER TABLE events_new RENAME TO events",
            "CREATE INDEX events_by_name ON events (name, revision)",
            # Read at open with the version, so no open scans the events for it.
            "ALTER TABLE versions ADD COLUMN registered_by TEXT",
            "UPDATE versions SET registered_by = (SELECT e.actor FROM events e "
            "WHERE e.name = (SELECT name FROM models WHERE id = versions.model_id) "
            "AND e.kind = 'registered' AND e.version = versions.version ORDER BY e.revision DESC LIMIT 1)",
            "ALTER TABLE models ADD COLUMN description TEXT NOT NULL DEFAULT ''",
            "ALTER TABLE models ADD COLUMN tags TEXT NOT NULL DEFAULT '{}'",
            "ALTER TABLE models ADD COLUMN created_at TEXT",
            "ALTER TABLE models ADD COLUMN updated_at TEXT",
            # Times are UTC isoformat() text, so min and max compare them as times.
            "UPDATE models SET created_at = (SELECT min(registered_at) FROM versions WHERE model_id = models.id), "
            "updated_at = (SELECT max(at) FROM events WHERE name = models.name)",
        ),
    ),
    Migration(
        5,
        "governance: the policy and promotion event kinds, alias policies and promotion requests",
        (
            # The events table rebuilt as in migration 4, for the wider CHECK.
            f"""CREATE TABLE events_new (
                revision INTEGER PRIMARY KEY,
                kind TEXT NOT NULL
                    {kinds_check(EVENT_KINDS[:11])},
                name TEXT NOT NULL,
                version TEXT,
                alias TEXT,
                at TEXT NOT NULL,
                payload TEXT,
                actor TEXT
            )""",
            "INSERT INTO events_new (revision, kind, name, version, alias, at, payload, actor) "
            "SELECT revision, kind, name, version, alias, at, payload, actor FROM events",
            "DROP TABLE events",
            "ALTER TABLE events_new RENAME TO events",
            "CREATE INDEX events_by_name ON events (name, revision)",
            # Keyed by the model's name, not its row: a policy may come before the first
            # version and stays when the last one goes (and with it the models row).
            """CREATE TABLE alias_policies (
                name TEXT NOT NULL,
                alias TEXT NOT NULL,
                policy TEXT NOT NULL,
                set_at TEXT NOT NULL,
                set_by TEXT,
                PRIMARY KEY (name, alias)
            )""",
            # request: the whole PromotionRequest.to_dict(); name, alias and state beside it for SQL.
            """CREATE TABLE promotions (
                id INTEGER PRIMARY KEY,
                name TEXT NOT NULL,
                alias TEXT NOT NULL,
                state TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'rejected')),
                request TEXT NOT NULL
            )""",
        ),
    ),
    Migration(
        6,
        "webhooks: their configuration, delivered position and lease, and a bounded delivery log",
        (
            # Beside the events, never in them: read tokens read the log, and the secret must not reach them.
            # events / models: JSON lists, NULL for every kind / model. lease_until: Unix seconds.
            """CREATE TABLE webhooks (
                id TEXT NOT NULL PRIMARY KEY,
                url TEXT NOT NULL,
                events TEXT,
                models TEXT,
                secret TEXT NOT NULL,
                created_at TEXT NOT NULL,
                created_by TEXT,
                position INTEGER NOT NULL,
                failures INTEGER NOT NULL DEFAULT 0,
                last_attempt_at TEXT,
                last_status INTEGER,
                last_error TEXT,
                holder TEXT,
                lease_until REAL NOT NULL DEFAULT 0
            )""",
            """CREATE TABLE webhook_deliveries (
                seq INTEGER PRIMARY KEY,
                webhook_id TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
                delivery_id TEXT NOT NULL,
                revision INTEGER,
                kind TEXT NOT NULL,
                attempt INTEGER NOT NULL,
                at TEXT NOT NULL,
                status INTEGER,
                error TEXT,
                duration_ms REAL NOT NULL
            )""",
            "CREATE INDEX webhook_deliveries_by_hook ON webhook_deliveries (webhook_id, seq)",
        ),
    ),
)

SCHEMA_VERSION = MIGRATIONS[-1].version


def schema_version(conn: sqlite3.Connection) -> int:
    """The highest migration recorded in the database (0 for a new file)."""
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
    ).fetchone()
    if exists is None:
        return 0
    return int(conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()[0])


def store_id(conn: sqlite3.Connection, where: str) -> str:
    """The id migration 3 gave this database (copied with the file, new in a recreated one)."""
    return checked_store_id(conn.execute("SELECT id FROM store_identity").fetchall(), where)


def migrate(conn: sqlite3.Connection, where: str) -> list[int]:
    """Bring the schema up to date in one write transaction; return the migrations applied.

    ``conn`` must be in autocommit mode (``isolation_level=None``). A database
    newer than this code is refused with StoreError, untouched.
    """
    current = schema_version(conn)
    refuse_newer(current, SCHEMA_VERSION, where)
    if current == SCHEMA_VERSION:
        return []  # the common case: no write lock taken on open
    with transaction(conn, immediate=True):
        # Re-read under the write lock: another process may have migrated meanwhile.
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
        )
        current = schema_version(conn)
        refuse_newer(current, SCHEMA_VERSION, where)
        done = []
        for migration in MIGRATIONS:
            if migration.version <= current:
                continue
            for statement in migration.statements:
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                (migration.version, datetime.now(UTC).isoformat()),
            )
            done.append(migration.version)
    return done
