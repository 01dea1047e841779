"""What search and the model records return: frozen values that pickle and compare like plain data."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from .metadata import ModelMetadata

__all__ = ["ModelInfo", "SearchPage", "VersionRecord"]


@dataclass(frozen=True, slots=True)
class VersionRecord:
    """One version as search finds it: its metadata, the aliases pointing at it, and who registered it when."""

    name: str
    version: str  # canonical
    metadata: ModelMetadata
    aliases: tuple[str, ...]  # sorted
    registered_at: datetime  # aware (UTC)
    registered_by: str | None  # the actor of its ``registered`` event


@dataclass(frozen=True, slots=True)
class SearchPage:
    """One page of a search: ``items`` in order, the cursor of the next page (None on the last), the total."""

    items: Sequence[VersionRecord]  # a read-only list
    next_cursor: str | None
    total: int  # how many versions match in all, on every page


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """A model's record: its description and tags, and what its versions and aliases are now."""

    name: str
    description: str
    tags: Mapping[str, str]  # read-only
    version_count: int
    latest: str | None  # what resolve(name, "latest") gives; None without versions
    aliases: Mapping[str, str]  # alias -> canonical version, read-only
    created_at: datetime  # its first registration (aware, UTC)
    updated_at: datetime  # the last change to the model: a version, an alias or the record
