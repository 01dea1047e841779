"""The snapshot's transition rules: one function per event kind, and a bulk ``advance`` equal to applying one by one."""

from __future__ import annotations

import importlib.util
import sys
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from factories import metadata
from modelreg import _transitions as transitions
from modelreg import events
from modelreg._state import RegistryState
from modelreg._transitions import TRANSITIONS, Change, advance, apply
from modelreg.events import EVENT_KINDS

_META = metadata()


def test_advance_gives_the_same_state_as_applying_one_change_at_a_time() -> None:
    meta = metadata()
    steps: list[tuple[Change, int]] = []
    for i in range(150):
        version = f"{i % 5}.{i}.0-rc.{i % 2}" if i % 4 else f"{i % 5}.{i}.0+b{i}"
        steps.append((Change("registered", f"m{i % 2}", version, None, meta.with_version(version)), len(steps) + 1))
    steps.append((Change("alias_set", "m0", steps[0][0].version, "production"), len(steps) + 1))
    steps.append((Change("unregistered", "m1", steps[1][0].version), len(steps) + 1))
    base = len(steps)
    steps += [(change, base + 1 + n) for n, (change, _) in enumerate(steps[2:100])]  # replays: already there
    one_by_one = RegistryState()
    for change, revision in steps:
        one_by_one = apply(one_by_one, change, revision)

    assert advance(RegistryState(), steps) == one_by_one


_names = st.sampled_from(["a", "b", "c"])
_versions = st.builds(
    lambda major, minor, build: f"{major}.{minor}.0" + (f"+b{build}" if build else ""),
    st.integers(0, 2), st.integers(0, 40), st.integers(0, 2),
)
_aliases = st.sampled_from(["production", "staging"])


def _registered(name: str, version: str) -> Change:
    return Change("registered", name, version, None, _META.with_version(version))


_one = st.one_of(
    st.builds(_registered, _names, _versions),
    st.builds(lambda n, v: Change("unregistered", n, v), _names, _versions),
    st.builds(lambda n, v, a: Change("alias_set", n, v, a), _names, _versions, _aliases),
    st.builds(lambda n, a: Change("alias_removed", n, None, a), _names, _aliases),
)
# Long runs of registrations take advance's bulk path; single changes between them the one-by-one path.
_run = st.lists(st.builds(_registered, _names, _versions), min_size=64, max_size=90)
_blocks = st.lists(st.one_of(_one.map(lambda change: [change]), _run), max_size=12)


@given(_blocks)
def test_replaying_random_events_one_by_one_and_in_bulk_gives_equal_states(blocks: list[list[Change]]) -> None:
    steps = [(change, revision) for revision, change in enumerate((c for block in blocks for c in block), 1)]
    one_by_one = RegistryState()
    for change, revision in steps:
        one_by_one = apply(one_by_one, change, revision)

    assert advance(RegistryState(), steps) == one_by_one
    assert one_by_one.revision == len(steps)
    assert list(one_by_one.names) == sorted(one_by_one.models)


def test_every_event_kind_has_exactly_one_transition() -> None:
    assert sorted(TRANSITIONS) == sorted(EVENT_KINDS)
    assert len(set(TRANSITIONS.values())) == len(EVENT_KINDS)


def test_an_event_kind_without_a_transition_fails_at_import(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = importlib.util.spec_from_file_location("modelreg._transitions_probe", transitions.__file__)
    assert spec is not None and spec.loader is not None
    probe = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, probe)  # dataclasses look their module up there
    monkeypatch.setattr(events, "EVENT_KINDS", (*EVENT_KINDS, "renamed"))

    with pytest.raises(ImportError, match="renamed"):
        spec.loader.exec_module(probe)


def test_a_transition_leaves_the_state_it_was_given_untouched() -> None:
    before = apply(RegistryState(), _registered("m", "1.0.0"), 1)
    models = dict(before.models)

    after = apply(before, Change("alias_set", "m", "1.0.0", "production"), 2)
    after = apply(after, Change("unregistered", "m", "1.0.0"), 3)

    assert before.models == models and before.revision == 1
    assert before.model("m").aliases == {}
    assert after.models == {} and after.revision == 3


_T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _at(change: Change, minute: int, actor: str | None = None) -> Change:
    return change.stamped(_T0 + timedelta(minutes=minute), actor)


_annotation = st.builds(
    lambda n, v, key, value: Change(
        "annotated", n, v, None, None, {"add_metrics": {key: value}, "set_tags": {key: "x"}}
    ),
    _names, _versions, st.sampled_from(["a", "b", "c"]), st.floats(0, 1),
)
_model_annotation = st.builds(
    lambda n, text: Change("model_annotated", n, None, None, None, {"description": text}),
    _names,
    st.text("abc ", max_size=5),
)
_stamped_blocks = st.lists(
    st.one_of(_one, _annotation, _model_annotation).map(lambda change: [change]) | _run, max_size=12
)


@given(_stamped_blocks)
def test_with_times_and_annotations_one_by_one_and_bulk_still_agree(blocks: list[list[Change]]) -> None:
    changes = [c for block in blocks for c in block]
    steps = [(_at(change, revision, f"a{revision}"), revision) for revision, change in enumerate(changes, 1)]
    one_by_one = RegistryState()
    for change, revision in steps:
        one_by_one = apply(one_by_one, change, revision)
    assert advance(RegistryState(), steps) == one_by_one
    for model in one_by_one.models.values():  # the records always say what the versions and aliases say
        assert sorted(model.records) == sorted(model.versions)
        for version, record in model.records.items():
            assert record.metadata is model.versions[version]
            assert record.aliases == tuple(sorted(a for a, v in model.aliases.items() if v == version))


def test_records_take_the_registration_time_and_actor_and_the_model_its_first_and_last_change() -> None:
    state = apply(RegistryState(), _at(_registered("m", "1.0.0"), 1, "ci"), 1)
    state = apply(state, _at(_registered("m", "2.0.0"), 2), 2)
    state = apply(state, _at(Change("alias_set", "m", "1.0.0", "production"), 3), 3)
    model = state.model("m")
    first = model.records["1.0.0"]
    assert (first.registered_at, first.registered_by) == (_T0 + timedelta(minutes=1), "ci")
    assert model.records["2.0.0"].registered_by is None
    assert (model.created_at, model.updated_at) == (_T0 + timedelta(minutes=1), _T0 + timedelta(minutes=3))


def test_an_alias_move_rebuilds_the_records_of_both_versions() -> None:
    state = apply(RegistryState(), _registered("m", "1.0.0"), 1)
    state = apply(state, _registered("m", "2.0.0"), 2)
    state = apply(state, Change("alias_set", "m", "1.0.0", "production"), 3)
    state = apply(state, Change("alias_set", "m", "2.0.0", "production"), 4)
    records = state.model("m").records
    assert (records["1.0.0"].aliases, records["2.0.0"].aliases) == ((), ("production",))


def test_an_annotation_applied_twice_gives_the_same_metadata_as_once() -> None:
    state = apply(RegistryState(), _registered("m", "1.0.0"), 1)
    change = Change("annotated", "m", "1.0.0", None, None, {"add_metrics": {"new": 0.5}, "remove_tags": ["team"]})
    once = apply(state, change, 2)
    twice = apply(once, change, 2)
    assert twice.model("m").versions == once.model("m").versions
    assert once.model("m").versions["1.0.0"].performance_metrics["new"] == 0.5
