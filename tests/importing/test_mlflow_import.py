"""``import_mlflow`` and ``modelreg import mlflow`` against a real MLflow server, into every kind of backend.

MLflow's own client seeds the shared server (tests/fixtures/mlflow_source.py); each test
uses models of its own (a unique name prefix) and imports only those.
"""

from __future__ import annotations

import json
import sys
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from fixtures.mlflow_source import *  # noqa: F403
from modelreg import AliasPolicy, MemoryRegistry, ModelRegistry, import_mlflow
from modelreg.importing import ImportInterrupted
from support.clirun import run

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(1500),  # the first test's setup may install MLflow into its cached environment
    # MLflow's client warns about its own deprecated stages API, which the seeding uses on purpose.
    pytest.mark.filterwarnings("ignore::FutureWarning"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]


@pytest.fixture
def prefix() -> str:
    """A name prefix no other test's models share."""
    return f"t{uuid.uuid4().hex[:8]}-"


def _ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def add_version(client: Any, model: str, *, metrics: dict[str, float] | None = None,
                params: dict[str, str] | None = None, tags: dict[str, str] | None = None, description: str = "",
                source: str | None = None, stage: str | None = None, run: bool = True,
                end: datetime | None = datetime(2026, 3, 4, 5, 6, 7, 890000, tzinfo=UTC)) -> str:
    """One MLflow version (with a training run unless ``run`` is false), through MLflow's own client."""
    if not client.search_registered_models(filter_string=f"name = '{model}'"):
        client.create_registered_model(model)
    run_id = None
    if run:
        experiment = client.get_experiment_by_name("modelreg-tests") or None
        experiment_id = experiment.experiment_id if experiment else client.create_experiment("modelreg-tests")
        started = datetime(2026, 3, 4, 1, 0, 0, tzinfo=UTC)
        run_id = client.create_run(experiment_id, start_time=_ms(started)).info.run_id
        for key, value in (metrics or {}).items():
            client.log_metric(run_id, key, value)
        for key, value in (params or {}).items():
            client.log_param(run_id, key, value)
        if end is not None:
            client.set_terminated(run_id, end_time=_ms(end))
    version = client.create_model_version(model, source=source or f"runs:/{run_id}/model", run_id=run_id,
                                          tags=tags or {}, description=description)
    if stage is not None:
        client.transition_model_version_stage(model, version.version, stage)
    return str(version.version)


@pytest.fixture
def target(request: pytest.FixtureRequest) -> ModelRegistry:
    """The registry imported into: memory, SQLite, the suite's PostgreSQL or a server over HTTP."""
    return request.getfixturevalue(f"{request.param}_registry")  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def seeded(mlflow_server_process: Any) -> Any:
    """MLflow's client on the shared server, for module-wide seeding (the per-test ``mlflow_client`` cannot be)."""
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=mlflow_server_process.url, registry_uri=mlflow_server_process.url)


@pytest.fixture(scope="module")
def full_model(seeded: Any) -> str:
    """A registered model with every kind of field MLflow has, seeded once; tests only read it."""
    return seed_full(seeded, f"t{uuid.uuid4().hex[:8]}-fraud")


@pytest.fixture
def full(full_model: str, mlflow_url: str) -> str:
    """``full_model``'s name, with the server running (a test before may have stopped it)."""
    return full_model


def seed_full(c: Any, name: str) -> str:
    """Seed ``name``: a description and tags, four versions (runs, a NaN, stages, no run), two aliases."""
    c.create_registered_model(name, tags={"team": "risk", "tier": "1"}, description="Fraud scorer")
    add_version(c, name, metrics={"auc": 0.91, "loss": float("nan")}, params={"lr": "0.01", "depth": "8"},
                tags={"sem_ver": "1.0.0", "owner": "ana"}, description="first cut", stage="Archived")
    add_version(c, name, metrics={"auc": 0.95}, params={"lr": "0.02", "fast": "True", "opt": "adam"},
                tags={"sem_ver": "1.1.0"}, description="tuned", stage="Production")
    add_version(c, name, metrics={"auc": 0.96}, tags={"sem_ver": "1.2.0-rc.1"}, stage="Staging", end=None)
    add_version(c, name, run=False, source="s3://models/fraud/4", tags={"sem_ver": "2.0.0"})
    c.set_registered_model_alias(name, "champion", "2")
    c.set_registered_model_alias(name, "challenger", "4")
    return name


@pytest.mark.parametrize("target", ["memory", "sqlite", "postgresql", "http"], indirect=True)
def test_every_field_comes_over(target: ModelRegistry, full: str, mlflow_url: str, mlflow_client: Any) -> None:
    report = import_mlflow(target, mlflow_url, models=[full])
    assert [(v.mlflow_version, v.version, v.status) for v in report.versions] == [
        (1, "1.0.0", "imported"), (2, "2.0.0", "imported"), (3, "3.0.0", "imported"), (4, "4.0.0", "imported")]
    assert target.get_versions(full) == ["1.0.0", "2.0.0", "3.0.0", "4.0.0"]

    first = target.get_metadata(full, "1.0.0")
    run1 = mlflow_client.get_model_version(full, "1").run_id
    assert first.performance_metrics == {"auc": 0.91}  # the NaN is left out, and said so
    assert report.versions[0].warnings == (
        "metric 'loss' left out: performance_metrics['loss'] is nan; metrics must be finite numbers",)
    assert first.hyperparameters == {"lr": "0.01", "depth": "8"}  # MLflow's params are text, kept as text
    assert first.training_date == datetime(2026, 3, 4, 5, 6, 7, 890000, tzinfo=UTC)
    assert report.versions[0].training_date_source == "run end time"
    assert first.artifact_path == mlflow_client.get_model_version_download_uri(full, "1")
    assert first.description == "first cut"
    assert first.tags == {"sem_ver": "1.0.0", "owner": "ana", "mlflow.version": "1", "mlflow.run_id": run1,
                          "mlflow.source": f"runs:/{run1}/model", "mlflow.stage": "Archived"}

    third = target.get_metadata(full, "3.0.0")  # a run never ended: its start time
    assert third.training_date == datetime(2026, 3, 4, 1, 0, 0, tzinfo=UTC)
    assert report.versions[2].training_date_source == "run start time"
    fourth = target.get_metadata(full, "4.0.0")  # no run: the version's creation time, its source as artifact
    created = mlflow_client.get_model_version(full, "4").creation_timestamp
    assert fourth.training_date == datetime.fromtimestamp(created / 1000, UTC)
    assert report.versions[3].training_date_source == "version creation time"
    assert fourth.artifact_path == "s3://models/fraud/4"
    assert fourth.hyperparameters == {} and fourth.performance_metrics == {}

    assert target.get_aliases(full) == {"champion": "2.0.0", "challenger": "4.0.0", "production": "2.0.0",
                                        "staging": "3.0.0"}
    info = target.get_model(full)
    assert (info.description, dict(info.tags)) == ("Fraud scorer", {"team": "risk", "tier": "1"})


def test_a_tag_version_map_skips_invalid_and_colliding_versions(mlflow_client: Any, mlflow_url: str,
                                                                prefix: str) -> None:
    name = f"{prefix}m"
    for tag in ("1.0.0", "not-a-version", "v1.0.0+build.7", None, "1.1.0"):
        add_version(mlflow_client, name, tags={"sem_ver": tag} if tag else {}, metrics={"auc": 0.5})
    registry = MemoryRegistry()
    report = import_mlflow(registry, mlflow_url, models=[name], version_map="tag:sem_ver")
    assert [(v.mlflow_version, v.version, v.status) for v in report.versions] == [
        (1, "1.0.0", "imported"), (2, None, "skipped"), (3, "1.0.0+build.7", "skipped"), (4, None, "skipped"),
        (5, "1.1.0", "imported")]
    reasons = [v.reason for v in report.versions]
    assert "'not-a-version' is not a SemVer" in reasons[1]
    assert reasons[2] == "1.0.0+build.7 collides with MLflow version 1 of this import"
    assert reasons[3] == "it has no tag 'sem_ver' to take its SemVer from"
    assert registry.get_versions(name) == ["1.0.0", "1.1.0"]


def test_a_template_maps_the_number_and_a_version_registered_here_is_never_overwritten(
        mlflow_client: Any, mlflow_url: str, prefix: str, sqlite_registry: ModelRegistry) -> None:
    name = f"{prefix}m"
    add_version(mlflow_client, name)
    add_version(mlflow_client, name)
    sqlite_registry.register_model(name, "1.2.0", _metadata("s3://mine"))
    report = import_mlflow(sqlite_registry, mlflow_url, models=[name], version_map="template:1.{n}.0")
    assert [(v.version, v.status, v.reason) for v in report.versions] == [
        ("1.1.0", "imported", ""),
        ("1.2.0", "skipped", "1.2.0 collides with a version registered here, not from MLflow"),
    ]
    assert sqlite_registry.get_metadata(name, "1.2.0").artifact_path == "s3://mine"


def _metadata(path: str) -> Any:
    from modelreg import ModelMetadata

    return ModelMetadata(training_date=datetime(2026, 1, 1, tzinfo=UTC), artifact_path=path)


def test_parse_params_turns_numbers_and_booleans_into_json(mlflow_client: Any, mlflow_url: str, prefix: str) -> None:
    name = f"{prefix}m"
    add_version(mlflow_client, name, params={"lr": "0.01", "layers": "50", "fast": "True", "opt": "adam",
                                             "big": "1e400", "none": "None"})
    registry = MemoryRegistry()
    import_mlflow(registry, mlflow_url, models=[name], parse_params=True)
    assert registry.get_metadata(name, "1.0.0").hyperparameters == {
        "lr": 0.01, "layers": 50, "fast": True, "opt": "adam", "big": "1e400", "none": "None"}


def test_a_second_import_changes_nothing(full: str, mlflow_url: str, sqlite_registry: Any) -> None:
    import_mlflow(sqlite_registry, mlflow_url, models=[full])
    revision = sqlite_registry.revision
    again = import_mlflow(sqlite_registry, mlflow_url, models=[full])
    assert sqlite_registry.revision == revision
    assert {v.status for v in again.versions} == {"already_imported"}
    assert {a.status for a in again.aliases} == {"unchanged"}
    assert [(m.status, m.record) for m in again.models] == [("unchanged", "unchanged")]


def test_a_re_run_imports_only_the_new_versions(mlflow_url: str, mlflow_client: Any, prefix: str,
                                                postgresql_registry: Any) -> None:
    full = seed_full(mlflow_client, f"{prefix}fraud")  # its own: this test changes it in MLflow
    import_mlflow(postgresql_registry, mlflow_url, models=[full])
    add_version(mlflow_client, full, metrics={"auc": 0.97}, description="newest")
    mlflow_client.set_registered_model_alias(full, "candidate", "5")
    mlflow_client.set_registered_model_alias(full, "champion", "4")  # moved in MLflow: ours is left as it is
    revision = postgresql_registry.revision
    again = import_mlflow(postgresql_registry, mlflow_url, models=[full])
    assert [(v.mlflow_version, v.status) for v in again.versions] == [
        (1, "already_imported"), (2, "already_imported"), (3, "already_imported"), (4, "already_imported"),
        (5, "imported")]
    assert postgresql_registry.get_metadata(full, "5.0.0").description == "newest"
    assert postgresql_registry.revision == revision + 2  # the new version and its alias
    aliases = {a.alias: (a.status, a.reason) for a in again.aliases}
    assert aliases["candidate"] == ("set", "")
    assert aliases["champion"] == ("skipped", "alias 'champion' points at 2.0.0 here already; left as it is")
    assert postgresql_registry.get_aliases(full)["champion"] == "2.0.0"


def test_a_dry_run_reports_and_changes_nothing(full: str, mlflow_url: str, sqlite_registry: Any) -> None:
    report = import_mlflow(sqlite_registry, mlflow_url, models=[full], dry_run=True)
    assert sqlite_registry.revision == 0
    assert {v.status for v in report.versions} == {"would_import"}
    assert {a.status for a in report.aliases} == {"would_set"}
    assert [(m.status, m.record) for m in report.models] == [("would_import", "would_set")]


def test_no_stages_leaves_the_stages_out(full: str, mlflow_url: str) -> None:
    registry = MemoryRegistry()
    import_mlflow(registry, mlflow_url, models=[full], stages=False)
    assert registry.get_aliases(full) == {"champion": "2.0.0", "challenger": "4.0.0"}


def test_an_alias_our_policy_refuses_is_reported_not_forced(full: str, mlflow_url: str) -> None:
    registry = MemoryRegistry()
    import_mlflow(registry, mlflow_url, models=[full], stages=False)
    registry.set_alias_policy(full, "production", AliasPolicy(require=("metrics.auc >= 0.99",)))
    report = import_mlflow(registry, mlflow_url, models=[full])
    production = next(a for a in report.aliases if a.alias == "production")
    assert (production.status, production.version, production.origin) == ("skipped", "2.0.0", "stage Production")
    assert production.reason.startswith("refused by its policy: ")
    assert "metrics.auc >= 0.99" in production.reason
    assert "production" not in registry.get_aliases(full)
    assert registry.get_aliases(full)["staging"] == "3.0.0"  # the other alias still came over


def test_an_import_stopped_by_mlflow_going_away_is_finished_by_a_re_run(
        mlflow_client: Any, mlflow_url: str, mlflow_server_process: Any, prefix: str, sqlite_registry: Any) -> None:
    for model in ("a", "b"):
        for _ in range(3):
            add_version(mlflow_client, f"{prefix}{model}", metrics={"auc": 0.5})
    seen: list[str] = []

    def stop_after_the_first_model(kind: str, name: str, count: int) -> None:
        seen.append(kind)
        if kind == "version" and seen.count("version") == 3:
            mlflow_server_process.stop()

    with pytest.raises(ImportInterrupted) as stopped:
        import_mlflow(sqlite_registry, mlflow_url, models=[f"{prefix}*"], progress=stop_after_the_first_model)
    assert f"MLflow at {mlflow_url} failed to list the versions of '{prefix}b'" in str(stopped.value)
    assert stopped.value.report.counts()["imported"] == 3
    assert sqlite_registry.get_all_model_names() == [f"{prefix}a"]

    mlflow_server_process.start()
    report = import_mlflow(sqlite_registry, mlflow_url, models=[f"{prefix}*"])
    assert [(v.model[-1], v.status) for v in report.versions] == [
        ("a", "already_imported")] * 3 + [("b", "imported")] * 3
    assert sqlite_registry.get_versions(f"{prefix}b") == ["1.0.0", "2.0.0", "3.0.0"]


# -- the command ---------------------------------------------------------------------------


def test_the_command_prints_a_summary_and_json(full: str, mlflow_url: str, tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'reg.db'}"
    dry = run(url, "import", "mlflow", "--tracking-uri", mlflow_url, "--models", full, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "WOULD IMPORT" in dry.stdout and "dry run: nothing changed" in dry.stderr
    assert f"would set alias {full} production -> 2.0.0 (stage Production)" in dry.stdout
    assert json.loads(run(url, "--json", "models").stdout) == []

    done = run(url, "import", "mlflow", "--tracking-uri", mlflow_url, "--models", full, "--json")
    assert done.exit_code == 0, done.output
    body = json.loads(done.stdout)
    assert body["counts"] == {"imported": 4, "aliases_skipped": 0, "warnings": 1}
    assert [v["version"] for v in body["versions"]] == ["1.0.0", "2.0.0", "3.0.0", "4.0.0"]

    again = run(url, "import", "mlflow", "--tracking-uri", mlflow_url, "--models", full)
    assert again.exit_code == 0, again.output
    lines = again.stdout.splitlines()
    assert lines[0].split() == ["MODEL", "IMPORTED", "ALREADY", "SKIPPED", "WARNINGS"]
    assert lines[2].split() == [full, "0", "4", "0", "0"]


def test_an_unreachable_mlflow_is_one_line_and_exit_6(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: nothing answers there
        result = run("memory://", "import", "mlflow", "--tracking-uri", f"http://127.0.0.1:{port}")
    assert result.exit_code == 6
    assert result.stderr == (f"error: MLflow at http://127.0.0.1:{port} failed to list registered models: "
                             "cannot connect (Connection refused)\n")
    assert "Traceback" not in result.output



def test_a_run_mlflow_no_longer_has_reads_as_none_and_other_errors_raise(mlflow_url: str) -> None:
    from modelreg.importing import SourceError
    from modelreg.importing._source import MlflowSource

    source = MlflowSource(mlflow_url)
    assert source.run("0" * 32) is None
    with pytest.raises(SourceError, match="failed to resolve the download URI of 'no-such-model' version 1"):
        source.download_uri("no-such-model", 1)


def test_an_infinite_metric_logged_through_mlflow_is_left_out_not_stored_as_the_largest_float(
        mlflow_client: Any, mlflow_url: str, prefix: str) -> None:
    name = f"{prefix}m"
    add_version(mlflow_client, name, metrics={"acc": float("inf"), "neg": float("-inf"), "ok": 0.5})
    assert mlflow_client.get_run(mlflow_client.get_model_version(name, "1").run_id).data.metrics["acc"] == (
        sys.float_info.max)  # what MLflow's SQL store keeps and returns for inf
    registry = MemoryRegistry()
    report = import_mlflow(registry, mlflow_url, models=[name])
    assert registry.get_metadata(name, "1.0.0").performance_metrics == {"ok": 0.5}
    assert sorted(w.split(" (")[0] for w in report.versions[0].warnings) == [
        "metric 'acc' left out: it is inf in MLflow", "metric 'neg' left out: it is -inf in MLflow"]


def test_a_version_skipped_for_its_metadata_leaves_its_semver_to_the_next_one(
        mlflow_client: Any, mlflow_url: str, prefix: str) -> None:
    name = f"{prefix}m"
    add_version(mlflow_client, name, tags={"sem_ver": "1.0.0"}, description="d" * 10_001)  # too long to store
    add_version(mlflow_client, name, tags={"sem_ver": "1.0.0"}, description="fixed")
    registry = MemoryRegistry()
    report = import_mlflow(registry, mlflow_url, models=[name], version_map="tag:sem_ver")
    assert [(v.mlflow_version, v.status, v.reason) for v in report.versions] == [
        (1, "skipped", "description is 10001 characters; the limit is 10000"), (2, "imported", "")]
    assert registry.get_metadata(name, "1.0.0").description == "fixed"
    again = import_mlflow(registry, mlflow_url, models=[name], version_map="tag:sem_ver")
    assert [(v.mlflow_version, v.status, v.reason) for v in again.versions] == [
        (1, "skipped", "1.0.0 collides with MLflow version 2 imported before"), (2, "already_imported", "")]


def test_an_mlflow_version_tag_of_non_ascii_digits_here_is_not_taken_for_a_number(
        mlflow_client: Any, mlflow_url: str, prefix: str) -> None:
    from modelreg import ModelMetadata

    name = f"{prefix}m"
    add_version(mlflow_client, name)
    registry = MemoryRegistry()
    registry.register_model(name, "9.0.0", ModelMetadata(training_date=datetime(2026, 1, 1, tzinfo=UTC),
                                                         artifact_path="s3://mine", tags={"mlflow.version": "²"}))
    report = import_mlflow(registry, mlflow_url, models=[name])
    assert [(v.mlflow_version, v.version, v.status) for v in report.versions] == [(1, "1.0.0", "imported")]


@pytest.mark.parametrize("uri", ["htps://x", "existing-dir"])
def test_a_tracking_uri_mlflows_client_refuses_is_one_line_and_exit_6(uri: str, tmp_path: Any,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    if uri == "existing-dir":  # MLflow 3 refuses its file store ('./mlruns') when its client is made
        monkeypatch.chdir(tmp_path)
        (tmp_path / "mlruns").mkdir()
        uri = "./mlruns"
    result = run("memory://", "import", "mlflow", "--tracking-uri", uri)
    assert result.exit_code == 6, result.output
    assert result.stderr.startswith(f"error: MLflow at {uri} failed to open its client: ")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.output


@pytest.mark.parametrize(("form", "kind"), [("sqlite:///{}", "database file"), ("{}", "directory"),
                                            ("file://{}", "directory")])
def test_a_local_tracking_uri_that_does_not_exist_is_refused_and_never_created(
        form: str, kind: str, tmp_path: Any) -> None:
    from modelreg.importing import SourceError

    missing = tmp_path / "typo.db"
    uri = form.format(missing)
    with pytest.raises(SourceError) as refused:
        import_mlflow(MemoryRegistry(), uri, dry_run=True)
    assert str(refused.value).startswith(
        f"MLflow tracking URI {uri!r} names a {kind} that does not exist ({missing}); ")
    assert list(tmp_path.iterdir()) == []
    result = run("memory://", "import", "mlflow", "--tracking-uri", uri, "--dry-run")
    assert (result.exit_code, result.stderr) == (6, f"error: {refused.value}\n")
    assert list(tmp_path.iterdir()) == []
