"""The rules that turn one MLflow version into a modelreg version: its SemVer and its metadata.

Nothing here guesses: a value our validation refuses is left out with a warning that
says why (a tag, a param, a metric), or the whole version is skipped with the reason
(its SemVer, or metadata that cannot be stored at all).
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..errors import InvalidVersionError, MetadataError
from ..metadata import JSONValue, ModelMetadata, validate_record
from ..semver import parse_version
from ._source import SourceRun, SourceVersion

__all__ = ["KEPT_TAGS", "Built", "VersionMap", "build_metadata", "checked_tags", "parse_param"]

#: Tags the importer writes on every version, so nothing is lost and a re-run can match it.
KEPT_TAGS = ("mlflow.version", "mlflow.run_id", "mlflow.source", "mlflow.stage")
_EPOCH_PROBE = datetime(2000, 1, 1, tzinfo=UTC)
_INT = re.compile(r"[-+]?[0-9]+", re.ASCII)
_FLOAT = re.compile(r"[-+]?([0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)([eE][-+]?[0-9]+)?", re.ASCII)
_BOOLS = {"true": True, "false": False}


@dataclass(frozen=True, slots=True)
class VersionMap:
    """How an MLflow version number becomes a SemVer: ``default`` (N.0.0), ``tag:KEY``, ``template:T``."""

    kind: str = "default"
    value: str = ""

    @classmethod
    def parse(cls, text: str) -> VersionMap:
        """``default``, ``tag:KEY`` or ``template:TEXT`` (TEXT holds ``{n}``); ValueError naming the forms."""
        kind, sep, value = text.partition(":")
        if text == "default":
            return cls()
        if sep and kind == "tag" and value:
            return cls("tag", value)
        if sep and kind == "template" and value:
            fields = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
            if fields == {"n"}:
                return cls("template", value)
            raise ValueError(f"version map template {value!r} must use exactly one field, {{n}}, e.g. '1.{{n}}.0'")
        raise ValueError(
            f"invalid version map {text!r}: expected 'default' (N.0.0), 'tag:KEY' (e.g. tag:sem_ver) "
            "or 'template:TEXT' with {n} (e.g. template:1.{n}.0)"
        )

    def __str__(self) -> str:
        return "default" if self.kind == "default" else f"{self.kind}:{self.value}"

    def semver(self, version: SourceVersion) -> str:
        """The canonical SemVer for ``version``; InvalidVersionError saying why there is none."""
        if self.kind == "tag":
            text = version.tags.get(self.value)
            if text is None:
                raise InvalidVersionError(f"it has no tag {self.value!r} to take its SemVer from")
        elif self.kind == "template":
            text = self.value.replace("{n}", str(version.number))
        else:
            text = f"{version.number}.0.0"
        try:
            return str(parse_version(text))
        except InvalidVersionError as exc:
            raise InvalidVersionError(f"its mapped version {text[:80]!r} is not a SemVer ({exc})") from None


@dataclass(frozen=True, slots=True)
class Built:
    """The metadata for one version (None: skipped, ``reason`` says why), its warnings, where its date came from."""

    metadata: ModelMetadata | None
    reason: str
    warnings: tuple[str, ...]
    date_source: str


def parse_param(text: str) -> JSONValue:
    """``--parse-params``: an integer, a finite decimal or true/false (any case) as JSON; anything else stays text."""
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        number = float(text)
        if math.isfinite(number):
            return number
    return _BOOLS.get(text.lower(), text)


def _date(version: SourceVersion, run: SourceRun | None) -> tuple[datetime | None, str]:
    """The training date: the run's end time, else its start time, else the version's creation time."""
    for source, millis in (("run end time", run and run.end_time), ("run start time", run and run.start_time),
                           ("version creation time", version.created_ms)):
        if millis:
            return datetime.fromtimestamp(millis / 1000, UTC), source
    return None, "none"


def checked_tags(tags: Mapping[str, str], where: str, warnings: list[str]) -> dict[str, str]:
    """The tags our rules accept; each refused one is left out, with a warning naming it and why."""
    kept: dict[str, str] = {}
    for key, value in tags.items():
        try:
            validate_record("", {key: value})
        except MetadataError as exc:
            warnings.append(f"{where} {key[:80]!r} left out: {_reason(exc)}")
            continue
        kept[key] = value
    return kept


def _checked_params(params: Mapping[str, str], parse: bool, warnings: list[str]) -> dict[str, JSONValue]:
    kept: dict[str, JSONValue] = {}
    for key, text in params.items():
        value = parse_param(text) if parse else text
        try:
            ModelMetadata(training_date=_EPOCH_PROBE, artifact_path="-", hyperparameters={key: value})
        except MetadataError as exc:
            warnings.append(f"param {key[:80]!r} left out: {_reason(exc)}")
            continue
        kept[key] = value
    return kept


def _checked_metrics(metrics: Mapping[str, float], warnings: list[str]) -> dict[str, float]:
    kept: dict[str, float] = {}
    for key, value in metrics.items():
        try:
            ModelMetadata(training_date=_EPOCH_PROBE, artifact_path="-", performance_metrics={key: value})
        except MetadataError as exc:
            warnings.append(f"metric {key[:80]!r} left out: {_reason(exc)}")
            continue
        kept[key] = value
    return kept


def _reason(exc: MetadataError) -> str:
    return str(exc).removeprefix("invalid metadata: ")


def _kept(version: SourceVersion, warnings: list[str]) -> dict[str, str]:
    """The tags that keep what MLflow knew: its version number, run, source and stage."""
    kept = {"mlflow.version": str(version.number)}
    if version.run_id:
        kept["mlflow.run_id"] = version.run_id
    if version.source:
        kept["mlflow.source"] = version.source
    if version.stage != "None":
        kept["mlflow.stage"] = version.stage
    clashing = sorted(key for key in KEPT_TAGS if key in version.tags)
    if clashing:
        warnings.append(f"MLflow tag(s) {', '.join(map(repr, clashing))} replaced by the importer's own")
    return checked_tags(kept, "tag", warnings)


def build_metadata(
    version: SourceVersion, run: SourceRun | None, download_uri: str, *, parse_params: bool = False
) -> Built:
    """The metadata for ``version`` (with ``run``, its training run if it has one), or why it cannot be built."""
    warnings: list[str] = []
    when, date_source = _date(version, run)
    if when is None:
        return Built(None, "no training date: its run has no end or start time and the version no creation time",
                     (), date_source)
    artifact = download_uri or version.source
    if not artifact.strip():
        return Built(None, "no artifact path: MLflow gives no download URI and no source", (), date_source)
    tags = checked_tags({k: v for k, v in version.tags.items() if k not in KEPT_TAGS}, "tag", warnings)
    tags.update(_kept(version, warnings))
    fields: dict[str, Any] = {
        "training_date": when,
        "artifact_path": artifact,
        "description": version.description,
        "tags": tags,
        "hyperparameters": _checked_params(run.params, parse_params, warnings) if run else {},
        "performance_metrics": _checked_metrics(run.metrics, warnings) if run else {},
    }
    try:
        metadata = ModelMetadata(**fields)
    except MetadataError as exc:
        return Built(None, _reason(exc), tuple(warnings), date_source)
    return Built(metadata, "", tuple(warnings), date_source)
