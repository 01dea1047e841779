"""The rules that turn one MLflow version into a modelreg version: its SemVer and its metadata.

Nothing here guesses: a value our validation refuses is left out with a warning that
says why (a tag, a param, a metric), or the whole version is skipped with the reason
(its SemVer, or metadata that cannot be stored at all).
"""

from __future__ import annotations

import json
import math
import re
import string
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..errors import InvalidVersionError, MetadataError
from ..metadata import LIMITS, JSONValue, ModelMetadata, validate_record
from ..semver import parse_version
from ._source import SourceRun, SourceVersion

__all__ = ["KEPT_TAGS", "Built", "VersionMap", "build_metadata", "checked_tags", "parse_param"]

#: Tags the importer writes on every version, so nothing is lost and a re-run can match it.
KEPT_TAGS = ("mlflow.version", "mlflow.run_id", "mlflow.source", "mlflow.stage")
_EPOCH_PROBE = datetime(2000, 1, 1, tzinfo=UTC)
_INT = re.compile(r"-?[0-9]{1,16}", re.ASCII)  # 2**53 has 16 digits: longer ones are never exact as JSON numbers
_FLOAT = re.compile(r"-?[0-9]+\.[0-9]+([eE][-+]?[0-9]+)?|-?[0-9]+[eE][-+]?[0-9]+", re.ASCII)
_EXACT_INT = 2**53  # beyond it a JSON number is not an exact integer in most readers (JavaScript, jq)
_BOOLS = {"true": True, "false": False}
#: MLflow's SQL store saves an infinite metric as the largest float (sanitize_metric_value) and returns that.
_MLFLOW_INFINITY = {sys.float_info.max: "inf", -sys.float_info.max: "-inf"}
_SHOWN = 10  # names listed in a warning about what a total limit left out


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
            if _template_fields(value) == {("n", "", None)}:
                return cls("template", value)
            raise ValueError(f"version map template {value!r} must use exactly one field, {{n}}, as written "
                             "(no format spec or conversion such as {n:03} or {n!s}), e.g. '1.{n}.0'")
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
            text = self.value.format(n=version.number)
        else:
            text = f"{version.number}.0.0"
        try:
            return str(parse_version(text))
        except InvalidVersionError as exc:
            raise InvalidVersionError(f"its mapped version {text[:80]!r} is not a SemVer ({exc})") from None


def _template_fields(template: str) -> set[tuple[str, str, str | None]]:
    """Each replacement field of a template as (name, format spec, conversion); an empty set if it does not parse."""
    try:
        return {(name, spec or "", conv) for _, name, spec, conv in string.Formatter().parse(template)
                if name is not None}
    except ValueError:  # an unmatched brace
        return set()


@dataclass(frozen=True, slots=True)
class Built:
    """The metadata for one version (None: skipped, ``reason`` says why), its warnings, where its date came from."""

    metadata: ModelMetadata | None
    reason: str
    warnings: tuple[str, ...]
    date_source: str


def parse_param(text: str) -> JSONValue:
    """``--parse-params``: true/false (any case), or a number whose JSON text is exactly ``text``; else the text.

    Only exact spellings convert, so nothing changes on the way: ``007``, ``+5``, ``-0``,
    ``1e5``, ``0.10000000000000000555`` and integers beyond 2**53 stay strings.
    """
    number: int | float
    if _INT.fullmatch(text):
        number = int(text)
        if abs(number) > _EXACT_INT:
            return text
    elif _FLOAT.fullmatch(text):
        number = float(text)
        if not math.isfinite(number):
            return text
    else:
        return _BOOLS.get(text.lower(), text)
    return number if json.dumps(number) == text else text


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
    """Each param our rules accept; in name order while their JSON fits the size limit together."""
    valid: dict[str, JSONValue] = {}
    for key, text in params.items():
        value = parse_param(text) if parse else text
        try:
            ModelMetadata(training_date=_EPOCH_PROBE, artifact_path="-", hyperparameters={key: value})
        except MetadataError as exc:
            warnings.append(f"param {key[:80]!r} left out: {_reason(exc)}")
            continue
        valid[key] = value
    fits: set[str] = set()
    over: list[str] = []
    limit, size = LIMITS["hyperparameters_json_bytes"], 2  # "{}", then each '"key": value' and ", " between
    for key in sorted(valid):
        entry = len(json.dumps({key: valid[key]}).encode()) - 2 + (2 if fits else 0)
        if size + entry > limit:
            over.append(key)
            continue
        size += entry
        fits.add(key)
    if over:
        warnings.append(f"{_count(over, 'param')} left out: together over the hyperparameters limit of {limit} "
                        f"bytes as JSON (kept in name order while they fit): {_names(over)}")
    return {key: value for key, value in valid.items() if key in fits}


def _checked_metrics(metrics: Mapping[str, float], warnings: list[str]) -> dict[str, float]:
    """Each finite metric, at most ``LIMITS['metrics']`` (by name); MLflow's stand-in for infinity is not finite."""
    kept: dict[str, float] = {}
    for key, value in metrics.items():
        if value in _MLFLOW_INFINITY:
            warnings.append(f"metric {key[:80]!r} left out: it is {_MLFLOW_INFINITY[value]} in MLflow (which "
                            f"stores an infinite value as {value!r}); metrics must be finite numbers")
            continue
        try:
            ModelMetadata(training_date=_EPOCH_PROBE, artifact_path="-", performance_metrics={key: value})
        except MetadataError as exc:
            warnings.append(f"metric {key[:80]!r} left out: {_reason(exc)}")
            continue
        kept[key] = value
    return _within(kept, LIMITS["metrics"], "metric", f"the limit of {LIMITS['metrics']} metrics", warnings)


def _within(items: dict[str, Any], room: int, what: str, limit: str, warnings: list[str]) -> dict[str, Any]:
    """The first ``room`` of ``items`` by name (in their own order); the rest left out, with one warning."""
    if len(items) <= room:
        return items
    names = sorted(items)
    over = names[room:]
    warnings.append(f"{_count(over, what)} left out: over {limit} (kept the first {room} by name): {_names(over)}")
    left_out = set(over)
    return {key: value for key, value in items.items() if key not in left_out}


def _count(names: list[str], what: str) -> str:
    return f"{len(names)} {what}{'s' * (len(names) != 1)}"


def _names(names: list[str]) -> str:
    shown = ", ".join(repr(name[:80]) for name in names[:_SHOWN])
    return shown + (f" and {len(names) - _SHOWN} more" if len(names) > _SHOWN else "")


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
    own = _kept(version, warnings)
    tags = _within(tags, LIMITS["tags"] - len(own), "tag",
                   f"the limit of {LIMITS['tags']} tags, with the importer's own {len(own)}", warnings)
    tags.update(own)
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
