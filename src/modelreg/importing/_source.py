"""Reading an MLflow registry through MLflow's own client, into plain frozen values.

mlflow is imported lazily, here only, so ``import modelreg`` never pulls it in. Every
error MLflow raises (unreachable, refused, not found) becomes one ``SourceError`` at
this boundary, with the cause chained.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..errors import RegistryError

__all__ = ["MlflowSource", "SourceError", "SourceModel", "SourceRun", "SourceVersion"]

_SOCKET_ERROR = re.compile(r"Failed to establish a new connection: \[Errno -?[0-9]+\] ([^'\")]+)")
_NAMED_URIS = ("databricks", "databricks-uc")  # MLflow reads these bare words as workspaces, not paths
_PAGE = 1000  # registered models and versions per request (MLflow's search limits allow both)


class SourceError(RegistryError):
    """MLflow could not be read (unreachable, auth refused, or an error it reported); the cause is chained."""


@dataclass(frozen=True, slots=True)
class SourceRun:
    """What a version takes from its training run: latest metric values, params, times (ms since the epoch)."""

    metrics: Mapping[str, float]
    params: Mapping[str, str]
    start_time: int | None
    end_time: int | None


@dataclass(frozen=True, slots=True)
class SourceVersion:
    """One MLflow model version as the importer needs it."""

    number: int
    description: str
    tags: Mapping[str, str]
    stage: str  # MLflow's deprecated stage: None, Staging, Production, Archived
    source: str
    run_id: str
    created_ms: int | None
    status: str = "READY"  # PENDING_REGISTRATION and FAILED_REGISTRATION have no model to import yet


@dataclass(frozen=True, slots=True)
class SourceModel:
    """One registered model: its record and its aliases (alias -> MLflow version number)."""

    name: str
    description: str
    tags: Mapping[str, str]
    aliases: Mapping[str, int] = field(default_factory=dict)


def _client_class() -> Any:
    try:
        with warnings.catch_warnings():  # a foreign package's import-time warnings are not ours to fail on
            warnings.simplefilter("ignore")
            from mlflow.tracking import MlflowClient
    except ImportError as exc:
        raise SourceError(
            f"MLflow's client is not installed ({exc}); install it with: pip install 'modelreg[mlflow]'"
        ) from exc
    return MlflowClient


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    refused = _SOCKET_ERROR.search(text)
    if refused is not None:  # urllib3's retry chain names the URL and the pool; the socket's reason is the news
        return f"cannot connect ({refused[1]})"
    return text if len(text) <= 300 else text[:297] + "..."


def _local_store(tracking_uri: str) -> tuple[str, Path] | None:
    """The local file (``sqlite:``) or directory (``file:`` or a plain path) a tracking URI names, if it names one."""
    parts = urlsplit(tracking_uri)
    if tracking_uri in _NAMED_URIS:
        return None
    if parts.scheme.startswith("sqlite"):  # sqlite:///relative.db, sqlite:////absolute.db; sqlite:// is in memory
        path = tracking_uri.split("://", 1)[-1].removeprefix("/").partition("?")[0]
        return ("database file", Path(path)) if path else None
    if parts.scheme == "file":
        return "directory", Path(parts.path)
    if not parts.scheme or len(parts.scheme) == 1:  # a plain path (a drive letter reads as a one-letter scheme)
        return "directory", Path(tracking_uri)
    return None


def _check_exists(tracking_uri: str) -> None:
    """Refuse a local store that is not there: MLflow's client would create (and migrate) an empty one."""
    store = _local_store(tracking_uri)
    if store is None:
        return
    kind, path = store
    if not (path.is_file() if kind == "database file" else path.is_dir()):
        raise SourceError(
            f"MLflow tracking URI {tracking_uri!r} names a {kind} that does not exist ({path}); "
            "give the path of an existing MLflow store (an import never creates one) or the server's http(s):// URL"
        )


class MlflowSource:
    """An MLflow tracking server (or any tracking URI) read through ``MlflowClient``."""

    def __init__(self, tracking_uri: str) -> None:
        self.tracking_uri = tracking_uri
        _check_exists(tracking_uri)
        client = _client_class()
        self._client = self._call("open its client", client, tracking_uri=tracking_uri, registry_uri=tracking_uri)

    def _call(self, what: str, func: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return func(*args, **kwargs)
        except Exception as exc:  # MlflowException, requests' errors, ...: MLflow's to name, ours to report once
            raise SourceError(f"MLflow at {self.tracking_uri} failed to {what}: {_one_line(exc)}") from exc

    def models(self) -> Iterator[SourceModel]:
        """Every registered model, page by page."""
        token: str | None = None
        while True:
            page = self._call("list registered models", self._client.search_registered_models,
                              max_results=_PAGE, page_token=token)
            for model in page:
                yield SourceModel(
                    name=model.name,
                    description=model.description or "",
                    tags=dict(model.tags or {}),
                    aliases={alias: int(number) for alias, number in (model.aliases or {}).items()},
                )
            token = page.token
            if not token:
                return

    def versions(self, name: str) -> list[SourceVersion]:
        """Every version of one model, by MLflow version number."""
        quoted = "'" + name.replace("'", "\\'") + "'"
        found: list[SourceVersion] = []
        token: str | None = None
        while True:
            page = self._call(f"list the versions of {name!r}", self._client.search_model_versions,
                              filter_string=f"name = {quoted}", max_results=_PAGE, page_token=token)
            found.extend(
                SourceVersion(
                    number=int(v.version),
                    description=v.description or "",
                    tags=dict(v.tags or {}),
                    stage=v.current_stage or "None",
                    source=v.source or "",
                    run_id=v.run_id or "",
                    created_ms=v.creation_timestamp,
                    status=str(v.status or "READY"),
                )
                for v in page
                if v.name == name
            )
            token = page.token
            if not token:
                return sorted(found, key=lambda v: v.number)

    def run(self, run_id: str) -> SourceRun | None:
        """The training run's latest metric values, params and times; None if MLflow no longer has the run."""
        try:
            run = self._call(f"read run {run_id}", self._client.get_run, run_id)
        except SourceError as exc:
            if getattr(exc.__cause__, "error_code", None) == "RESOURCE_DOES_NOT_EXIST":
                return None
            raise
        return SourceRun(
            metrics=dict(run.data.metrics),
            params=dict(run.data.params),
            start_time=run.info.start_time,
            end_time=run.info.end_time,
        )

    def download_uri(self, name: str, number: int) -> str:
        """Where the version's artifacts are downloaded from (MLflow resolves ``models:/`` and run URIs)."""
        uri = self._call(f"resolve the download URI of {name!r} version {number}",
                         self._client.get_model_version_download_uri, name, str(number))
        return str(uri or "")
