"""``import_mlflow``: plan each model's import from MLflow, then apply it through the ``ModelRegistry`` interface.

Writes go through the interface only, so an import works into every backend (memory,
SQLite, PostgreSQL, a server through the client). A re-run matches what it imported
before by the ``mlflow.version`` tag: it imports only new versions, sets only aliases
that are missing here, and fills in only an empty model description and missing tags;
what is here already is never overwritten.
"""

from __future__ import annotations

import fnmatch
import itertools
import re
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from ..errors import DuplicateVersionError, InvalidNameError, InvalidVersionError, PolicyError, RegistryError
from ..metadata import ModelMetadata
from ..names import validate_alias, validate_name
from ..registry import ModelRegistry
from ..semver import parse_version
from ._mapping import Built, VersionMap, build_metadata, checked_tags
from ._report import AliasOutcome, ImportReport, ModelOutcome, VersionOutcome
from ._source import MlflowSource, SourceError, SourceModel, SourceRun, SourceVersion

__all__ = ["Progress", "import_mlflow"]

Progress = Callable[[str, str, int], None]
"""Told ``("models", "", count)`` once, ``("model", name, versions)`` per model, ``("version", name, 1)`` each."""

STAGE_ALIASES = {"Production": "production", "Staging": "staging"}
_FETCHERS = 8  # concurrent reads of runs and download URIs: each is one round trip to MLflow
_AHEAD = 4 * _FETCHERS  # versions read ahead of the one being written
_SEARCH_PAGE = 1000
_NUMBER = re.compile(r"[0-9]{1,18}", re.ASCII)  # str.isdigit() takes "²", which int() refuses


@dataclass
class _Progress:
    """The partial report, kept as the import goes so a failure can say what was done."""

    tracking_uri: str
    version_map: str
    dry_run: bool
    models: list[ModelOutcome] = field(default_factory=list)
    versions: list[VersionOutcome] = field(default_factory=list)
    aliases: list[AliasOutcome] = field(default_factory=list)

    def report(self) -> ImportReport:
        return ImportReport(self.tracking_uri, self.version_map, self.dry_run,
                            tuple(self.models), tuple(sorted(self.versions, key=_order)), tuple(self.aliases))


def _order(outcome: VersionOutcome) -> tuple[str, int]:
    return outcome.model, outcome.mlflow_version


class ImportInterrupted(SourceError):
    """MLflow failed part way; ``report`` holds what was imported before (it stays: run the import again)."""

    def __init__(self, message: str, report: ImportReport) -> None:
        super().__init__(message)
        self.report = report


def import_mlflow(
    registry: ModelRegistry,
    tracking_uri: str,
    *,
    models: Sequence[str] = ("*",),
    version_map: VersionMap | str = "default",
    parse_params: bool = False,
    stages: bool = True,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """Bring the registered models matching ``models`` (globs) from MLflow at ``tracking_uri`` into ``registry``.

    See docs/migrate-from-mlflow.md. ImportInterrupted (a SourceError) if MLflow fails part way.
    """
    vmap = version_map if isinstance(version_map, VersionMap) else VersionMap.parse(version_map)
    tell = progress or (lambda _kind, _name, _count: None)
    done = _Progress(tracking_uri, str(vmap), dry_run)
    source = MlflowSource(tracking_uri)
    try:
        chosen = [m for m in source.models() if any(fnmatch.fnmatchcase(m.name, g) for g in models)]
        tell("models", "", len(chosen))
        pool = ThreadPoolExecutor(_FETCHERS, thread_name_prefix="mlflow-read")
        try:
            for model in sorted(chosen, key=lambda m: m.name):
                _ModelImport(registry, source, pool, model, vmap, parse_params, stages, dry_run, done, tell).run()
        finally:  # after a failure, reads not yet started are dropped, not each left to time out
            pool.shutdown(wait=True, cancel_futures=True)
    except SourceError as exc:
        raise ImportInterrupted(str(exc), done.report()) from exc
    return done.report()


class _ModelImport:
    """The import of one registered model: its versions, then its aliases, then its record."""

    def __init__(self, registry: ModelRegistry, source: MlflowSource, pool: ThreadPoolExecutor, model: SourceModel,
                 vmap: VersionMap, parse_params: bool, stages: bool, dry_run: bool, done: _Progress,
                 tell: Progress) -> None:
        self.registry, self.source, self.pool, self.model = registry, source, pool, model
        self.vmap, self.parse_params, self.stages, self.dry_run = vmap, parse_params, stages, dry_run
        self.done, self.tell = done, tell
        self.ours: dict[int, str] = {}  # MLflow version number -> our version, imported now or before
        self.taken: dict[str, str] = {}  # SemVer identity -> who holds it here, for the collision message
        self.changed = False

    def run(self) -> None:
        name = self.model.name
        try:
            validate_name(name)
        except InvalidNameError as exc:
            self.tell("model", name, 0)
            self.done.models.append(ModelOutcome(name, "skipped", str(exc)))
            return
        versions = self.source.versions(name)
        self.tell("model", name, len(versions))
        todo = self._match(versions)
        for version, target, built in self._fetched(todo):
            self._register(version, target, built)
        self._aliases(versions)
        status = "unchanged" if not self.changed else ("would_import" if self.dry_run else "imported")
        record, warnings = self._record()
        self.done.models.append(ModelOutcome(name, status, "", record, warnings))

    def _existing(self) -> Iterator[tuple[str, ModelMetadata]]:
        cursor: str | None = None
        while True:
            page = self.registry.search(name=self.model.name, limit=_SEARCH_PAGE, cursor=cursor)
            yield from ((item.version, item.metadata) for item in page.items)
            cursor = page.next_cursor
            if cursor is None:
                return

    def _match(self, versions: list[SourceVersion]) -> list[tuple[SourceVersion, str]]:
        """Each version's SemVer; the ones imported before, unmappable or taken here already are reported here.

        A SemVer is claimed only when its version is written (``_register``), so a version
        skipped later (its metadata) leaves its SemVer to the next MLflow version mapped to it.
        """
        for canonical, meta in self._existing():
            number = meta.tags.get("mlflow.version", "")
            if _NUMBER.fullmatch(number):
                self.ours[int(number)] = canonical
            self.taken[parse_version(canonical).identity] = (
                f"MLflow version {number} imported before" if number else "a version registered here, not from MLflow"
            )
        todo: list[tuple[SourceVersion, str]] = []
        for version in versions:
            if version.number in self.ours:
                self._outcome(version, self.ours[version.number], "already_imported")
                continue
            if version.status != "READY":
                self._outcome(version, None, "skipped", f"its MLflow status is {version.status}, not READY")
                continue
            try:
                target = self.vmap.semver(version)
            except InvalidVersionError as exc:
                self._outcome(version, None, "skipped", str(exc))
                continue
            identity = parse_version(target).identity
            if identity in self.taken:
                self._outcome(version, target, "skipped", f"{target} collides with {self.taken[identity]}")
                continue
            todo.append((version, target))
        return todo

    def _fetched(self, todo: list[tuple[SourceVersion, str]]) -> Iterator[tuple[SourceVersion, str, Built]]:
        """The versions to import with their metadata, read concurrently from MLflow, in order."""

        def fetch(item: tuple[SourceVersion, str]) -> tuple[SourceVersion, str, Built]:
            version, target = item
            run: SourceRun | None = self.source.run(version.run_id) if version.run_id else None
            uri = self.source.download_uri(self.model.name, version.number)
            built = build_metadata(version, run, uri, parse_params=self.parse_params)
            if version.run_id and run is None:
                gone = f"run {version.run_id} no longer exists in MLflow: no metrics or params"
                built = Built(built.metadata, built.reason, (gone, *built.warnings), built.date_source)
            return version, target, built

        items = iter(todo)
        window: deque[Future[tuple[SourceVersion, str, Built]]] = deque(
            self.pool.submit(fetch, item) for item in itertools.islice(items, _AHEAD)
        )
        try:
            while window:
                fetched = window.popleft().result()
                for item in itertools.islice(items, 1):  # keep _AHEAD reads in flight, no more
                    window.append(self.pool.submit(fetch, item))
                yield fetched
        finally:
            for future in window:
                future.cancel()

    def _register(self, version: SourceVersion, target: str, built: Built) -> None:
        if built.metadata is None:
            self._outcome(version, target, "skipped", built.reason, built)
            return
        identity = parse_version(target).identity
        if identity in self.taken:  # a lower MLflow version of this import was written with it
            self._outcome(version, target, "skipped", f"{target} collides with {self.taken[identity]}", built)
            return
        if not self.dry_run:
            try:
                self.registry.register_model(self.model.name, target, built.metadata)
            except DuplicateVersionError as exc:  # registered by someone else since we looked
                self._outcome(version, target, "skipped", str(exc), built)
                return
        self.ours[version.number] = target
        self.taken[identity] = f"MLflow version {version.number} of this import"
        self.changed = True
        self._outcome(version, target, "would_import" if self.dry_run else "imported", "", built)

    def _outcome(self, version: SourceVersion, target: str | None, status: str, reason: str = "",
                 built: Built | None = None) -> None:
        warnings, source = (built.warnings, built.date_source) if built is not None else ((), "")
        self.done.versions.append(
            VersionOutcome(self.model.name, version.number, target, status, reason, warnings, source)
        )
        self.tell("version", self.model.name, 1)

    def _wanted(self, versions: list[SourceVersion]) -> dict[str, tuple[int, str, list[str]]]:
        """Alias -> (MLflow version number, origin, notes): the stages' aliases first, then MLflow's own win."""
        wanted: dict[str, tuple[int, str, list[str]]] = {}
        if self.stages:
            for stage, alias in STAGE_ALIASES.items():
                numbers = sorted(v.number for v in versions if v.stage == stage)
                if numbers:
                    notes = [f"MLflow versions {', '.join(map(str, numbers[:-1]))} were in stage {stage} too"
                             ] if len(numbers) > 1 else []
                    wanted[alias] = (numbers[-1], f"stage {stage}", notes)
        for alias, number in sorted(self.model.aliases.items()):
            notes = []
            if alias in wanted and wanted[alias][0] != number:
                notes.append(f"MLflow alias {alias!r} wins over stage {wanted[alias][1].split()[-1]} "
                             f"(version {wanted[alias][0]})")
            wanted[alias] = (number, "alias", notes)
        return wanted

    def _aliases(self, versions: list[SourceVersion]) -> None:
        wanted = self._wanted(versions)
        if not wanted:
            return
        here = self.registry.get_aliases(self.model.name) if self.registry.get_versions(self.model.name) else {}
        for alias, (number, origin, notes) in sorted(wanted.items()):
            target = self.ours.get(number)
            outcome = AliasOutcome(self.model.name, alias, target, "skipped", origin)
            if target is None:
                self.done.aliases.append(_replace(outcome, "skipped", "; ".join(
                    [f"its MLflow version {number} was not imported", *notes])))
                continue
            reason = self._alias_problem(alias, target, here.get(alias))
            if reason == "unchanged":
                self.done.aliases.append(_replace(outcome, "unchanged", "; ".join(notes)))
            elif reason:
                self.done.aliases.append(_replace(outcome, "skipped", "; ".join([reason, *notes])))
            else:
                status = "would_set" if self.dry_run else self._set(alias, target, outcome)
                if status is not None:
                    self.changed = self.changed or not self.dry_run
                    self.done.aliases.append(_replace(outcome, status, "; ".join(notes)))

    def _alias_problem(self, alias: str, target: str, current: str | None) -> str:
        try:
            validate_alias(alias)
        except InvalidNameError as exc:
            return str(exc)
        if current == target:
            return "unchanged"
        if current is not None:
            return f"alias {alias!r} points at {current} here already; left as it is"
        return ""

    def _set(self, alias: str, target: str, outcome: AliasOutcome) -> str | None:
        try:
            self.registry.set_alias(self.model.name, alias, target)
        except PolicyError as exc:  # a policy here decides; the import reports, never forces
            self.done.aliases.append(_replace(outcome, "skipped", f"refused by its policy: {exc}"))
            return None
        return "set"

    def _record(self) -> tuple[str, tuple[str, ...]]:
        """Fill in the model record: its description when ours is empty, tags we do not have. Never overwrite."""
        if not self.ours or (not self.model.description and not self.model.tags):
            return "", ()
        warnings: list[str] = []
        tags = checked_tags(self.model.tags, "model tag", warnings)
        mine_desc, mine_tags = "", {}
        if self.registry.get_versions(self.model.name):
            info = self.registry.get_model(self.model.name)
            mine_desc, mine_tags = info.description, dict(info.tags)
        description = self.model.description if not mine_desc and self.model.description else None
        new_tags = {k: v for k, v in tags.items() if k not in mine_tags}
        if description is None and not new_tags:
            return "unchanged", tuple(warnings)
        if self.dry_run:
            return "would_set", tuple(warnings)
        try:
            self.registry.annotate_model(self.model.name, description=description, set_tags=new_tags)
        except RegistryError as exc:
            warnings.append(f"model record not set: {exc}")
            return "skipped", tuple(warnings)
        return "set", tuple(warnings)


def _replace(outcome: AliasOutcome, status: str, reason: str) -> AliasOutcome:
    return AliasOutcome(outcome.model, outcome.alias, outcome.version, status, outcome.origin, reason)
