"""Helpers shared by the tests and the bench scripts (importable without pytest)."""
