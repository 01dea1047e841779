"""SqliteRegistry shared by real processes: identity, gap-free revisions, change delivery, and SIGKILL."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from factories import metadata, wait_until
from fixtures.sqlite_backend import replay_and_check
from modelreg import RegistryEvent
from modelreg.stores.sqlite import SqliteRegistry

# Each child gets: argv[1] = database path, argv[2] = a tag, argv[3] = a count.
PRELUDE = """
import json, sys
from datetime import UTC, datetime
from modelreg import DuplicateVersionError, ModelMetadata, acting_as
from modelreg.stores.sqlite import SqliteRegistry
path, tag, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
def meta(i):
    return ModelMetadata(training_date=datetime(2026, 1, 5, tzinfo=UTC), artifact_path=f"s3://{tag}/{i}",
                         hyperparameters={"i": i, "tag": tag}, performance_metrics={"acc": i / 1000})
"""

RACE = PRELUDE + """
with SqliteRegistry(path) as registry:
    print("ready", flush=True)
    sys.stdin.readline()  # the parent's starting gun, so both race from the same moment
    for i in range(count):
        try:
            registry.register_model("race", f"1.{i}.0", meta(i))
            outcome = "won"
        except DuplicateVersionError:
            outcome = "duplicate"
        except Exception as exc:
            outcome = f"{type(exc).__module__}.{type(exc).__name__}: {exc}"
        print(json.dumps([i, outcome]), flush=True)
"""

DISTINCT = PRELUDE + """
print("ready", flush=True)
sys.stdin.readline()
with SqliteRegistry(path) as registry:  # all open the new file at once: the schema is made exactly once
    for i in range(count):
        registry.register_model("shared", f"{tag}.{i}.0", meta(i))
"""

WRITER = PRELUDE + """
with SqliteRegistry(path) as registry, acting_as(f"job-{tag}"):
    for i in range(count):
        registry.register_model(tag, f"1.{i}.0", meta(i))
        if i % 4 == 0:
            registry.set_alias(tag, "production", f"1.{i}.0")
    registry.unregister_model(tag, "1.1.0")
"""

CRASHER = PRELUDE + """
with SqliteRegistry(path) as registry:  # count is the round: each round writes its own major version
    for i in range(100_000):
        registry.register_model("crash", f"{count}.{i}.0", meta(i))
        print(f"{count}.{i}.0", flush=True)  # only once register_model has returned
        if i % 5 == 0:
            registry.set_alias("crash", "production", f"{count}.{i}.0")
"""


Spawn = Callable[[str, Path, str, int], subprocess.Popen[str]]


@pytest.fixture
def spawn() -> Iterator[Spawn]:
    """Start ``python -c code path tag count`` children; any still running at the end are killed."""
    children: list[subprocess.Popen[str]] = []

    def start(code: str, path: Path, tag: str, count: int) -> subprocess.Popen[str]:
        child = subprocess.Popen(
            [sys.executable, "-c", code, str(path), tag, str(count)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        children.append(child)
        return child

    yield start
    for child in children:
        if child.poll() is None:
            child.kill()
        for pipe in (child.stdin, child.stdout, child.stderr):
            if pipe is not None:
                pipe.close()
        child.wait(timeout=30)


def _start_together(children: list[subprocess.Popen[str]]) -> None:
    for child in children:
        assert child.stdout is not None and child.stdout.readline() == "ready\n"
    for child in children:
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()


def _finish(child: subprocess.Popen[str]) -> str:
    out, err = child.communicate(timeout=60)
    assert child.returncode == 0, err
    return out


def test_two_processes_registering_the_same_versions_exactly_one_wins_each(tmp_path: Path, spawn: Spawn) -> None:
    path = tmp_path / "reg.db"
    SqliteRegistry(path).close()  # schema in place, so both race on registrations only
    children = [spawn(RACE, path, tag, 30) for tag in ("a", "b")]
    _start_together(children)
    outcomes = [dict(json.loads(line) for line in _finish(child).splitlines()) for child in children]

    for i in range(30):
        assert sorted([outcomes[0][i], outcomes[1][i]]) == ["duplicate", "won"], f"1.{i}.0"
    with SqliteRegistry(path) as registry:
        assert len(registry.get_versions("race")) == 30
        for i in range(30):
            winner = "a" if outcomes[0][i] == "won" else "b"
            assert registry.get_metadata("race", f"1.{i}.0").artifact_path == f"s3://{winner}/{i}"
    assert replay_and_check(path).revision == 30


def test_four_processes_registering_distinct_versions_all_land_with_gap_free_revisions(
    tmp_path: Path, spawn: Spawn
) -> None:
    path = tmp_path / "new" / "reg.db"  # does not exist yet: the four create it together
    children = [spawn(DISTINCT, path, str(tag), 25) for tag in range(4)]
    _start_together(children)
    for child in children:
        _finish(child)

    state = replay_and_check(path)  # revisions are exactly 1..100
    assert state.revision == 100
    with SqliteRegistry(path) as registry:
        assert registry.get_versions("shared") == [f"{t}.{i}.0" for t in range(4) for i in range(25)]
        assert registry.get_metadata("shared", "3.24.0").hyperparameters == {"i": 24, "tag": "3"}


def test_subscriber_receives_another_processes_events_once_each_in_revision_order(tmp_path: Path, spawn: Spawn) -> None:
    path = tmp_path / "reg.db"
    seen: list[RegistryEvent] = []
    with SqliteRegistry(path) as registry, registry.subscribe(seen.append):
        child = spawn(WRITER, path, "remote", 20)
        for i in range(10):  # our own writes interleave with the child's
            registry.register_model("local", f"1.{i}.0", metadata())
        _finish(child)
        total = replay_and_check(path).revision
        assert wait_until(lambda: len(seen) >= total, timeout=10)
        history = registry.history("local") + registry.history("remote")

    assert [e.revision for e in seen] == list(range(1, total + 1))
    assert seen == sorted(history, key=lambda e: e.revision)
    assert {e.actor for e in seen if e.name == "remote"} == {"job-remote"}
    assert [e.kind for e in seen if e.name == "remote"].count("unregistered") == 1


def test_a_change_committed_by_another_process_is_visible_within_the_staleness_bound(
    tmp_path: Path, spawn: Spawn
) -> None:
    path = tmp_path / "reg.db"
    with SqliteRegistry(path, poll_interval=0.02) as registry:
        _finish(spawn(WRITER, path, "remote", 3))
        # The bound is poll_interval plus the time to apply the change; 2 s is a generous factor.
        assert wait_until(lambda: registry.get_versions("remote") == ["1.0.0", "1.2.0"], timeout=2.0)
        assert registry.resolve("remote", "production") == "1.0.0"

    with SqliteRegistry(path) as reopened:  # history lives in the file, not in a process
        assert [(e.kind, e.version, e.actor) for e in reopened.history("remote")] == [
            ("registered", "1.0.0", "job-remote"),
            ("alias_set", "1.0.0", "job-remote"),
            ("registered", "1.1.0", "job-remote"),
            ("registered", "1.2.0", "job-remote"),
            ("unregistered", "1.1.0", "job-remote"),
        ]


def _kill_while_registering(spawn: Spawn, path: Path, round_: int) -> list[str]:
    """Run CRASHER, SIGKILL it at a random moment; return the versions it reported as registered."""
    child = spawn(CRASHER, path, "crash", round_)
    assert child.stdout is not None and child.stderr is not None
    lines: list[str] = []
    reader = threading.Thread(target=lines.extend, args=(child.stdout,), daemon=True)
    reader.start()
    assert wait_until(lambda: len(lines) >= 5 or child.poll() is not None, timeout=30)
    time.sleep(random.uniform(0.05, 0.4))
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    reader.join(timeout=30)
    assert child.returncode == -signal.SIGKILL, child.stderr.read()
    return [line.strip() for line in lines]


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_every_registration_that_returned_survives_sigkill(tmp_path: Path, spawn: Spawn) -> None:
    path = tmp_path / "reg.db"
    reported: list[str] = []
    for round_ in range(3):  # three kills, each at a different moment of the write loop
        reported += _kill_while_registering(spawn, path, round_)

        state = replay_and_check(path)  # integrity_check ok; versions, aliases and events agree
        with SqliteRegistry(path) as registry:
            for version in reported:
                stored = registry.get_metadata("crash", version)
                i = int(version.split(".")[1])
                assert stored.artifact_path == f"s3://crash/{i}"
                assert stored.hyperparameters == {"i": i, "tag": "crash"}
                assert stored.performance_metrics == {"acc": i / 1000}
            assert registry.revision == state.revision
    assert len(reported) >= 15
