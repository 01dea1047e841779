"""Durable backends: SQLite (embedded default) and PostgreSQL (centralized)."""
