"""What an import did (or with ``dry_run`` would do): frozen values, one per version, alias and model."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["AliasOutcome", "ImportReport", "ModelOutcome", "VersionOutcome"]


@dataclass(frozen=True, slots=True)
class VersionOutcome:
    """One MLflow version: ``imported`` (``would_import``), ``already_imported`` or ``skipped`` with the reason."""

    model: str
    mlflow_version: int
    version: str | None  # the SemVer it maps to, when it maps to one
    status: str
    reason: str = ""
    warnings: tuple[str, ...] = ()  # what was left out of an imported version, and why
    training_date_source: str = ""  # run end time, run start time or version creation time


@dataclass(frozen=True, slots=True)
class AliasOutcome:
    """One alias (an MLflow alias or a stage's): ``set`` (``would_set``), ``unchanged`` or ``skipped``."""

    model: str
    alias: str
    version: str | None
    status: str
    origin: str  # "alias" or the stage it comes from ("stage Production")
    reason: str = ""


@dataclass(frozen=True, slots=True)
class ModelOutcome:
    """One registered model: ``imported`` (``would_import``), ``unchanged`` or ``skipped``; its record's fate."""

    name: str
    status: str
    reason: str = ""
    record: str = ""  # the description and tags: set, would_set, unchanged
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ImportReport:
    """Everything one import run did, in MLflow's order: models by name, versions by number."""

    tracking_uri: str
    version_map: str
    dry_run: bool
    models: tuple[ModelOutcome, ...] = ()
    versions: tuple[VersionOutcome, ...] = ()
    aliases: tuple[AliasOutcome, ...] = ()

    def counts(self) -> dict[str, int]:
        """Versions by status, and warnings (left-out values and skipped aliases) counted in all."""
        counted = Counter(v.status for v in self.versions)
        warnings = sum(len(v.warnings) for v in self.versions) + sum(len(m.warnings) for m in self.models)
        return {**counted, "aliases_skipped": sum(a.status == "skipped" for a in self.aliases), "warnings": warnings}

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (what ``modelreg import mlflow --json`` prints)."""
        out = asdict(self)
        out["counts"] = self.counts()
        return out
